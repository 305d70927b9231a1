"""NetVLAD-style MATLAB image lists: Pittsburgh 250k and every dataset published in its layout.

Two layouts, told apart by their variables:

- flat, as the paper's authors' `pitts250k_test_lists.mat` (janinethoma/learning1M,
  evaluate/pittsburgh.mat): `dbImageFns` (254,064 names such as `000/000000_pitch1_yaw1.jpg`),
  `utmDb` (2 x N), `qImageFns` (24,000), `utmQ`;
- dbStruct, as NetVLAD's `pitts250k_{train,val,test}.mat` and `pitts30k_*.mat`: one struct
  `dbStruct` with whichSet, dbImageFns, utmDb, qImageFns, utmQ, numImages, numQueries,
  posDistThr (25 m), posDistSqThr, nonTrivPosDistSqThr.

No pixels. Pittsburgh's places are Street View panoramas cut into 2 pitches x 12 yaw views 30
degrees apart (`<pano // 1000:03d>/<pano:06d>_pitch<1|2>_yaw<1..12>.jpg`); all views of one place
share its position (UTM 17T). Which compass direction view 1 faces is not in the file.

Row order of the utm arrays: NetVLAD's files store [easting; northing]; some published RobotCar
lists in the dbStruct layout store [northing; easting]. `read_mat(utm_order="auto")` tells them
apart by value (a UTM easting always lies within 100-900 km; a northing beyond 900 km is no
easting) and refuses to guess when both rows, or neither, look like eastings (near the equator,
or a local frame): then `utm_order` must be given, and a given order that the values contradict
is an error too.
"""

from __future__ import annotations

import io
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
import scipy.io

from softloc import geometry
from softloc.io import atomic_path

log = logging.getLogger(__name__)

UTM_ZONE_NUMBER = 17
UTM_ZONE_LETTER = "T"
UTM_ORDERS = ("easting_northing", "northing_easting")
EASTING_RANGE_M = (100_000.0, 900_000.0)   # every UTM easting (166-834 km) lies inside
_NAME_PATTERN = r"_pitch(\d+)_yaw(\d+)\.\w+$"
_FIELDS = ("dbImageFns", "utmDb", "qImageFns", "utmQ")
_MAT_HEADER_TEXT = 116   # a MAT 5 file opens with 116 bytes of free text (scipy writes the time there)
_MAT_HEADER = b"MATLAB 5.0 MAT-file, written by softloc.data.pittsburgh"
_STRUCT_SCALARS = ("numImages", "numQueries", "posDistThr", "posDistSqThr", "nonTrivPosDistSqThr")


@dataclass(frozen=True)
class MatLists:
    """A .mat list read: reference and query tables (path, easting, northing), how it was laid out.

    `utm_order` is the row order the file used; `info` holds dbStruct's whichSet and scalars.
    """

    reference: pd.DataFrame
    queries: pd.DataFrame
    layout: str
    utm_order: str
    info: dict[str, Any] = field(default_factory=dict)


def read_mat(path: str | os.PathLike, utm_order: str = "auto") -> MatLists:
    """Read a flat or dbStruct list; positions oriented per `utm_order` (auto | easting_northing | northing_easting)."""
    path = Path(path)
    mat = _load(path)
    if "dbStruct" in mat:
        fields, layout = _struct_fields(mat["dbStruct"], path), "dbStruct"
    else:
        fields, layout = mat, "flat"
    missing = [key for key in _FIELDS if key not in fields]
    if missing:
        present = sorted(k for k in fields if not k.startswith("__"))
        raise ValueError(f"{path}: missing field {missing[0]!r} ({layout} layout); fields present: {present}")
    db_names, db_utm = _names(fields["dbImageFns"]), _utm(fields["utmDb"], path, "utmDb", "dbImageFns")
    q_names, q_utm = _names(fields["qImageFns"]), _utm(fields["utmQ"], path, "utmQ", "qImageFns")
    for names, utm, names_key, utm_key in ((db_names, db_utm, "dbImageFns", "utmDb"), (q_names, q_utm, "qImageFns", "utmQ")):
        if utm.shape[1] != len(names):
            raise ValueError(f"{path}: field {utm_key!r} has shape {utm.shape}, expected (2, {len(names)}) "
                             f"(easting; northing for each of the {len(names)} names in {names_key!r})")
        bad = ~np.isfinite(utm).all(axis=0)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{path}: {utm_key!r} column {row} ({names[row]}) is not finite: {utm[:, row]}")
    order = orient_utm(np.concatenate([db_utm, q_utm], axis=1), utm_order, f"{path} (utmDb, utmQ)")
    if order == "northing_easting":
        db_utm, q_utm = db_utm[::-1], q_utm[::-1]
    info = {}
    if layout == "dbStruct":
        info = {"whichSet": _name(fields["whichSet"]) if "whichSet" in fields else ""}
        info.update({k: float(np.asarray(fields[k], dtype=np.float64).ravel()[0]) for k in _STRUCT_SCALARS
                     if k in fields and np.asarray(fields[k]).size})
    log.info("read %s (%s layout, utm rows %s): %d references, %d queries", path, layout, order,
             len(db_names), len(q_names))
    return MatLists(_table(db_names, db_utm), _table(q_names, q_utm), layout, order, info)


def orient_utm(utm: np.ndarray, utm_order: str, where: str) -> str:
    """The row order of a (2, N) UTM array: `utm_order` checked against the values, or detected.

    auto: detected from the values, an error when they cannot tell (see the module docstring);
    an explicit order is an error when the values clearly say the other.
    """
    if utm_order not in ("auto", *UTM_ORDERS):
        raise ValueError(f"{where}: utm_order must be auto, easting_northing or northing_easting, got {utm_order!r}")
    looks_easting = [bool(row.size) and bool(np.all((row >= EASTING_RANGE_M[0]) & (row <= EASTING_RANGE_M[1])))
                     for row in utm]
    detected = {(True, False): "easting_northing", (False, True): "northing_easting"}.get(tuple(looks_easting))
    if utm_order == "auto":
        if detected is None:
            spans = ", ".join(f"row {i} spans {row.min():.0f}..{row.max():.0f}" if row.size else f"row {i} is empty"
                              for i, row in enumerate(utm))
            raise ValueError(f"{where}: cannot tell whether the UTM rows are [easting; northing] or [northing; "
                             f"easting] ({spans}; a UTM easting lies within {EASTING_RANGE_M[0]:.0f}.."
                             f"{EASTING_RANGE_M[1]:.0f} m); set utm_order: easting_northing or northing_easting")
        return detected
    if detected is not None and detected != utm_order:
        raise ValueError(f"{where}: utm_order is {utm_order} but the values say {detected} (row "
                         f"{looks_easting.index(True)} holds the eastings, {EASTING_RANGE_M[0]:.0f}.."
                         f"{EASTING_RANGE_M[1]:.0f} m); fix utm_order")
    return utm_order


def parse_views(names: Sequence[str], where: str) -> tuple[np.ndarray, np.ndarray]:
    """(pitch, yaw_index) int64 arrays from names ending in `_pitch<P>_yaw<Y>.<ext>`; other names are an error."""
    views = pd.Series(list(names), dtype="string").str.extract(_NAME_PATTERN)
    unparsed = views.isna().any(axis=1).to_numpy()
    if unparsed.any():
        row = int(np.flatnonzero(unparsed)[0])
        raise ValueError(f"{where} row {row} {names[row]!r} does not end in _pitch<P>_yaw<Y>.<ext> "
                         f"({int(unparsed.sum())} such names; a list without Pittsburgh's view names needs pitch: null)")
    return views[0].astype(np.int64).to_numpy(), views[1].astype(np.int64).to_numpy()


def write_lists(path: str | os.PathLike, reference: pd.DataFrame, queries: pd.DataFrame, layout: str = "flat",
                utm_order: str = "easting_northing", which_set: str = "test", pos_dist_thr_m: float = 25.0,
                non_trivial_pos_dist_m: float = 10.0) -> None:
    """Write tables (path, easting, northing) as a .mat list in the flat or NetVLAD dbStruct layout, atomically.

    The flat layout is the real pitts250k_test_lists.mat's (cells of names, 2 x N doubles); the
    dbStruct one NetVLAD's, with its scalars (posDistSqThr = posDistThr^2, nonTrivPosDistSqThr).
    """
    if layout not in ("flat", "dbStruct") or utm_order not in UTM_ORDERS:
        raise ValueError(f"write_lists: layout flat | dbStruct and utm_order {UTM_ORDERS}, got {layout!r}, {utm_order!r}")

    def cells(table: pd.DataFrame) -> np.ndarray:
        out = np.empty((len(table), 1), dtype=object)
        for i, name in enumerate(table["path"]):
            out[i, 0] = np.array([str(name)])
        return out

    def utm(table: pd.DataFrame) -> np.ndarray:
        rows = table[["easting", "northing"]].to_numpy(np.float64).T
        return rows[::-1].copy() if utm_order == "northing_easting" else rows

    fields = {"dbImageFns": cells(reference), "utmDb": utm(reference), "qImageFns": cells(queries), "utmQ": utm(queries)}
    if layout == "dbStruct":
        fields = {"dbStruct": {"whichSet": which_set, **fields, "numImages": float(len(reference)),
                               "numQueries": float(len(queries)), "posDistThr": float(pos_dist_thr_m),
                               "posDistSqThr": float(pos_dist_thr_m) ** 2,
                               "nonTrivPosDistSqThr": float(non_trivial_pos_dist_m) ** 2}}
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, fields, do_compression=True)
    data = bytearray(buffer.getvalue())
    data[:_MAT_HEADER_TEXT] = _MAT_HEADER.ljust(_MAT_HEADER_TEXT)   # no creation time: same lists, same bytes
    with atomic_path(path) as tmp:
        tmp.write_bytes(bytes(data))
    log.info("wrote %s (%s layout): %d references, %d queries", path, layout, len(reference), len(queries))


def read_lists(path: str | os.PathLike) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Pittsburgh's (reference, queries) tables: path, easting, northing, latitude, longitude, pitch, yaw_index.

    Positions in UTM 17T; every name must carry its view (`_pitch<P>_yaw<Y>`).
    """
    lists = read_mat(path)
    tables = []
    for table, key in ((lists.reference, "dbImageFns"), (lists.queries, "qImageFns")):
        pitch, yaw_index = parse_views(table["path"].tolist(), f"{path}: {key!r}")
        latitude, longitude = geometry.utm_to_latlon(table["easting"], table["northing"], UTM_ZONE_NUMBER, UTM_ZONE_LETTER)
        tables.append(table.assign(latitude=latitude, longitude=longitude, pitch=pitch, yaw_index=yaw_index))
    return tables[0], tables[1]


def near_any(reference: pd.DataFrame, queries: pd.DataFrame, radius_m: float) -> np.ndarray:
    """Boolean mask of references within `radius_m` of at least one query (KD-tree, never all pairs)."""
    if not len(queries):
        return np.zeros(len(reference), dtype=bool)
    tree = geometry.build_tree(queries[["easting", "northing"]].to_numpy())
    distance, _ = geometry.nearest(tree, reference[["easting", "northing"]].to_numpy())
    return distance <= radius_m


def _load(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise FileNotFoundError(f"{path}: list file not found")
    try:
        return scipy.io.loadmat(path)
    except Exception as err:  # scipy raises several types for a file that is not MATLAB
        raise ValueError(f"{path}: not a readable MATLAB file ({err})") from err


def _struct_fields(value: Any, path: Path) -> dict[str, Any]:
    struct = np.asarray(value)
    if struct.dtype.names is None or struct.size != 1:
        raise ValueError(f"{path}: 'dbStruct' is not a 1x1 MATLAB struct (dtype {struct.dtype}, shape {struct.shape})")
    item = struct.ravel()[0]
    return {name: item[name] for name in struct.dtype.names}


def _names(cells: Any) -> list[str]:
    return [_name(cell) for cell in np.asarray(cells, dtype=object).ravel()]


def _name(cell: object) -> str:
    """A MATLAB cell entry (a 1-element array of str, possibly nested) as a plain string."""
    while isinstance(cell, np.ndarray):
        cell = cell.ravel()[0] if cell.size else ""
    return str(cell).strip()


def _utm(value: Any, path: Path, utm_key: str, names_key: str) -> np.ndarray:
    utm = np.asarray(value, dtype=np.float64)
    if utm.size == 0:
        return np.zeros((2, 0))
    if utm.ndim != 2 or utm.shape[0] != 2:
        raise ValueError(f"{path}: field {utm_key!r} has shape {utm.shape}, expected (2, N) "
                         f"(easting; northing for each name in {names_key!r})")
    return utm


def _table(names: list[str], utm: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"path": pd.array(names, dtype="string"), "easting": utm[0], "northing": utm[1]})
