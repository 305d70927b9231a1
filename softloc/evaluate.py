"""The evaluate stage's logic: retrieve every query among the references, then measure.

Retrieval is exact (faiss) and stays within one camera when the test set has several (the
Seasons benchmarks: a left-camera query is matched to left-camera references). Per query it keeps
the `k` best references, the top-1 feature distance, the top-1 localization error and the upper
bound's error (the nearest reference by position); queries whose position the dataset withholds
get NaN errors and are left out of the accuracy, counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from softloc.config import Evaluate
from softloc.metrics import evaluate_localization, nearest_reference_distances, recall_at_n
from softloc.retrieval import search_topk

# data/eval/<method>/seed<s>/<testset>/retrievals.parquet: one row per query, in query order.
RETRIEVALS = {
    "query": "int64",               # row of the test set's queries.parquet
    "condition": "string",
    "top1": "int64",                # row of reference.parquet
    "topk": "list<int64>",          # the k best references, best first
    "feature_distance": "float32",  # L2 distance of the top-1 (whitened, normalised features)
    "error_m": "float64",           # metres between the query and its top-1; NaN: position unknown
    "nearest_reference_m": "float64",  # metres to the nearest reference (the upper bound's error)
}


@dataclass(frozen=True)
class Evaluation:
    """What evaluate writes: per-query retrievals, compact metrics, the summary and the curves."""

    retrievals: pd.DataFrame
    metrics: dict[str, Any]
    summary: dict[str, Any]
    curves: pd.DataFrame


def retrieve(reference_features: np.ndarray, query_features: np.ndarray, reference_cameras: np.ndarray,
             query_cameras: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(Q, k') best reference rows per query, searching only references of the query's camera, and
    the top-1 squared feature distances; k' = min(k, the fewest references any query camera has).
    A query camera without references is an error."""
    cameras = sorted(set(query_cameras.tolist()))
    per_camera = {camera: np.flatnonzero(reference_cameras == camera) for camera in cameras}
    empty = [camera for camera, rows in per_camera.items() if len(rows) == 0]
    if empty:
        raise ValueError(f"camera {empty[0]!r}: queries but no reference of that camera to retrieve from "
                         f"(reference cameras: {sorted(set(reference_cameras.tolist()))})")
    k = min([int(k)] + [len(rows) for rows in per_camera.values()])
    topk = np.empty((len(query_features), k), dtype=np.int64)
    top1_sq = np.empty(len(query_features), dtype=np.float32)
    for camera, r_rows in per_camera.items():
        q_rows = np.flatnonzero(query_cameras == camera)
        idx, dist = search_topk(reference_features[r_rows], query_features[q_rows], k)
        topk[q_rows] = r_rows[idx]
        top1_sq[q_rows] = dist[:, 0]
    return topk, top1_sq


def evaluate_testset(reference: pd.DataFrame, queries: pd.DataFrame, reference_features: np.ndarray,
                     query_features: np.ndarray, cfg: Evaluate) -> Evaluation:
    """Retrieve and measure one (method, seed, test set) run; `cfg` is params `evaluate`."""
    topk, top1_sq = retrieve(reference_features, query_features, reference["camera"].to_numpy(str),
                             queries["camera"].to_numpy(str), cfg.top_k)
    ref_xy = reference[["easting", "northing"]].to_numpy(np.float64)
    query_xy = queries[["easting", "northing"]].to_numpy(np.float64)
    topk_errors = np.linalg.norm(ref_xy[topk] - query_xy[:, None, :], axis=2)
    known = np.isfinite(query_xy).all(axis=1)
    bound = np.full(len(queries), np.nan)
    if known.any():
        bound[known] = nearest_reference_distances(ref_xy, query_xy[known])
    retrievals = pd.DataFrame({
        "query": np.arange(len(queries), dtype=np.int64),
        "condition": queries["condition"].astype("string").to_numpy(),
        "top1": topk[:, 0],
        "topk": _list_column(topk),
        "feature_distance": np.sqrt(np.maximum(top1_sq, 0.0)).astype(np.float32),
        "error_m": topk_errors[:, 0],
        "nearest_reference_m": bound,
    })
    conditions = queries["condition"].to_numpy(str)
    if not known.any():
        return Evaluation(retrievals, {}, {"n_queries": len(queries), "n_queries_position_unknown": len(queries),
                                           "n_reference": len(reference)}, pd.DataFrame())
    result = evaluate_localization(topk_errors[known, 0], bound[known], conditions[known],
                                   cfg.thresholds_m, cfg.curve_max_m, cfg.headline_m)
    summary = {**result.summary,
               "n_reference": len(reference),
               "n_queries_position_unknown": int((~known).sum()),
               "median_error_m": float(np.median(topk_errors[known, 0])),
               "recall": recall_at_n(topk_errors[known], [n for n in cfg.recall_at if n <= topk.shape[1]],
                                     cfg.recall_radius_m),
               "recall_radius_m": cfg.recall_radius_m}
    return Evaluation(retrievals, result.metrics, summary, result.curves)


def _list_column(rows: np.ndarray) -> pd.arrays.ArrowExtensionArray:
    """A (Q, k) array as an Arrow list<int64> column (one list per row), without Python lists."""
    offsets = pa.array(np.arange(0, rows.size + 1, rows.shape[1], dtype=np.int32))
    return pd.arrays.ArrowExtensionArray(pa.ListArray.from_arrays(offsets, pa.array(rows.ravel())))
