"""Localization accuracy: a query is localized when its retrieved reference lies within d metres."""

from __future__ import annotations

import numpy as np


def retrieval_errors(reference_xy: np.ndarray, query_xy: np.ndarray, top1: np.ndarray) -> np.ndarray:
    """Metric distance between each query and its retrieved (top-1) reference."""
    return np.linalg.norm(reference_xy[top1] - query_xy, axis=1)


def accuracy_at(errors: np.ndarray, d: float) -> float:
    """Fraction of queries whose top-1 reference lies within `d` metres."""
    return float(np.mean(errors <= d)) if len(errors) else float("nan")
