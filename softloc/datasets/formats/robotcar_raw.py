"""Reader of one Oxford RobotCar traversal folder in the raw layout (real download or synthetic).

Layout (RobotCar dataset SDK and documentation):
    <traversal>/stereo.timestamps          "<timestamp_us> <chunk>" per line
    <traversal>/stereo/centre/<ts>.png     8-bit single-channel Bayer mosaic, pattern GBRG
                                           (the SDK's BAYER_STEREO = 'gbrg': row 0 = G B G B ...,
                                           row 1 = R G R G ...)
    <traversal>/gps/ins.csv                NovAtel INS at 50 Hz; positions in UTM metres,
                                           roll/pitch/yaw in radians (yaw clockwise from north)

Poses are the INS pose interpolated at each image timestamp (as the SDK's interpolate_ins_poses
does), reported in UTM metres and degrees. The camera-to-INS lever arm (about a metre) is ignored,
as in the localization literature that uses these poses.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

# Every column of RobotCar's gps/ins.csv, in file order.
INS_COLUMNS = (
    "timestamp", "ins_status", "latitude", "longitude", "altitude", "northing", "easting", "down",
    "utm_zone", "velocity_north", "velocity_east", "velocity_down", "roll", "pitch", "yaw",
)
# The columns softloc needs; a file lacking one of them is rejected.
INS_REQUIRED = ("timestamp", "ins_status", "latitude", "longitude", "northing", "easting", "yaw")
# Numeric INS columns that a pose needs; a row with NaN in any of them is not a usable pose.
INS_POSE_COLUMNS = ("latitude", "longitude", "northing", "easting", "yaw")

# OpenCV code for RobotCar's stereo pattern; OpenCV 5 names Bayer codes by the top-left 2x2 cell
# (its older two-letter alias for the same code is COLOR_BayerGR2RGB).
BAYER_STEREO_TO_RGB = cv2.COLOR_BayerGBRG2RGB

TIMESTAMPS_FILE = "stereo.timestamps"
INS_FILE = os.path.join("gps", "ins.csv")
IMAGE_DIR = os.path.join("stereo", "centre")


def image_relpath(traversal: str, timestamp: int) -> str:
    """Path of one stereo-centre image relative to the dataset root (always '/'-separated)."""
    return f"{traversal}/stereo/centre/{int(timestamp)}.png"


def read_traversal_timestamps(folder: str | os.PathLike) -> np.ndarray:
    """Image timestamps (int64 microseconds, file order) listed in <folder>/stereo.timestamps."""
    path = Path(folder) / TIMESTAMPS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing image timestamp file (RobotCar stereo.timestamps)")
    timestamps = []
    try:
        lines = path.read_text().splitlines()
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not a text file ({err.reason} at byte {err.start}); expected "
                         f"'<timestamp_us> <chunk>' lines") from None
    for line_no, line in enumerate(lines, start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2 or not (fields[0].isascii() and fields[0].isdigit() and len(fields[0]) <= 18
                                    and fields[1].isascii() and fields[1].isdigit()):
            raise ValueError(f"{path}, line {line_no}: expected '<timestamp_us> <chunk>' "
                             f"(two integers), got {line.rstrip()!r}")
        timestamps.append(int(fields[0]))
    if not timestamps:
        raise ValueError(f"{path}: lists no image (empty); expected '<timestamp_us> <chunk>' lines")
    stamps = np.asarray(timestamps, dtype=np.int64)
    duplicated = np.flatnonzero(pd.Series(stamps).duplicated().to_numpy())
    if duplicated.size:
        raise ValueError(f"{path}: timestamp {stamps[duplicated[0]]} listed twice "
                         f"(second time on data line {duplicated[0] + 1})")
    return stamps


def read_ins(folder: str | os.PathLike) -> pd.DataFrame:
    """The INS table of <folder>/gps/ins.csv, RobotCar's columns, sorted by timestamp.

    Timestamps must be integers; pose cells may be NaN (such rows are not `good_ins_rows`), but no
    pose value may be infinite or text: an error naming the file and the data row. Column
    `data_row` keeps each row's place in the file (1 = the line after the header) for later
    messages (softloc.datasets.formats.ins_sanity checks the positions against the zone).
    """
    path = Path(folder) / INS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing INS file (RobotCar gps/ins.csv)")
    try:
        ins = pd.read_csv(path, dtype={"ins_status": str, "utm_zone": str, "timestamp": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not a readable CSV file: {err}") from err
    missing = [c for c in INS_REQUIRED if c not in ins.columns]
    if missing:
        raise ValueError(f"{path}: missing INS columns {missing}; expected RobotCar's columns "
                         f"{list(INS_COLUMNS)}")
    stamps = ins["timestamp"].astype(str).str.strip()
    bad = ~stamps.str.fullmatch(r"\d+")
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise ValueError(f"{path}, data row {row + 1}: timestamp {ins['timestamp'].iloc[row]!r} "
                         f"is not an integer number of microseconds")
    ins["timestamp"] = stamps.astype(np.int64)
    for column in INS_POSE_COLUMNS:
        ins[column] = _numbers(ins[column], path, column)
    ins["data_row"] = np.arange(1, len(ins) + 1, dtype=np.int64)
    ins = ins.sort_values("timestamp", kind="stable").reset_index(drop=True)
    duplicated = ins["timestamp"].duplicated()
    if duplicated.any():
        raise ValueError(f"{path}: INS timestamp {ins['timestamp'][duplicated].iloc[0]} appears twice")
    return ins


def _numbers(column: pd.Series, path: Path, name: str) -> pd.Series:
    """A pose column as float64: empty and 'nan' cells are NaN; text and infinities are an error."""
    values = pd.to_numeric(column, errors="coerce").astype(np.float64)
    text = column.notna() & values.isna()
    bad = text.to_numpy() | np.isinf(values.to_numpy())
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        value = column.iloc[row]
        shown = repr(value) if isinstance(value, str) else str(float(value))
        raise ValueError(f"{path}, data row {row + 1}: {name} {shown} is not a finite number")
    return values


def good_ins_rows(ins: pd.DataFrame, good_status: list[str] | tuple[str, ...]) -> pd.DataFrame:
    """The INS rows usable as poses: status in `good_status` and no NaN in a pose column."""
    usable = ins["ins_status"].isin(list(good_status)) & ins[list(INS_POSE_COLUMNS)].notna().all(axis=1)
    return ins[usable].reset_index(drop=True)


def interpolate_poses(ins: pd.DataFrame, timestamps: np.ndarray) -> pd.DataFrame:
    """Pose at each timestamp, linearly interpolated between the two bracketing INS rows.

    Position (easting, northing, latitude, longitude) is interpolated linearly, heading along the
    shorter arc (wrap-around). Returns easting, northing (UTM m), yaw (degrees in [-180, 180),
    clockwise from north), latitude, longitude (degrees) and ins_gap_s, the time between the two
    bracketing INS rows; all NaN for a timestamp outside the INS time span (or with fewer than two
    rows). `ins` must be sorted by timestamp with unique timestamps (as read_ins returns it) and
    hold only usable rows (good_ins_rows).
    """
    t = np.asarray(timestamps, dtype=np.int64)
    ins_t = ins["timestamp"].to_numpy(np.int64)
    columns = ("easting", "northing", "yaw", "latitude", "longitude", "ins_gap_s")
    out = {c: np.full(len(t), np.nan) for c in columns}
    if len(ins_t) < 2:
        return pd.DataFrame(out)
    inside = (t >= ins_t[0]) & (t <= ins_t[-1])
    hi = np.clip(np.searchsorted(ins_t, t, side="right"), 1, len(ins_t) - 1)
    lo = hi - 1
    span = (ins_t[hi] - ins_t[lo]).astype(np.float64)
    frac = np.divide((t - ins_t[lo]).astype(np.float64), span, out=np.zeros(len(t)), where=span > 0)
    frac = np.clip(frac, 0.0, 1.0)
    for column in ("easting", "northing", "latitude", "longitude"):
        values = ins[column].to_numpy(np.float64)
        out[column] = values[lo] + frac * (values[hi] - values[lo])
    yaw = ins["yaw"].to_numpy(np.float64)
    turn = np.angle(np.exp(1j * (yaw[hi] - yaw[lo])))
    out["yaw"] = wrap_degrees(np.degrees(yaw[lo] + frac * turn))
    out["ins_gap_s"] = span / 1e6
    for column in out:
        out[column] = np.where(inside, out[column], np.nan)
    return pd.DataFrame(out)


def wrap_degrees(angle: np.ndarray) -> np.ndarray:
    """Angles in degrees wrapped to [-180, 180)."""
    return (np.asarray(angle) + 180.0) % 360.0 - 180.0


def demosaic(mosaic: np.ndarray) -> np.ndarray:
    """RGB uint8 (H, W, 3) from a RobotCar stereo Bayer mosaic (H, W) uint8, pattern GBRG."""
    return cv2.cvtColor(mosaic, BAYER_STEREO_TO_RGB)


def read_mosaic(path: str | os.PathLike) -> np.ndarray:
    """The raw single-channel Bayer mosaic of one image; ValueError naming the file if unreadable."""
    mosaic = cv2.imread(os.fspath(path), cv2.IMREAD_UNCHANGED)
    if mosaic is None:
        state = "missing" if not Path(path).is_file() else "not a decodable image (truncated or corrupt?)"
        raise ValueError(f"{path}: {state}")
    if mosaic.ndim != 2 or mosaic.dtype != np.uint8:
        raise ValueError(f"{path}: expected an 8-bit single-channel Bayer mosaic, got shape "
                         f"{mosaic.shape} dtype {mosaic.dtype}")
    return mosaic


def load_image(path: str | os.PathLike) -> np.ndarray:
    """One stereo-centre image as demosaiced RGB uint8 (H, W, 3); ValueError naming the file if unreadable."""
    return demosaic(read_mosaic(path))
