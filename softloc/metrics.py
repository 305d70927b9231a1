"""Localization accuracy: a query is localized when its retrieved reference lies within d metres.

The upper bound is the same accuracy for a perfect retrieval: the query's nearest reference by
position. Accuracies are reported per query condition and as the mean over conditions (as the
paper), at fixed thresholds and as curves over d.
"""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True)
class Localization:
    """One evaluated run: compact DVC metrics, the full summary, and the accuracy curves.

    metrics (percent, 2 decimals; what `dvc metrics diff` / `dvc exp show` compare):
        {"mean": {"at_05m": .., "at_10m": .., "at_15m": ..}, "at_10m": {<condition>: ..}}
        (the per-condition block at `headline_m` only when there are several conditions)
    summary (fractions): accuracy and upper bound per threshold and condition, query counts.
    curves (percent): d_m, accuracy per condition and mean, then upper_bound_<condition|mean>.
    """

    metrics: dict
    summary: dict
    curves: pd.DataFrame


def evaluate_localization(
    errors: np.ndarray,
    bound_errors: np.ndarray,
    conditions: np.ndarray,
    thresholds_m: list[float],
    curve_max_m: float,
    headline_m: float,
) -> Localization:
    """Accuracy within each threshold per condition and the mean over conditions (the paper's
    Table 1), the same for a perfect retrieval (upper bound), and curves over d = 0..curve_max_m
    in 1 m steps. `errors` and `bound_errors` are metres per query."""
    conditions = np.asarray(conditions).astype(str)
    thresholds = np.asarray(thresholds_m, dtype=np.float64)
    accuracy = accuracy_table(errors, conditions, thresholds)
    bound = accuracy_table(bound_errors, conditions, thresholds)
    metrics = {MEAN: {threshold_key(d): _percent(v) for d, v in accuracy[MEAN].items()}}
    names = list(accuracy.columns.drop(MEAN))
    if len(names) > 1:
        headline = accuracy_table(errors, conditions, np.array([float(headline_m)]))
        metrics[threshold_key(headline_m)] = {c: _percent(headline[c].iloc[0]) for c in names}
    summary = {
        "accuracy": _by_threshold(accuracy),
        "upper_bound": _by_threshold(bound),
        "n_queries": {c: int(np.sum(conditions == c)) for c in names},
    }
    d = np.arange(0.0, float(curve_max_m) + 0.5, 1.0)
    acc_curve = 100.0 * accuracy_table(errors, conditions, d)
    bound_curve = 100.0 * accuracy_table(bound_errors, conditions, d)
    curves = pd.concat([acc_curve, bound_curve.add_prefix("upper_bound_")], axis=1).reset_index()
    return Localization(metrics, summary, curves)


def recall_at_n(topk_errors: np.ndarray, ns: list[int], radius_m: float) -> dict[str, float]:
    """Recall@N as the place-recognition benchmarks report it: the fraction of queries with at
    least one of their N best-ranked references within `radius_m` metres (`topk_errors`: (Q, K)
    distances of each query's ranked references, best first; N larger than K is an error)."""
    topk_errors = np.asarray(topk_errors, dtype=np.float64)
    if topk_errors.ndim != 2:
        raise ValueError(f"recall_at_n: expected (queries, k) distances, got shape {topk_errors.shape}")
    hit = np.cumsum(topk_errors <= radius_m, axis=1) > 0
    out = {}
    for n in ns:
        if not 1 <= n <= topk_errors.shape[1]:
            raise ValueError(f"recall@{n}: only the {topk_errors.shape[1]} best references were retrieved")
        out[f"at_{n:02d}"] = float(hit[:, n - 1].mean()) if len(hit) else float("nan")
    return out


def threshold_key(d: float) -> str:
    """The metrics key of a threshold, sorting in numeric order: 5 -> "at_05m", 7.5 -> "at_07.5m"."""
    d = float(d)
    return f"at_{int(d):02d}m" if d.is_integer() else f"at_{d:04.1f}m"


def _percent(fraction: float) -> float:
    return round(100.0 * float(fraction), 2)


def _by_threshold(table: pd.DataFrame) -> dict:
    return {threshold_key(d): {c: float(v) for c, v in row.items()} for d, row in table.iterrows()}
