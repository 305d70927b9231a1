"""95% intervals for localization accuracy: a block bootstrap over stretches of road.

Table 1's numbers are fractions of queries localized. Queries a metre apart along one road see
nearly the same scene, so whether they are localized is strongly correlated: resampling single
queries as if they were independent makes intervals too narrow (tests/test_stats.py shows an
i.i.d. bootstrap covering the truth far below the nominal 95% on such data). We resample blocks
instead: each test set's plane is cut into square cells of side `block_m` (a cell holds a stretch
of road of about that length, with every query of every condition on it), and a bootstrap sample
draws cells with replacement. Different test sets are resampled independently (strata).

The block length comes from the data (`choose_block_length`): the correlogram of per-query
correctness (localized or not at the headline threshold, centred per run and condition, pooled
over every method, seed and condition of the test set) in lags of one query spacing, then Politis
and White's (2004, with Patton et al.'s 2009 correction) automatic block length for the circular
block bootstrap of a mean. Their rule picks the lag after which the correlogram stays
insignificant, weighs the correlations up to twice that lag with a flat-top window, and returns
b = (2 G^2 / D)^(1/3) n^(1/3) observations; times the query spacing that is metres.

Intervals are scipy.stats.bootstrap's BCa intervals of one vector statistic: every method's
accuracy per (test set, condition), every method's mean over all conditions (the paper's mean:
unweighted over the conditions of every test set), and the paired differences of one reference
method against every other method's mean. "Paired": the same resampled stretches of road for
every method and seed, so what the queries have in common cancels. The resampled block indices
depend only on the seed and the test sets' block counts, never on the methods: a method's interval
(and its difference to the reference) does not move when another method is added, changed or
removed, as long as the blocks stay (softloc.report.analysis chooses the block length from the
reference and baseline methods only, for that reason). With several seeds a method's
accuracy is its mean over seeds; the intervals are conditional on those seeds (the spread over
seeds is reported beside them). A statistic that every resample gives the same value (two
identical methods, a condition at 0% or 100%) gets a zero-width interval at that value.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial import cKDTree

MEAN = "mean"


@dataclass(frozen=True)
class Outcomes:
    """One test set's queries as the bootstrap sees them.

    blocks: (Q,) block (cell) id of each query, 0..n_blocks-1 (see `grid_blocks`).
    conditions: (Q,) condition name of each query.
    correct: method -> (n_seeds, Q) bool, the query localized within the threshold in that seed's
        run. Every method has the same seeds in the same order.
    """

    testset: str
    blocks: np.ndarray
    conditions: np.ndarray
    correct: Mapping[str, np.ndarray]


@dataclass(frozen=True)
class Intervals:
    """Bootstrap estimates (percent): `accuracy` has one row per (method, testset, condition) plus
    per method the mean over all conditions (testset "", condition "mean"); `difference` one row
    per other method: reference minus method at the mean, and whether the interval excludes 0;
    `gain` one row per other method: method minus the baseline at the mean (empty without one)."""

    accuracy: pd.DataFrame   # method, testset, condition, estimate, low, high
    difference: pd.DataFrame  # method, estimate, low, high, excludes_zero
    reference: str
    confidence: float
    n_resamples: int
    gain: pd.DataFrame        # method, estimate, low, high, excludes_zero


def grid_blocks(easting: np.ndarray, northing: np.ndarray, block_m: float) -> np.ndarray:
    """Block id of each query: the square cell of side `block_m` metres it lies in, cells counted
    from the south-west corner of the queries' bounding box; ids are 0..n_cells_used-1 in the
    order of (column, row). Positions must be finite."""
    xy = np.column_stack([easting, northing]).astype(np.float64)
    if not np.isfinite(xy).all():
        raise ValueError("grid_blocks: every query needs a finite easting/northing")
    if not block_m > 0:
        raise ValueError(f"grid_blocks: block_m must be > 0, got {block_m}")
    cells = np.floor((xy - xy.min(axis=0)) / block_m).astype(np.int64)
    _, ids = np.unique(cells, axis=0, return_inverse=True)
    return ids.ravel().astype(np.int64)


@dataclass(frozen=True)
class BlockLength:
    """The chosen block length and the correlogram it came from (for the report's figure)."""

    block_m: float
    spacing_m: float          # one lag: the median distance between neighbouring queries of a condition
    lags: np.ndarray          # lag k (in spacings), 1..max
    rho: np.ndarray           # pooled correlation of correctness at lag k
    significance: float       # |rho| below this is insignificant (Politis & White's c sqrt(log10 n / n))
    m_hat: int                # lags after which the correlogram stays insignificant
    n: int                    # series length used in the rule (median queries per condition)


def correlogram(easting: np.ndarray, northing: np.ndarray, conditions: np.ndarray, correct: np.ndarray,
                spacing_m: float, max_lag: int) -> np.ndarray:
    """Pooled correlation of correctness between queries of one condition k spacings apart
    (k = 1..max_lag; pairs closer than half a spacing are skipped; NaN at a lag without pairs or
    without variance). `correct`: (runs, Q) bool;
    each run and condition is centred on its own mean, and the products of pairs are summed over
    runs and conditions before dividing by the summed variances."""
    xy = np.column_stack([easting, northing]).astype(np.float64)
    conditions = np.asarray(conditions).astype(str)
    correct = np.atleast_2d(np.asarray(correct, dtype=np.float64))
    products = np.zeros(max_lag + 1)
    variances = np.zeros(max_lag + 1)
    for condition in np.unique(conditions):
        rows = np.flatnonzero(conditions == condition)
        pairs = cKDTree(xy[rows]).query_pairs((max_lag + 0.5) * spacing_m, output_type="ndarray")
        if not len(pairs):
            continue
        lag = np.rint(np.linalg.norm(xy[rows[pairs[:, 0]]] - xy[rows[pairs[:, 1]]], axis=1) / spacing_m).astype(int)
        keep = (lag >= 1) & (lag <= max_lag)
        pairs, lag = pairs[keep], lag[keep]
        counts = np.bincount(lag, minlength=max_lag + 1)
        x = correct[:, rows] - correct[:, rows].mean(axis=1, keepdims=True)
        for run in x:
            products += np.bincount(lag, weights=run[pairs[:, 0]] * run[pairs[:, 1]], minlength=max_lag + 1)
            variances += counts * run.var()
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = np.where(variances > 0, products / np.where(variances > 0, variances, 1.0), np.nan)
    return rho[1:]


def query_spacing(easting: np.ndarray, northing: np.ndarray, conditions: np.ndarray) -> float:
    """Median distance from a query place to the nearest other place of its condition (metres).
    Places, not queries: several queries at one position (Pittsburgh's views of one place) count
    once, and always share a block."""
    xy = np.column_stack([easting, northing]).astype(np.float64)
    conditions = np.asarray(conditions).astype(str)
    nearest = []
    for condition in np.unique(conditions):
        places = np.unique(xy[conditions == condition], axis=0)
        if len(places) > 1:
            distances, _ = cKDTree(places).query(places, k=2)
            nearest.append(distances[:, 1])
    if not nearest:
        raise ValueError("query_spacing: no condition has queries at two places")
    return max(float(np.median(np.concatenate(nearest))), 1e-3)


def choose_block_length(easting: np.ndarray, northing: np.ndarray, conditions: np.ndarray,
                        correct: np.ndarray, max_lag: int = 200) -> BlockLength:
    """Politis and White's automatic block length (circular block bootstrap of a mean) from the
    pooled correlogram of correctness along the road; see the module docstring. `correct`:
    (runs, Q) bool over every (method, seed) run of the test set."""
    conditions = np.asarray(conditions).astype(str)
    spacing = query_spacing(easting, northing, conditions)
    n = int(np.median(np.unique(conditions, return_counts=True)[1]))
    max_lag = int(min(max_lag, max(n // 2, 2)))
    rho = correlogram(easting, northing, conditions, correct, spacing, max_lag)
    k_n = max(5, int(math.sqrt(math.log10(max(n, 10)))))
    significance = 2.0 * math.sqrt(math.log10(max(n, 10)) / n)
    m_hat = _insignificant_after(rho, significance, k_n)
    big_m = min(2 * m_hat, len(rho))
    k = np.arange(1, big_m + 1)
    window = _flat_top(k / big_m) if big_m else np.zeros(0)
    r = np.nan_to_num(rho[:big_m])                       # a lag without pairs adds nothing
    g = 2.0 * np.sum(window * k * r)                     # sum over |k| <= M of lambda(k/M) |k| R(k) / R(0)
    spectrum = 1.0 + 2.0 * np.sum(window * r)            # sum over |k| <= M of lambda(k/M) R(k) / R(0)
    if spectrum <= 0 or g == 0:
        b = 1.0
    else:
        b = (2.0 * g**2 / ((4.0 / 3.0) * spectrum**2)) ** (1.0 / 3.0) * n ** (1.0 / 3.0)
    b = float(np.clip(b, 1.0, max(n / 3.0, 1.0)))  # at least one query, at most a third of the road
    return BlockLength(b * spacing, spacing, np.arange(1, len(rho) + 1), rho, significance, m_hat, n)


def bootstrap_accuracy(outcomes: Sequence[Outcomes], reference: str | None, confidence: float = 0.95,
                       n_resamples: int = 2000, seed: int = 0, baseline: str | None = None) -> Intervals:
    """Block-bootstrap intervals (BCa) of every method's accuracy per condition and mean, of
    `reference` minus every other method at the mean, and of every other method minus `baseline`
    (an untrained network: what training gained) at the mean (None: no such rows). Percent.
    All from the same resamples, so each difference is paired."""
    if not outcomes:
        raise ValueError("bootstrap_accuracy: no test set to resample")
    methods = list(outcomes[0].correct)
    for o in outcomes:
        if list(o.correct) != methods:
            raise ValueError(f"test set {o.testset}: methods {list(o.correct)} differ from {methods}")
    for role, name in (("reference", reference), ("baseline", baseline)):
        if name is not None and name not in methods:
            raise ValueError(f"{role} method {name!r} is not among {methods}")
    strata = [_Stratum.of(o) for o in outcomes]
    others = [m for m in methods if m != reference] if reference is not None else []
    ref_index = methods.index(reference) if reference is not None else None
    other_index = [methods.index(m) for m in others]
    trained = [m for m in methods if m != baseline] if baseline is not None else []
    base_index = methods.index(baseline) if baseline is not None else None
    trained_index = [methods.index(m) for m in trained]

    def statistic(*indices: np.ndarray, axis: int = -1) -> np.ndarray:
        per_condition = np.concatenate([s.accuracy(idx) for s, idx in zip(strata, indices)], axis=1)  # (B, C, M)
        mean = per_condition.mean(axis=1)                                                             # (B, M)
        parts = [per_condition.reshape(len(per_condition), -1), mean]
        if ref_index is not None:
            parts.append(mean[:, [ref_index]] - mean[:, other_index])
        if base_index is not None:
            parts.append(mean[:, trained_index] - mean[:, [base_index]])
        values = 100.0 * np.concatenate(parts, axis=1).T                                             # (n_stats, B)
        return values[:, 0] if all(np.ndim(i) == 1 for i in indices) else values

    data = tuple(np.arange(s.n_blocks) for s in strata)
    point = statistic(*data)
    with warnings.catch_warnings():
        # Degenerate components (identical methods, 0% / 100%) are handled below.
        warnings.filterwarnings("ignore", category=stats.DegenerateDataWarning)
        warnings.filterwarnings("ignore", message="invalid value encountered", category=RuntimeWarning)
        result = stats.bootstrap(data, statistic, vectorized=True, paired=False, confidence_level=confidence,
                                 n_resamples=n_resamples, method="BCa", rng=np.random.default_rng(seed))
    low, high = result.confidence_interval.low, result.confidence_interval.high
    flat = np.ptp(result.bootstrap_distribution, axis=-1) == 0
    low, high = np.where(flat, point, low), np.where(flat, point, high)

    columns = [(s.testset, c) for s in strata for c in s.conditions]
    rows = [(m, t, c) for t, c in columns for m in methods] + [(m, "", MEAN) for m in methods]
    accuracy = pd.DataFrame(rows, columns=["method", "testset", "condition"])
    n_acc = len(rows)
    accuracy["estimate"], accuracy["low"], accuracy["high"] = point[:n_acc], low[:n_acc], high[:n_acc]
    n_diff = n_acc + len(others)
    difference = _paired(others, point[n_acc:n_diff], low[n_acc:n_diff], high[n_acc:n_diff])
    gain = _paired(trained, point[n_diff:], low[n_diff:], high[n_diff:])
    return Intervals(accuracy, difference, reference or "", confidence, n_resamples, gain)


def _paired(methods: list[str], estimate: np.ndarray, low: np.ndarray, high: np.ndarray) -> pd.DataFrame:
    """Paired differences per method with their interval and whether it excludes 0."""
    table = pd.DataFrame({"method": methods, "estimate": estimate, "low": low, "high": high})
    table["excludes_zero"] = (table["low"] > 0) | (table["high"] < 0)
    return table


@dataclass(frozen=True)
class _Stratum:
    """One test set's block sums: queries per (block, condition) and localized queries per
    (block, condition, method, seed), so that a resample is a matrix product."""

    testset: str
    conditions: list[str]
    counts: np.ndarray   # (n_blocks, C)
    hits: np.ndarray     # (n_blocks, C * M * S)
    shape: tuple[int, int, int]  # (C, M, S)

    @property
    def n_blocks(self) -> int:
        return len(self.counts)

    @classmethod
    def of(cls, o: Outcomes) -> _Stratum:
        conditions, cond_index = np.unique(np.asarray(o.conditions).astype(str), return_inverse=True)
        blocks = np.asarray(o.blocks, dtype=np.int64)
        n_blocks = int(blocks.max()) + 1
        correct = np.stack([np.atleast_2d(o.correct[m]) for m in o.correct], axis=1)  # (S, M, Q)
        n_seeds, n_methods, n_queries = correct.shape
        if len(blocks) != n_queries or len(cond_index) != n_queries:
            raise ValueError(f"test set {o.testset}: {len(blocks)} blocks, {len(cond_index)} conditions, "
                             f"{n_queries} outcomes per run: expected one of each per query")
        cell = blocks * len(conditions) + cond_index
        counts = np.bincount(cell, minlength=n_blocks * len(conditions)).reshape(n_blocks, len(conditions))
        for c, name in enumerate(conditions):
            if np.count_nonzero(counts[:, c]) < 2:
                raise ValueError(f"test set {o.testset}: condition {name!r} lies in fewer than 2 blocks; "
                                 "use shorter blocks or more queries")
        hits = np.zeros((n_blocks * len(conditions), n_methods, n_seeds))
        np.add.at(hits, cell, correct.transpose(2, 1, 0).astype(np.float64))
        hits = hits.reshape(n_blocks, len(conditions) * n_methods * n_seeds)
        return cls(o.testset, list(conditions), counts.astype(np.float64), hits,
                   (len(conditions), n_methods, n_seeds))

    def accuracy(self, indices: np.ndarray) -> np.ndarray:
        """(B, C, M) accuracy, mean over seeds, of each resample of block indices (B, n_blocks)."""
        indices = np.atleast_2d(indices)
        n_batch = len(indices)
        flat = indices + self.n_blocks * np.arange(n_batch)[:, None]
        weights = np.bincount(flat.ravel(), minlength=n_batch * self.n_blocks).reshape(n_batch, self.n_blocks)
        counts = weights @ self.counts                                   # (B, C)
        hits = (weights @ self.hits).reshape(n_batch, *self.shape)       # (B, C, M, S)
        return hits.mean(axis=3) / counts[:, :, None]


def _insignificant_after(rho: np.ndarray, threshold: float, k_n: int) -> int:
    """Politis' rule: the smallest m such that rho at lags m+1..m+k_n are all insignificant."""
    small = ~(np.abs(rho) >= threshold)   # NaN (no pairs at that lag) counts as insignificant
    for m in range(len(rho)):
        if small[m:m + k_n].all():
            return m
    return len(rho)


def _flat_top(t: np.ndarray) -> np.ndarray:
    """Politis and Romano's trapezoidal flat-top lag window."""
    t = np.abs(t)
    return np.where(t <= 0.5, 1.0, np.where(t <= 1.0, 2.0 * (1.0 - t), 0.0))
