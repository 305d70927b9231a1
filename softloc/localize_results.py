"""What `softloc localize` says about each query beyond its top-k: how ambiguous the answer is,
one JSON object per query, and hloc's retrieval pairs.

Ambiguity. Retrieval always names a top-1, even when the runner-up is about as similar and lies
far away (top-1 and top-2 330 m apart at feature distances 1.09 and 1.23). Two numbers per query:

- `distance_ratio`: top-1 feature distance / top-2 feature distance (<= 1; near 1 = the best
  match is barely better than the next: Lowe's ratio test reads it the same way);
- `spread_m`: the largest distance in metres from the top-1 reference's position to any other
  top-k reference's position (0 when the alternatives agree on the place).

A query is `ambiguous` when both exceed their thresholds (CLI options, not params: they only
label the output): the runner-up is nearly as similar AND the candidates disagree on the place.
Defaults: ratio 0.8 (Lowe's ratio test), spread 25 m (the recall radius of the evaluation).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from softloc.io import atomic_path

DEFAULT_MAX_RATIO = 0.8
DEFAULT_MAX_SPREAD_M = 25.0
CANDIDATE_FIELDS = ["rank", "reference", "reference_row", "easting", "northing", "utm_zone", "latitude",
                    "longitude", "feature_distance"]


def ambiguity(result: pd.DataFrame, max_ratio: float = DEFAULT_MAX_RATIO,
              max_spread_m: float = DEFAULT_MAX_SPREAD_M) -> pd.DataFrame:
    """Per query (in result order): distance_ratio, spread_m and the ambiguous flag (see the module
    docstring). With top-1 only, the ratio is NaN and no query is ambiguous."""
    rows = []
    for query, group in result.groupby("query", sort=False):
        group = group.sort_values("rank")
        distances = group["feature_distance"].to_numpy(np.float64)
        east, north = group["easting"].to_numpy(np.float64), group["northing"].to_numpy(np.float64)
        ratio = float(distances[0] / distances[1]) if len(distances) > 1 and distances[1] > 0 else math.nan
        spread = float(np.max(np.hypot(east - east[0], north - north[0]))) if len(east) else math.nan
        rows.append({"query": query, "distance_ratio": ratio, "spread_m": spread,
                     "ambiguous": bool(ratio > max_ratio and spread > max_spread_m)})
    return pd.DataFrame(rows, columns=["query", "distance_ratio", "spread_m", "ambiguous"])


def ambiguity_line(row: Any, max_ratio: float, max_spread_m: float) -> str:
    """"  AMBIGUOUS: ..." for a flagged query (one row of `ambiguity`), "" otherwise."""
    if not row.ambiguous:
        return ""
    return (f"  AMBIGUOUS: top-1/top-2 feature distance {row.distance_ratio:.3f} > {max_ratio:g} and the top-k "
            f"lie up to {row.spread_m:.0f} m apart (> {max_spread_m:g} m)")


def _plain(value: Any) -> Any:
    """A JSON-safe scalar: numpy types to Python, NaN to None."""
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if not math.isfinite(float(value)) else float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def query_records(result: pd.DataFrame, flags: pd.DataFrame) -> list[dict[str, Any]]:
    """One object per query: its path, the ambiguity fields and the top-k list (reference path,
    row, UTM and latitude/longitude, feature distance), rank 1 first."""
    by_query = flags.set_index("query")
    records = []
    for query, group in result.groupby("query", sort=False):
        flag = by_query.loc[query]
        candidates = [{k: _plain(v) for k, v in zip(CANDIDATE_FIELDS, row)}
                      for row in group.sort_values("rank")[CANDIDATE_FIELDS].itertuples(index=False)]
        records.append({"query": str(query), "ambiguous": bool(flag["ambiguous"]),
                        "distance_ratio": _plain(flag["distance_ratio"]), "spread_m": _plain(flag["spread_m"]),
                        "top_k": candidates})
    return records


def query_names(images: Sequence[Path], given: str | os.PathLike) -> dict[str, str]:
    """Each query's name for hloc: its path relative to the folder given on the command line (the
    file name when a single file was given), as hloc names images relative to its image folder."""
    given = Path(given)
    base = given if given.is_dir() else given.parent
    return {str(p): p.relative_to(base).as_posix() for p in images}


def write_pairs(result: pd.DataFrame, names: dict[str, str], path: str | os.PathLike) -> int:
    """hloc's pairs-from-retrieval file: "query reference" per line, every query's top-k in rank
    order (reference names as the test set's table holds them, relative to its image root).
    Returns the number of pairs; names with a space cannot be written in this format (an error)."""
    lines = []
    for row in result.sort_values(["query", "rank"], kind="stable").itertuples(index=False):
        query, reference = names[row.query], str(row.reference)
        for name in (query, reference):
            if any(c.isspace() for c in name):
                raise ValueError(f"{path}: image name {name!r} holds white space; hloc's pairs format "
                                 "('query reference' per line) cannot hold it")
        lines.append(f"{query} {reference}")
    with atomic_path(path) as tmp:
        Path(tmp).write_text("".join(f"{line}\n" for line in lines))
    return len(lines)
