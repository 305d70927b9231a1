"""Block-bootstrap intervals on hand-built cases whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from softloc.stats import Outcomes, bootstrap_accuracy, choose_block_length, grid_blocks


def road(n_queries: int, spacing_m: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Queries along a straight east-west road."""
    return np.arange(n_queries) * spacing_m, np.full(n_queries, 5.0e6)


def segment_correctness(rng: np.random.Generator, n_queries: int, segment: int, p_low: float,
                        p_high: float) -> np.ndarray:
    """Correlated along the road: each `segment` consecutive queries share a success rate, p_low or
    p_high with equal chance, so the truth (expected accuracy) is their mean."""
    rates = np.where(rng.random(-(-n_queries // segment)) < 0.5, p_low, p_high)
    return rng.random(n_queries) < np.repeat(rates, segment)[:n_queries]


def test_grid_blocks_are_cells_of_the_given_side() -> None:
    east = np.array([0.0, 9.9, 10.0, 25.0, 0.0])
    north = np.array([0.0, 0.0, 0.0, 0.0, 10.5])
    # cells (column, row): (0, 0), (0, 0), (1, 0), (2, 0), (0, 1), numbered in sorted order
    assert grid_blocks(east, north, 10.0).tolist() == [0, 0, 2, 3, 1]
    with pytest.raises(ValueError, match="finite"):
        grid_blocks(np.array([np.nan]), np.array([0.0]), 10.0)


def test_point_estimates_are_accuracy_and_the_unweighted_mean_over_conditions() -> None:
    east, north = road(40)
    conditions = np.repeat(["night", "sunny"], [20, 20])
    east = np.concatenate([east[:20], east[:20]])
    soft = np.array([1] * 15 + [0] * 5 + [1] * 10 + [0] * 10, bool)   # night 75%, sunny 50%
    tri = np.array([1] * 5 + [0] * 15 + [1] * 10 + [0] * 10, bool)    # night 25%, sunny 50%
    single = Outcomes("pitt", np.arange(10) // 2, np.full(10, "pittsburgh"),
                      {"soft": np.ones(10, bool), "triplet": np.arange(10) < 4})
    outcomes = [Outcomes("car", grid_blocks(east, north, 5.0), conditions, {"soft": soft, "triplet": tri}), single]
    result = bootstrap_accuracy(outcomes, reference="soft", n_resamples=500)
    acc = result.accuracy.set_index(["method", "testset", "condition"])["estimate"]
    assert acc["soft", "car", "night"] == pytest.approx(75.0)
    assert acc["triplet", "pitt", "pittsburgh"] == pytest.approx(40.0)
    # The paper's mean: unweighted over the three conditions of both test sets.
    assert acc["soft", "", "mean"] == pytest.approx((75 + 50 + 100) / 3)
    assert acc["triplet", "", "mean"] == pytest.approx((25 + 50 + 40) / 3)
    diff = result.difference.set_index("method").loc["triplet"]
    assert diff["estimate"] == pytest.approx((75 + 50 + 100) / 3 - (25 + 50 + 40) / 3)
    assert result.gain.empty
    # The gain over a baseline runs the other way: the row minus the baseline.
    gain = bootstrap_accuracy(outcomes, reference=None, baseline="triplet", n_resamples=500).gain
    assert gain["method"].tolist() == ["soft"]
    assert gain["estimate"].iloc[0] == pytest.approx(diff["estimate"])
    assert ((result.accuracy["low"] <= result.accuracy["estimate"] + 1e-9)
            & (result.accuracy["estimate"] <= result.accuracy["high"] + 1e-9)).all()


def test_identical_methods_differ_by_exactly_zero_with_a_zero_width_interval() -> None:
    rng = np.random.default_rng(0)
    east, north = road(300)
    correct = segment_correctness(rng, 300, 10, 0.3, 0.8)
    seeds = np.stack([correct, np.roll(correct, 7)])   # two seeds, the same for both methods
    outcomes = [Outcomes("car", grid_blocks(east, north, 10.0), np.full(300, "night"),
                         {"soft": seeds, "copy": seeds.copy()})]
    diff = bootstrap_accuracy(outcomes, reference="soft", n_resamples=500).difference.iloc[0]
    assert (diff["estimate"], diff["low"], diff["high"]) == (0.0, 0.0, 0.0)
    assert not diff["excludes_zero"]


def test_a_constructed_gap_is_inside_the_interval_and_the_interval_excludes_zero() -> None:
    rng = np.random.default_rng(1)
    east, north = road(600)
    good = segment_correctness(rng, 600, 10, 0.6, 1.0)     # truth 80%
    bad = segment_correctness(rng, 600, 10, 0.3, 0.7)      # truth 50%
    outcomes = [Outcomes("car", grid_blocks(east, north, 10.0), np.full(600, "sunny"), {"soft": good, "bad": bad})]
    diff = bootstrap_accuracy(outcomes, reference="soft", n_resamples=1000).difference.iloc[0]
    assert diff["low"] > 0 and diff["excludes_zero"]
    assert diff["low"] < 30.0 < diff["high"]


def coverage(block_m: float, replicates: int) -> float:
    """Share of replicates whose 95% interval covers the truth (50%) on road-correlated data."""
    east, north = road(400)
    covered = 0
    for seed in range(replicates):
        rng = np.random.default_rng(100 + seed)
        correct = segment_correctness(rng, 400, 10, 0.1, 0.9)
        outcomes = [Outcomes("car", grid_blocks(east, north, block_m), np.full(400, "night"), {"m": correct})]
        row = bootstrap_accuracy(outcomes, reference=None, n_resamples=999, seed=seed).accuracy.iloc[0]
        covered += row["low"] <= 50.0 <= row["high"]
    return covered / replicates


def test_block_bootstrap_covers_the_truth_at_the_nominal_rate_and_iid_does_not() -> None:
    # Independent 10 m stretches: blocks of 10 m resample exactly the independent units.
    assert 0.88 <= coverage(10.0, 200) <= 0.99
    # Resampling single queries ignores the correlation along the road and covers far too rarely.
    assert coverage(0.5, 40) < 0.7


def test_block_length_follows_the_correlation_along_the_road() -> None:
    rng = np.random.default_rng(2)
    east, north = road(1000)
    conditions = np.full(1000, "night")
    runs_iid = rng.random((4, 1000)) < 0.5
    runs_seg = np.stack([segment_correctness(rng, 1000, 20, 0.1, 0.9) for _ in range(4)])
    iid = choose_block_length(east, north, conditions, runs_iid)
    seg = choose_block_length(east, north, conditions, runs_seg)
    assert iid.spacing_m == pytest.approx(1.0)
    assert iid.block_m <= 3.0                 # no correlation: blocks of about one query
    assert seg.block_m >= 20.0                # correlated over 20 m stretches: longer blocks
    assert seg.rho[0] > 0.5 and abs(iid.rho[0]) < 0.1


def test_queries_at_one_place_count_once_in_the_spacing() -> None:
    # Pittsburgh-style: four views at each place, places 12 m apart.
    east = np.repeat(np.arange(50) * 12.0, 4)
    north = np.zeros(200)
    correct = np.random.default_rng(3).random((2, 200)) < 0.5
    block = choose_block_length(east, north, np.full(200, "pitt"), correct)
    assert block.spacing_m == pytest.approx(12.0)
    assert block.block_m >= 12.0


def test_a_rows_intervals_do_not_depend_on_the_other_methods_at_fixed_blocks() -> None:
    """A guard: the resamples come from the seed and the block counts alone (with a generator drawn
    per method set, adding a method would move every row)."""
    rng = np.random.default_rng(3)
    east, north = road(300)
    blocks, conditions = grid_blocks(east, north, 10.0), np.full(300, "night")
    soft, triplet, base = (segment_correctness(rng, 300, 10, lo, hi) for lo, hi in [(0.5, 0.9), (0.3, 0.8), (0.2, 0.6)])

    def intervals(extra: dict[str, np.ndarray]):
        correct = {"soft": soft, "triplet": triplet, **extra, "base": base}
        result = bootstrap_accuracy([Outcomes("car", blocks, conditions, correct)], reference="soft",
                                    n_resamples=300, baseline="base")
        rows = [result.accuracy.set_index("method").loc["triplet"].to_numpy(),
                result.difference.set_index("method").loc["triplet"].to_numpy(),
                result.gain.set_index("method").loc["triplet"].to_numpy()]
        return rows, result

    alone, _ = intervals({})
    for extra in ({"new": segment_correctness(rng, 300, 10, 0.1, 0.9)},
                  {"new": segment_correctness(rng, 300, 10, 0.4, 0.5)}):
        with_other, result = intervals(extra)
        for a, b in zip(alone, with_other):
            np.testing.assert_array_equal(a, b)
        assert "new" in set(result.difference["method"])
    # the rows do depend on the params seed and on the pair: not one fixed stream for every row
    other_seed = bootstrap_accuracy([Outcomes("car", blocks, conditions, {"soft": soft, "triplet": triplet})],
                                    reference="soft", n_resamples=300, seed=1).difference.iloc[0]
    assert (other_seed["low"], other_seed["high"]) != tuple(alone[1][1:3])
