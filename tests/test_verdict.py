"""The paper's-ranking sentence: each link a paired difference with the right sign rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from softloc.config import Bootstrap
from softloc.report.analysis import Table1
from softloc.report.verdict import Link, night_outcomes, paired_link, ranking_sentence
from softloc.stats import Outcomes

CFG = Bootstrap(resamples=300, confidence=0.95, seed=0, block_m=None)
Q = 400


def planted(rates: dict[str, float], night_rates: dict[str, float] | None = None) -> Outcomes:
    """400 queries in 40 blocks of 10, half overcast, half night; method m is right on the first
    rate * n queries of each condition (so a better method's hits include a worse one's)."""
    conditions = np.array(["overcast", "night"] * (Q // 2))
    correct = {}
    for m, rate in rates.items():
        hits = np.zeros(Q, bool)
        for c, r in (("overcast", rate), ("night", (night_rates or rates)[m])):
            idx = np.flatnonzero(conditions == c)
            hits[idx[: round(r * len(idx))]] = True
        correct[m] = hits[None, :]
    return Outcomes("robotcar", np.arange(Q) // 10, conditions, correct)


def table(groups: dict[str, list[str]], outcomes: Outcomes) -> Table1:
    empty = pd.DataFrame()
    return Table1([], [], groups, empty, empty, pd.Series(dtype=float), object(), "soft", "offtheshelf", "offtheshelf",
                  "at_10m", {}, {}, 1, empty, (outcomes,))


def test_a_link_is_the_paired_difference_in_percent() -> None:
    outcomes = planted({"a": 0.8, "b": 0.5})
    link = paired_link([outcomes], ("a", "b"), ("a", "b"), strict=True, cfg=CFG)
    # mean over the two conditions of the accuracy difference: (80 - 50 + 80 - 50) / 2
    assert link.estimate == pytest.approx(30.0) and 0 < link.low < 30 < link.high and link.holds


def test_ge_fails_only_below_zero_and_gt_needs_above_zero() -> None:
    assert Link("a", "b", False, 0.0, 0.0, 0.0).holds and not Link("a", "b", True, 0.0, 0.0, 0.0).holds
    assert Link("a", "b", False, -1.0, -3.0, 0.5).holds
    assert not Link("a", "b", False, -5.0, -8.0, -2.0).holds
    assert not Link("a", "b", True, 1.0, -0.5, 2.0).holds


def test_night_gain_reads_the_night_queries_alone() -> None:
    outcomes = planted({"soft": 0.9, "offtheshelf": 0.9}, night_rates={"soft": 0.6, "offtheshelf": 0.2})
    night = night_outcomes([outcomes])
    assert set(night[0].conditions) == {"night"} and night[0].blocks.max() == len(np.unique(night[0].blocks)) - 1
    assert paired_link(night, ("soft", "offtheshelf"), ("soft", "offtheshelf"), True, CFG).estimate == pytest.approx(40.0)


def test_the_sentence_names_each_failing_link() -> None:
    ranking = ["soft", "multisimilarity", "triplet", "offtheshelf"]
    holds = planted({"soft": 0.9, "multisimilarity": 0.8, "triplet": 0.7, "offtheshelf": 0.5},
                    night_rates={"soft": 0.5, "multisimilarity": 0.4, "triplet": 0.3, "offtheshelf": 0.1})
    sentence = ranking_sentence(table({m: [m] for m in ranking}, holds), ranking, CFG)
    assert "holds here" in sentence and "soft − multisimilarity +10.0" in sentence and "night: soft − offtheshelf +40.0" in sentence
    reversed_ = planted({"soft": 0.5, "multisimilarity": 0.8, "triplet": 0.7, "offtheshelf": 0.6})
    sentence = ranking_sentence(table({m: [m] for m in ranking}, reversed_), ranking, CFG)
    assert "does not reproduce" in sentence and "failing: soft vs multisimilarity, soft vs offtheshelf at night" in sentence
    merged = {"soft": ["soft"], "multisimilarity": ["multisimilarity"], "offtheshelf": ["offtheshelf", "triplet"]}
    sentence = ranking_sentence(table(merged, holds), ranking, CFG)
    assert "triplet − offtheshelf +0.0 [+0.0, +0.0]" in sentence and "triplet vs offtheshelf" in sentence


def test_a_method_missing_from_params_is_not_measured() -> None:
    outcomes = planted({"soft": 0.9, "offtheshelf": 0.5})
    sentence = ranking_sentence(table({"soft": ["soft"], "offtheshelf": ["offtheshelf"]}, outcomes),
                                ["soft", "multisimilarity", "offtheshelf"], CFG)
    assert "not measured" in sentence and "multisimilarity" in sentence
