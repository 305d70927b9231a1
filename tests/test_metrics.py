"""Localization accuracy and its upper bound on hand-built cases with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from softloc.metrics import (
    accuracy_at,
    accuracy_table,
    evaluate_localization,
    nearest_reference_distances,
    retrieval_errors,
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


def test_evaluate_localization_metrics_and_curves() -> None:
    metrics, curves = evaluate_localization(ERRORS, BOUND, CONDITIONS, [5, 10, 15], curve_max_m=25)
    assert metrics["n_queries"] == {"night": 2, "snow": 3}
    assert metrics["accuracy"]["5m"]["night"] == pytest.approx(0.5)
    assert metrics["accuracy"]["15m"]["snow"] == pytest.approx(2 / 3)
    assert metrics["upper_bound"]["5m"] == {"night": 1.0, "snow": 1.0, "mean": 1.0}
    np.testing.assert_allclose(curves["d_m"], np.arange(26))
    assert list(curves.columns[:3]) == ["d_m", "accuracy", "upper_bound"]
    assert {"accuracy_night", "upper_bound_snow"} <= set(curves.columns)
    # Curves are monotone, bounded by the upper bound, and match the thresholds' values.
    assert np.all(np.diff(curves["accuracy"]) >= 0)
    assert np.all(curves["accuracy"] <= curves["upper_bound"] + 1e-12)
    assert curves.loc[curves.d_m == 10, "accuracy"].item() == pytest.approx(metrics["accuracy"]["10m"]["mean"])
    # d = 0: nothing localized; d = 25: only the 29 m error remains.
    assert curves["accuracy"].iloc[0] == 0.0
    assert curves["accuracy_snow"].iloc[-1] == pytest.approx(2 / 3)
    assert curves["upper_bound"].iloc[-1] == 1.0


def test_recall_at_n_within_radius() -> None:
    from softloc.metrics import recall_at_n

    # References every 10 m on a line; ranked lists chosen by hand (best first).
    reference_xy = np.array([[0.0, 0.0], [10.0, 0.0], [20.0, 0.0], [100.0, 0.0], [200.0, 0.0]])
    query_xy = np.array([[1.0, 0.0], [99.0, 0.0], [150.0, 0.0], [np.nan, np.nan], [205.0, 0.0]])
    topk = np.array([[0, 1, 2], [4, 3, 0], [3, 4, 0], [0, 1, 2], [-1, -1, 4]])
    # query 0: rank 1 within 25 m; query 1: rank 2; query 2: none (both 50 m away); query 3: no
    # position, left out; query 4: empty ranks (-1) then the hit at rank 3.
    assert recall_at_n(reference_xy, query_xy, topk, ns=(1, 2, 3)) == {1: 0.25, 2: 0.5, 3: 0.75}
    assert recall_at_n(reference_xy, query_xy, topk, ns=(1,), radius_m=0.5) == {1: 0.0}
    with pytest.raises(ValueError, match=r"expected \(5, K >= 5\)"):
        recall_at_n(reference_xy, query_xy, topk, ns=(1, 5))
