"""Table 1's intervals of a row do not move when another method is added or changed: the block
length comes from the reference and baseline rows only, and the resamples never depend on the
set of methods (softloc.report.analysis, softloc.stats). On test_report's hand-built layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from softloc.report.analysis import build_table1
from softloc.report.results import Inputs, read_results

from test_report import fake_params, write_layout

BASE = {"soft": {"loss": "soft_contrastive", "r1": 15, "r2": 15},
        "triplet": {"loss": "triplet", "r1": 10, "r2": 25},
        "offtheshelf": {"loss": "none", "r1": 10, "r2": 25}}


def triplet_intervals(root: Path, methods: dict[str, dict]) -> tuple[list[np.ndarray], dict[str, float]]:
    """The triplet row's accuracy, difference and gain intervals, and the block lengths used."""
    params = fake_params(methods=methods, seeds=[0], resamples=300)
    write_layout(root, params.methods, seeds=[0])
    results = read_results(root, list(params.methods), [0], list(params.report.table1), Inputs(root))
    table = build_table1(results, params.evaluate.headline_m, params.report)
    pick = [frame[frame["method"] == "triplet"].drop(columns="method").to_numpy()
            for frame in (table.intervals.accuracy, table.intervals.difference, table.intervals.gain)]
    return pick, table.block_m


def test_a_row_keeps_its_intervals_when_another_method_is_added(tmp_path: Path) -> None:
    alone, blocks = triplet_intervals(tmp_path / "three", BASE)
    extra = {**BASE, "multisimilarity": {"loss": "multisimilarity", "r1": 10, "r2": 25},
             "logratio": {"loss": "logratio", "r1": 15, "r2": 15}}
    with_others, blocks_with = triplet_intervals(tmp_path / "five", extra)
    assert blocks_with == blocks
    for a, b in zip(alone, with_others):
        assert a.shape[0] >= 1
        np.testing.assert_array_equal(a, b)
