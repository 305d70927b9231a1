"""Localization accuracy and its upper bound on hand-built cases with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from softloc.metrics import (
    accuracy_at,
    accuracy_table,
    evaluate_localization,
    nearest_reference_distances,
    recall_at_n,
    retrieval_errors,
    threshold_key,
)

# References on a line every 10 m; queries with known positions, conditions and retrievals.
REFERENCE_XY = np.array([[0.0, 0.0], [10.0, 0.0], [20.0, 0.0], [30.0, 0.0]])
QUERY_XY = np.array([[1.0, 0.0], [12.0, 0.0], [20.0, 4.0], [29.0, 0.0], [7.0, 0.0]])
CONDITIONS = np.array(["night", "night", "snow", "snow", "snow"])
TOP1 = np.array([0, 3, 2, 0, 1])
# errors: 1, 18, 4, 29, 3 ; nearest reference: 1, 2, 4, 1, 3
ERRORS = np.array([1.0, 18.0, 4.0, 29.0, 3.0])
BOUND = np.array([1.0, 2.0, 4.0, 1.0, 3.0])


def test_retrieval_errors_and_upper_bound_distances() -> None:
    np.testing.assert_allclose(retrieval_errors(REFERENCE_XY, QUERY_XY, TOP1), ERRORS)
    np.testing.assert_allclose(nearest_reference_distances(REFERENCE_XY, QUERY_XY), BOUND)


def test_accuracy_at_counts_queries_within_d_inclusive() -> None:
    assert accuracy_at(ERRORS, 4.0) == pytest.approx(3 / 5)
    assert accuracy_at(ERRORS, 3.9) == pytest.approx(2 / 5)
    assert accuracy_at(ERRORS, 0.5) == 0.0
    assert np.isnan(accuracy_at(np.array([]), 5.0))


def test_accuracy_per_condition_and_mean_over_conditions() -> None:
    table = accuracy_table(ERRORS, CONDITIONS, np.array([5.0, 20.0]))
    assert list(table.columns) == ["night", "snow", "mean"]
    # night: errors 1, 18 -> 1/2 within 5 m, 2/2 within 20 m; snow: 4, 29, 3 -> 2/3, 2/3.
    np.testing.assert_allclose(table["night"], [0.5, 1.0])
    np.testing.assert_allclose(table["snow"], [2 / 3, 2 / 3])
    # The mean is over conditions (as the paper), not over queries (which would be 3/5, 4/5).
    np.testing.assert_allclose(table["mean"], [(0.5 + 2 / 3) / 2, (1.0 + 2 / 3) / 2])


def test_evaluate_localization_metrics_summary_and_curves() -> None:
    result = evaluate_localization(ERRORS, BOUND, CONDITIONS, [5, 10, 15], curve_max_m=25, headline_m=10)
    # compact DVC metrics in percent: the mean at every threshold, each condition at 10 m
    assert result.metrics == {"mean": {"at_05m": 58.33, "at_10m": 58.33, "at_15m": 58.33},
                              "at_10m": {"night": 50.0, "snow": 66.67}}
    assert result.summary["n_queries"] == {"night": 2, "snow": 3}
    assert result.summary["accuracy"]["at_05m"]["night"] == pytest.approx(0.5)
    assert result.summary["accuracy"]["at_15m"]["snow"] == pytest.approx(2 / 3)
    assert result.summary["upper_bound"]["at_05m"] == {"night": 1.0, "snow": 1.0, "mean": 1.0}
    curves = result.curves
    np.testing.assert_allclose(curves["d_m"], np.arange(26))
    assert list(curves.columns) == ["d_m", "night", "snow", "mean", "upper_bound_night", "upper_bound_snow",
                                    "upper_bound_mean"]
    # Curves are monotone, bounded by the upper bound, and match the thresholds' values.
    assert np.all(np.diff(curves["mean"]) >= 0)
    assert np.all(curves["mean"] <= curves["upper_bound_mean"] + 1e-12)
    assert curves.loc[curves.d_m == 10, "mean"].item() == pytest.approx(100 * (0.5 + 2 / 3) / 2)
    # d = 0: nothing localized; d = 25: only the 29 m error remains.
    assert curves["mean"].iloc[0] == 0.0
    assert curves["snow"].iloc[-1] == pytest.approx(100 * 2 / 3)
    assert curves["upper_bound_mean"].iloc[-1] == 100.0


def test_a_single_condition_has_no_per_condition_block() -> None:
    result = evaluate_localization(ERRORS, BOUND, np.full(5, "pittsburgh"), [5, 10], curve_max_m=5, headline_m=10)
    assert result.metrics == {"mean": {"at_05m": 60.0, "at_10m": 60.0}}


def test_threshold_keys_sort_in_numeric_order() -> None:
    keys = [threshold_key(d) for d in (5, 7.5, 10, 15, 25)]
    assert keys == ["at_05m", "at_07.5m", "at_10m", "at_15m", "at_25m"] and sorted(keys) == keys


def test_recall_at_n_counts_a_hit_among_the_n_best() -> None:
    # per query: distances of its 3 ranked references
    topk = np.array([[30.0, 5.0, 50.0], [1.0, 90.0, 90.0], [40.0, 60.0, 26.0], [24.9, 0.0, 0.0]])
    assert recall_at_n(topk, [1, 2, 3], radius_m=25.0) == {"at_01": 0.5, "at_02": 0.75, "at_03": 0.75}
    with pytest.raises(ValueError, match="recall@5"):
        recall_at_n(topk, [5], radius_m=25.0)
