"""Localization accuracy: a query is localized when its retrieved reference lies within d metres.

The upper bound is the same accuracy for a perfect retrieval: the query's nearest reference by
position. Accuracies are reported per query condition and as the mean over conditions (as the
paper), at fixed thresholds and as curves over d.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

MEAN = "mean"


def retrieval_errors(reference_xy: np.ndarray, query_xy: np.ndarray, top1: np.ndarray) -> np.ndarray:
    """Metric distance between each query and its retrieved (top-1) reference."""
    return np.linalg.norm(reference_xy[top1] - query_xy, axis=1)


def nearest_reference_distances(reference_xy: np.ndarray, query_xy: np.ndarray) -> np.ndarray:
    """Metric distance from each query to its nearest reference by position (the upper bound's error)."""
    distances, _ = cKDTree(np.asarray(reference_xy, dtype=np.float64)).query(np.asarray(query_xy, dtype=np.float64))
    return distances


def accuracy_at(errors: np.ndarray, d: float) -> float:
    """Fraction of queries whose top-1 reference lies within `d` metres."""
    return float(np.mean(errors <= d)) if len(errors) else float("nan")


def accuracy_table(errors: np.ndarray, conditions: np.ndarray, distances_m: np.ndarray) -> pd.DataFrame:
    """Accuracy at each distance (rows) per condition and their mean over conditions (columns).

    Columns are the sorted condition names, then "mean" (unweighted mean over conditions).
    """
    errors = np.asarray(errors, dtype=np.float64)
    conditions = np.asarray(conditions).astype(str)
    distances_m = np.asarray(distances_m, dtype=np.float64)
    if len(errors) != len(conditions):
        raise ValueError(f"{len(errors)} errors but {len(conditions)} query conditions")
    table = pd.DataFrame(index=pd.Index(distances_m, name="d_m"))
    for condition in sorted(set(conditions)):
        e = np.sort(errors[conditions == condition])
        table[condition] = np.searchsorted(e, distances_m, side="right") / len(e)
    table[MEAN] = table.mean(axis=1) if len(table.columns) else np.nan
    return table


def evaluate_localization(
    errors: np.ndarray,
    bound_errors: np.ndarray,
    conditions: np.ndarray,
    thresholds_m: list[float],
    curve_max_m: float,
) -> tuple[dict, pd.DataFrame]:
    """Metrics dict (accuracy and upper bound per condition and mean at each threshold, query
    counts) and the curves over d = 0..curve_max_m in 1 m steps (wide: d_m, accuracy,
    upper_bound for the mean, then accuracy_<condition>, upper_bound_<condition>)."""
    conditions = np.asarray(conditions).astype(str)
    thresholds = np.asarray(thresholds_m, dtype=np.float64)
    accuracy = accuracy_table(errors, conditions, thresholds)
    bound = accuracy_table(bound_errors, conditions, thresholds)
    metrics = {
        "accuracy": _by_threshold(accuracy),
        "upper_bound": _by_threshold(bound),
        "n_queries": {c: int(np.sum(conditions == c)) for c in sorted(set(conditions))},
    }
    d = np.arange(0.0, float(curve_max_m) + 0.5, 1.0)
    acc_curve = accuracy_table(errors, conditions, d)
    bound_curve = accuracy_table(bound_errors, conditions, d)
    curves = pd.DataFrame({"d_m": d, "accuracy": acc_curve[MEAN].to_numpy(),
                           "upper_bound": bound_curve[MEAN].to_numpy()})
    for condition in acc_curve.columns.drop(MEAN):
        curves[f"accuracy_{condition}"] = acc_curve[condition].to_numpy()
        curves[f"upper_bound_{condition}"] = bound_curve[condition].to_numpy()
    return metrics, curves


def threshold_key(d: float) -> str:
    """The metrics key of a threshold, e.g. 5 -> "5m", 7.5 -> "7.5m"."""
    return f"{float(d):g}m"


def _by_threshold(table: pd.DataFrame) -> dict:
    return {threshold_key(d): {c: float(v) for c, v in row.items()} for d, row in table.iterrows()}


def recall_at_n(reference_xy: np.ndarray, query_xy: np.ndarray, topk: np.ndarray,
                ns: tuple[int, ...] = (1, 5, 10, 20), radius_m: float = 25.0) -> dict[int, float]:
    """Recall@N as visual place recognition reports it: the fraction of queries with at least one
    of their N best-ranked references within `radius_m` metres (N in `ns`).

    `topk` (Q, K) holds reference rows, best first, K >= max(ns); -1 marks an empty rank (faiss,
    fewer references than K). Queries without a known position (NaN) are left out; NaN when
    none is left.
    """
    reference_xy = np.asarray(reference_xy, dtype=np.float64)
    query_xy = np.asarray(query_xy, dtype=np.float64).reshape(-1, 2)
    topk = np.asarray(topk, dtype=np.int64)
    if topk.ndim != 2 or len(topk) != len(query_xy) or topk.shape[1] < max(ns):
        raise ValueError(f"recall_at_n: topk of shape {topk.shape}, expected ({len(query_xy)}, K >= {max(ns)})")
    known = np.isfinite(query_xy).all(axis=1)
    if not known.any():
        return {int(n): float("nan") for n in ns}
    ranked = topk[known]
    distances = np.linalg.norm(reference_xy[np.maximum(ranked, 0)] - query_xy[known, None, :], axis=2)   # (Q, K)
    hit = (distances <= radius_m) & (ranked >= 0)
    first_hit = np.where(hit.any(axis=1), hit.argmax(axis=1), topk.shape[1])
    return {int(n): float(np.mean(first_hit < n)) for n in ns}
