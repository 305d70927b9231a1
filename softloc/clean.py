"""The clean stage's logic: every image of every traversal, its INS pose, and whether it is kept.

The paper (Section 5): "we remove location outliers and exclude under- and overexposed images".
Each image gets exactly one reason, the first of REASONS that applies, or "" when kept; nothing
is dropped silently, and the counts per reason per traversal form reports/clean.json. Traversal
folders under the raw root that traversals.csv does not list are not read: each is warned about
and counted (with its images) in clean.json's `unlisted_traversals`.

Inputs that are wrong rather than faulty stop the stage with an error naming the file and row:
an image file resolving outside the raw root (a symlink out of it), an INS value that is infinite
or text (robotcar_raw.read_ins), an INS row of another zone than params clean.utm_zone or whose
latitude/longitude lie over 50 m from its UTM position (formats.ins_sanity).
"""

from __future__ import annotations

import csv
import logging
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.ndimage import median_filter
from scipy.spatial import cKDTree

from softloc.chunked import CHUNK_FILES, Journal, available_cores, run_chunks
from softloc.config import CONDITION_PATTERN, Clean
from softloc.datasets.formats import robotcar_raw as robotcar
from softloc.datasets.formats.ins_sanity import check_ins_positions
from softloc.datasets.paths import check_inside
from softloc.schemas import IMAGES

log = logging.getLogger(__name__)

# Drop reasons in order of precedence: an image gets the first that applies.
REASONS = (
    "no_image_file",      # listed in stereo.timestamps, no PNG on disk
    "unreadable_image",   # PNG present but not decodable as an 8-bit Bayer mosaic
    "wrong_size",         # (height, width) other than the most common size of the dataset
    "underexposed",       # mean intensity below clean.underexposed_below
    "overexposed",        # mean intensity above clean.overexposed_above
    "no_ins_coverage",    # timestamp outside the time span of gps/ins.csv
    "bad_ins",            # no pair of usable INS rows within clean.max_ins_gap_s around it
    "location_outlier",   # pose off the traversal's own trajectory, or off the common route
)
TRAVERSAL_NAME = re.compile(r"\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}")
CONDITION = re.compile(CONDITION_PATTERN)


def read_traversal_list(root: str | os.PathLike) -> pd.DataFrame:
    """<root>/traversals.csv (traversal, condition), checked line by line against the folders."""
    path = Path(root) / "traversals.csv"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing traversal index (columns traversal,condition; "
                                f"write it for a RobotCar download)")
    with open(path, newline="") as f:
        lines = [(n, row) for n, row in enumerate(csv.reader(f), start=1) if row]
    if not lines or lines[0][1] != ["traversal", "condition"]:
        raise ValueError(f"{path}: header {lines[0][1] if lines else None}, expected ['traversal', 'condition']")
    rows = []
    for line, row in lines[1:]:
        if len(row) != 2 or not TRAVERSAL_NAME.fullmatch(row[0]) or not row[1].strip():
            raise ValueError(f"{path}, line {line}: expected '<YYYY-MM-DD-HH-MM-SS>,<condition>', got {row}")
        if not CONDITION.match(row[1].strip()):
            raise ValueError(f"{path}, line {line}: condition {row[1].strip()!r} is not a lower-case identifier "
                             f"({CONDITION_PATTERN}; conditions are matched exactly, e.g. overcast, night)")
        if not (Path(root) / row[0]).is_dir():
            raise ValueError(f"{path}, line {line}: traversal folder {Path(root) / row[0]} does not exist")
        if row[0] in {r[0] for r in rows}:
            raise ValueError(f"{path}, line {line}: traversal {row[0]} listed twice")
        rows.append((row[0], row[1].strip()))
    table = pd.DataFrame(rows, columns=["traversal", "condition"])
    return table.sort_values("traversal", kind="stable").reset_index(drop=True)


def unlisted_traversals(root: str | os.PathLike, listed: set[str]) -> dict[str, int]:
    """Traversal folders under `root` that traversals.csv does not list: {name: image files}.

    They are not cleaned (their condition is unknown); each is warned about and counted.
    """
    unlisted = {}
    for folder in sorted(Path(root).iterdir()):
        if folder.is_dir() and TRAVERSAL_NAME.fullmatch(folder.name) and folder.name not in listed:
            images = folder / robotcar.IMAGE_DIR
            unlisted[folder.name] = len(os.listdir(images)) if images.is_dir() else 0
            log.warning("%s: traversal folder not listed in %s: its %d images are not used",
                        folder, Path(root) / "traversals.csv", unlisted[folder.name])
    return unlisted


def clean_dataset(root: str | os.PathLike, cfg: Clean,
                  resume_dir: str | os.PathLike | None = None) -> tuple[pd.DataFrame, dict]:
    """Every image of every listed traversal with pose, kept and reason (schemas.IMAGES), and the report.

    With `resume_dir`, each traversal's exposure pass keeps a journal there, so a rerun after a
    kill decodes only the images not yet done (the caller removes the folder once the outputs are written).
    """
    traversals = read_traversal_list(root)
    unlisted = unlisted_traversals(root, set(traversals["traversal"]))
    tables = [read_traversal(root, t.traversal, t.condition, cfg, resume_dir) for t in traversals.itertuples()]
    images = pd.concat(tables, ignore_index=True)
    images["wrong_size"] = wrong_size(images)
    trusted = images["pose_ok"].to_numpy() & ~images["off_trajectory"].to_numpy()
    images["off_route"] = off_common_route(images, trusted, cfg.route_radius_m)
    images["location_outlier"] = images["pose_ok"] & (images["off_trajectory"] | images["off_route"])
    images["reason"] = first_reason(images)
    images["kept"] = images["reason"] == ""
    images.loc[~images["pose_ok"], ["easting", "northing", "yaw", "latitude", "longitude"]] = np.nan
    images["image_id"] = np.arange(len(images), dtype=np.int64)
    images = images[list(IMAGES)]
    report = clean_report(images)
    report["unlisted_traversals"] = unlisted
    return images, report


def read_traversal(root: str | os.PathLike, traversal: str, condition: str,
                   cfg: Clean, resume_dir: str | os.PathLike | None = None) -> pd.DataFrame:
    """One traversal's images with pose, per-check flags and exposure, sorted by timestamp."""
    folder = Path(root) / traversal
    timestamps = np.sort(robotcar.read_traversal_timestamps(folder))
    ins = robotcar.read_ins(folder)
    check_ins_positions(ins, folder / robotcar.INS_FILE, cfg.utm_zone)
    good = robotcar.good_ins_rows(ins, list(cfg.good_ins_status))
    poses = robotcar.interpolate_poses(good, timestamps)
    log.info("%s: %d images, %d INS rows (%d usable)", traversal, len(timestamps), len(ins), len(good))

    images = pd.DataFrame({"traversal": traversal, "condition": condition, "timestamp": timestamps})
    images["path"] = [robotcar.image_relpath(traversal, t) for t in timestamps]
    images = pd.concat([images, poses], axis=1)
    on_disk = set(os.listdir(folder / robotcar.IMAGE_DIR)) if (folder / robotcar.IMAGE_DIR).is_dir() else set()
    images["no_image_file"] = [f"{t}.png" not in on_disk for t in timestamps]
    brightness = np.full(len(images), np.nan)
    size = np.zeros((len(images), 2), dtype=np.int64)
    present = ~images["no_image_file"].to_numpy(dtype=bool)
    on_disk_paths = images["path"][present].tolist()
    check_inside(root, on_disk_paths, lambda i: f"{folder / robotcar.TIMESTAMPS_FILE}: image {on_disk_paths[i]}")
    journal = Path(resume_dir) / f"{traversal}.exposure.jsonl" if resume_dir is not None else None
    brightness[present], size[present] = mean_intensities([Path(root) / p for p in images["path"][present]],
                                                          desc=traversal, resume=journal)
    images["height"], images["width"] = size[:, 0], size[:, 1]
    images["unreadable_image"] = present & np.isnan(brightness)
    images["underexposed"] = brightness < cfg.underexposed_below
    images["overexposed"] = brightness > cfg.overexposed_above
    ins_t = ins["timestamp"].to_numpy()
    covered = (timestamps >= ins_t[0]) & (timestamps <= ins_t[-1]) if len(ins_t) else np.zeros(len(timestamps), bool)
    images["no_ins_coverage"] = ~covered
    images["bad_ins"] = ~images["no_ins_coverage"] & ~(images["ins_gap_s"] <= cfg.max_ins_gap_s)
    images["pose_ok"] = ~images["no_ins_coverage"] & ~images["bad_ins"]
    jumps = ins_outliers(good, cfg.outlier_window_s, cfg.max_deviation_m)
    images["off_trajectory"] = images["pose_ok"] & touches(good, jumps, timestamps)
    log.info("%s: %d INS rows off the trajectory", traversal, int(jumps.sum()))
    return images


def mean_intensities(paths: list[Path], desc: str = "", resume: Path | None = None,
                     workers: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Mean raw-mosaic intensity (0-255) of each image, NaN where unreadable, and its raw
    (height, width), (0, 0) where unreadable.

    The mean of a Bayer mosaic equals the mean of its 2x2-binned luminance (R + 2G + B) / 4, so no
    demosaicing is needed. (cv2.IMREAD_REDUCED_GRAYSCALE_2 would give exactly that binning, but for
    PNG it decodes the full image first, so it saves nothing, and it would hide a colour file.)
    The images are decoded in chunks by `workers` processes (default: every core) with bounded
    memory and an images/s progress bar (softloc.chunked). With `resume` (a journal file), every
    finished chunk is recorded there and a rerun after a kill decodes only the rest.
    """
    workers = workers or available_cores()
    journal = Journal(resume, {"pass": "exposure", "chunk_files": CHUNK_FILES}) if resume is not None else None
    means, sizes = [np.zeros(0)], [np.zeros((0, 2), dtype=np.int64)]
    try:
        for chunk in run_chunks([os.fspath(p) for p in paths], _chunk_means, workers=workers, journal=journal,
                                desc=f"exposure {desc}"):
            means.append(np.asarray(chunk["mean"], dtype=np.float64))
            sizes.append(np.asarray(chunk["hw"], dtype=np.int64).reshape(-1, 2))
            for message in chunk["errors"]:
                log.warning("unreadable_image: %s", message)
    finally:
        if journal is not None:
            journal.close()
    return np.concatenate(means), np.concatenate(sizes)


def _chunk_means(paths: list[str], start: int) -> dict[str, list]:
    """One chunk of the exposure pass (a worker's job): means, raw sizes and unreadable-file messages."""
    values, sizes, errors = [], [], []
    for path in paths:
        try:
            mosaic = robotcar.read_mosaic(path)
        except ValueError as err:
            values.append(float("nan"))
            sizes.append([0, 0])
            errors.append(str(err))
            continue
        values.append(float(mosaic.mean()))
        sizes.append(list(mosaic.shape))
    return {"mean": values, "hw": sizes, "errors": errors}


def wrong_size(images: pd.DataFrame) -> np.ndarray:
    """True for each readable image whose (height, width) differs from the most common one.

    The expected size is the mode over every readable image of the dataset (ties: the smaller
    size), so one odd camera file cannot pass as the norm; each drop is logged with its file.
    """
    readable = ~images["no_image_file"].to_numpy(dtype=bool) & ~images["unreadable_image"].to_numpy(dtype=bool)
    size = images[["height", "width"]].to_numpy(np.int64)
    if not readable.any():
        return np.zeros(len(images), dtype=bool)
    shapes, counts = np.unique(size[readable], axis=0, return_counts=True)
    expected = shapes[np.argmax(counts)]
    wrong = readable & (size != expected).any(axis=1)
    for row in np.flatnonzero(wrong):
        log.warning("wrong_size: %s is %dx%d, the dataset's images are %dx%d (height x width)",
                    images["path"].iat[row], *size[row], *expected)
    return wrong


def ins_outliers(ins: pd.DataFrame, window_s: float, max_deviation_m: float) -> np.ndarray:
    """True for each INS row more than max_deviation_m from the running median of its neighbours.

    The running median over window_s of rows (time order) follows the smooth trajectory and ignores
    a position jump shorter than half the window. The ends are padded by point reflection, so
    constant-velocity motion is reproduced exactly there too.
    """
    if len(ins) < 3:
        return np.zeros(len(ins), dtype=bool)
    step_s = float(np.median(np.diff(ins["timestamp"].to_numpy()))) / 1e6
    half = int(min(round(window_s / step_s / 2), len(ins) - 1))
    xy = ins[["easting", "northing"]].to_numpy(np.float64)
    padded = np.pad(xy, ((half, half), (0, 0)), mode="reflect", reflect_type="odd")
    smooth = np.stack([median_filter(padded[:, k], size=2 * half + 1, mode="nearest") for k in (0, 1)],
                      axis=1)[half:len(padded) - half]  # 1-D filters: SciPy's fast path
    return np.hypot(*(xy - smooth).T) > max_deviation_m


def touches(ins: pd.DataFrame, rows: np.ndarray, timestamps: np.ndarray) -> np.ndarray:
    """True where the pose interpolated at a timestamp draws on one of the flagged INS rows."""
    if len(ins) == 0:
        return np.zeros(len(timestamps), dtype=bool)
    weight = np.interp(timestamps.astype(np.float64), ins["timestamp"].to_numpy(np.float64),
                       rows.astype(np.float64), left=0.0, right=0.0)
    return weight > 0


def off_common_route(images: pd.DataFrame, trusted: np.ndarray, radius_m: float) -> np.ndarray:
    """True where a posed image has no trusted image of ANOTHER traversal within radius_m.

    One KD-tree per traversal over the trusted poses of all other traversals. With a single
    traversal there is no common route to compare with, and nothing is flagged.
    """
    flags = np.zeros(len(images), dtype=bool)
    names = images["traversal"].to_numpy()
    if len(np.unique(names)) < 2:
        log.warning("only one traversal: the off-route check is skipped")
        return flags
    xy = images[["easting", "northing"]].to_numpy()
    posed = images["pose_ok"].to_numpy()
    for name in np.unique(names):
        mine = np.flatnonzero((names == name) & posed)
        others = xy[trusted & (names != name)]
        if len(mine) == 0:
            continue
        if len(others) == 0:
            flags[mine] = True
            continue
        tree = cKDTree(others, balanced_tree=False, compact_nodes=False)  # 3x faster to build
        distance, _ = tree.query(xy[mine], k=1, distance_upper_bound=radius_m)
        flags[mine] = ~np.isfinite(distance)
    return flags


def first_reason(images: pd.DataFrame) -> pd.Series:
    """The first applicable reason of REASONS for each image, "" when none applies."""
    conditions = [images[r].to_numpy(dtype=bool) for r in REASONS]
    return pd.Series(np.select(conditions, list(REASONS), default=""), index=images.index, dtype="string")


def clean_report(images: pd.DataFrame) -> dict:
    """Counts per reason (every reason listed, zeros included) per traversal, plus totals."""
    def counts(frame: pd.DataFrame) -> dict:
        by_reason = frame["reason"].value_counts()
        row = {"images": int(len(frame)), "kept": int(frame["kept"].sum())}
        row.update({r: int(by_reason.get(r, 0)) for r in REASONS})
        return row

    return {
        "traversals": {name: counts(group) for name, group in images.groupby("traversal", sort=True)},
        "totals": counts(images),
    }
