"""Pittsburgh 250k test lists (the paper's authors' flat MATLAB file) as reference / query tables.

The file (janinethoma/learning1M, evaluate/pittsburgh.mat) holds `dbImageFns` (254,064 names such
as `000/000000_pitch1_yaw1.jpg`), `utmDb` (2 x N: easting; northing, UTM zone 17T), `qImageFns`
(24,000) and `utmQ`. No pixels. Each place is a Street View panorama cut into 2 pitches x 12 yaw
views 30 degrees apart; all views of one place share its position.

Heading: the name's yaw index is a view within its panorama; the file does not say which compass
direction view 1 faces, so the split tables carry yaw = NaN (the index stays available in the
`yaw_index` column of `read_lists`). Evaluation uses positions only.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.io

from softloc import geometry
from softloc.schemas import SPLIT_IMAGES

UTM_ZONE_NUMBER = 17
UTM_ZONE_LETTER = "T"
CONDITION = "pittsburgh"
REFERENCE_TRAVERSAL = "pittsburgh-db"
QUERY_TRAVERSAL = "pittsburgh-query"
_NAME_PATTERN = r"_pitch(\d+)_yaw(\d+)\.\w+$"


def read_lists(path: str | os.PathLike) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(reference, queries) tables: path, easting, northing, latitude, longitude, pitch, yaw_index."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: Pittsburgh list file not found")
    try:
        mat = scipy.io.loadmat(path)
    except Exception as err:  # scipy raises several types for a file that is not MATLAB
        raise ValueError(f"{path}: not a readable MATLAB file ({err})") from err
    return (_table(mat, path, "dbImageFns", "utmDb"), _table(mat, path, "qImageFns", "utmQ"))


def to_split_tables(reference: pd.DataFrame, queries: pd.DataFrame, pitch: int | None = 1,
                    max_reference_distance_m: float | None = 100.0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """test_reference / test_queries-like tables (SPLIT_IMAGES columns) from `read_lists` output.

    As the authors' evaluation lists: only views of `pitch` (1 = horizon; 2 looks up at the sky;
    None keeps both) and only references within `max_reference_distance_m` of some query (None
    keeps all). image_id and timestamp are the row number in the original list; yaw is NaN
    (see the module docstring).
    """
    if pitch is not None:
        reference = reference[reference["pitch"] == pitch]
        queries = queries[queries["pitch"] == pitch]
    if max_reference_distance_m is not None and len(queries):
        tree = geometry.build_tree(queries[["easting", "northing"]].to_numpy())
        distance, _ = geometry.nearest(tree, reference[["easting", "northing"]].to_numpy())
        reference = reference[distance <= max_reference_distance_m]
    return _split_table(reference, REFERENCE_TRAVERSAL), _split_table(queries, QUERY_TRAVERSAL)


def _table(mat: dict, path: Path, names_key: str, utm_key: str) -> pd.DataFrame:
    for key in (names_key, utm_key):
        if key not in mat:
            fields = sorted(k for k in mat if not k.startswith("__"))
            raise ValueError(f"{path}: missing field {key!r}; fields present: {fields}")
    names = np.array([_name(cell) for cell in np.asarray(mat[names_key], dtype=object).ravel()], dtype=object)
    utm = np.asarray(mat[utm_key], dtype=np.float64)
    if utm.shape != (2, len(names)):
        raise ValueError(f"{path}: field {utm_key!r} has shape {utm.shape}, expected (2, {len(names)}) "
                         f"(easting; northing for each of the {len(names)} names in {names_key!r})")
    bad = ~np.isfinite(utm).all(axis=0)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{path}: {utm_key!r} column {row} ({names[row]}) is not finite: {utm[:, row]}")
    views = pd.Series(names).str.extract(_NAME_PATTERN)
    unparsed = views.isna().any(axis=1).to_numpy()
    if unparsed.any():
        row = int(np.flatnonzero(unparsed)[0])
        raise ValueError(f"{path}: {names_key!r} row {row} {names[row]!r} does not end in _pitch<P>_yaw<Y>.<ext>")
    latitude, longitude = geometry.utm_to_latlon(utm[0], utm[1], UTM_ZONE_NUMBER, UTM_ZONE_LETTER)
    return pd.DataFrame({
        "path": pd.array(names, dtype="string"), "easting": utm[0], "northing": utm[1],
        "latitude": latitude, "longitude": longitude,
        "pitch": views[0].astype(np.int64).to_numpy(), "yaw_index": views[1].astype(np.int64).to_numpy(),
    })


def _name(cell: object) -> str:
    """A MATLAB cell entry (a 1-element array of str, possibly nested) as a plain string."""
    while isinstance(cell, np.ndarray):
        cell = cell.ravel()[0] if cell.size else ""
    return str(cell)


def _split_table(table: pd.DataFrame, traversal: str) -> pd.DataFrame:
    rows = table.index.to_numpy(dtype=np.int64)
    out = pd.DataFrame({
        "image_id": rows, "traversal": traversal, "condition": CONDITION, "timestamp": rows,
        "path": table["path"].to_numpy(), "easting": table["easting"].to_numpy(),
        "northing": table["northing"].to_numpy(), "yaw": np.full(len(table), np.nan),
        "latitude": table["latitude"].to_numpy(), "longitude": table["longitude"].to_numpy(),
    })
    out["traversal"] = out["traversal"].astype("string")
    out["condition"] = out["condition"].astype("string")
    out["path"] = out["path"].astype("string")
    return out[list(SPLIT_IMAGES)]
