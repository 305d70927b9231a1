"""Tuple sampling and hard negative mining: the close rule, the r2 diversity rule, the hardest candidates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from softloc.training.mining import MiningCache, TupleSampler, TupleSpec, pick_diverse


def anchors_table(xy: np.ndarray, anchor_rows: list[int], radius: float) -> pd.DataFrame:
    """schemas.TRAIN_ANCHORS rows by brute force: every other image within `radius` of each anchor."""
    rows = []
    for a in anchor_rows:
        d = np.hypot(*(xy - xy[a]).T)
        nbr = np.flatnonzero((d <= radius) & (np.arange(len(xy)) != a))
        rows.append({"anchor": a, "neighbours": nbr.tolist(), "distance_m": d[nbr].astype(np.float32).tolist(), "yaw_diff_deg": [0.0] * len(nbr)})
    return pd.DataFrame(rows)


def pairwise(xy: np.ndarray) -> np.ndarray:
    return np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))


def test_close_rule_is_exact_at_the_radius_and_wraps_yaw() -> None:
    # anchor 0 at the origin heading 0 deg; r1 = 10 m, yaw <= 30 deg
    xy = np.array([[0, 0], [5, 0], [0, 9.99], [10, 0], [0, -10.01], [-5, 0], [3, 4], [6, 8], [0, 400]], dtype=float)
    yaw = np.array([0, 10, 29, 0, 0, 31, 350, 30.5, 0], dtype=float)
    # close: 1 (5 m, 10 deg), 2 (9.99 m, 29 deg), 3 (exactly 10 m), 6 (5 m, 350 deg = 10 deg off)
    # not: 4 (10.01 m), 5 (yaw 31), 7 (10 m but yaw 30.5), 8 (far)
    spec = TupleSpec(r1=10, r2=25, n_close=4, n_far=1, n_hard=0)
    sampler = TupleSampler(xy, yaw, anchors_table(xy, [0], 30), spec)
    rows = sampler.sample(np.array([0]), np.random.default_rng(0))
    assert sorted(rows[0, 1:5].tolist()) == [1, 2, 3, 6]
    assert rows[0, 5] == 8


def test_too_few_close_images_are_repeated_and_anchors_without_any_dropped() -> None:
    xy = np.array([[0, 0], [3, 0], [100, 0], [200, 0], [300, 0]], dtype=float)
    yaw = np.zeros(len(xy))
    spec = TupleSpec(r1=10, r2=25, n_close=3, n_far=2, n_hard=0)
    sampler = TupleSampler(xy, yaw, anchors_table(xy, [0, 2], 30), spec)
    assert sampler.dropped_anchors == 1 and sampler.anchors.tolist() == [0]
    rows = sampler.sample(np.array([0]), np.random.default_rng(1))
    assert rows[0, 1:4].tolist() == [1, 1, 1]
    with pytest.raises(ValueError, match="not kept anchors"):
        sampler.sample(np.array([2]), np.random.default_rng(1))


def test_close_images_from_other_traversals_only_when_asked() -> None:
    # four traversals of one street, a frame per metre each; the anchors' own traversal holds
    # the nearest frames, so without the option some close images come from it
    rng = np.random.default_rng(3)
    xy = np.concatenate([np.c_[np.arange(200.0) + rng.uniform(-0.4, 0.4, 200), rng.normal(0, 1, 200)] for _ in range(4)])
    traversal = np.repeat(["2014-05-06", "2014-05-08", "2014-06-24", "2014-12-09"], 200)
    yaw = np.zeros(len(xy))
    table = anchors_table(xy, list(range(0, 800, 9)), 30)
    rows = {}
    for other in (False, True):
        spec = TupleSpec(r1=10, r2=25, n_close=6, n_far=2, n_hard=0, close_other_traversals=other)
        sampler = TupleSampler(xy, yaw, table, spec, traversal)
        rows[other] = np.concatenate([sampler.sample(sampler.anchors[i : i + 4], np.random.default_rng([7, i])) for i in range(0, len(sampler.anchors), 4)])
    same = traversal[rows[True][:, 1:7]] == traversal[rows[True][:, :1]]
    assert not same.any()
    assert (traversal[rows[False][:, 1:7]] == traversal[rows[False][:, :1]]).mean() > 0.1
    assert (np.hypot(*(xy[rows[True][:, 1:7]] - xy[rows[True][:, :1]]).transpose(2, 0, 1)) <= 10).all()
    with pytest.raises(ValueError, match="traversal of each"):
        TupleSampler(xy, yaw, table, TupleSpec(r1=10, r2=25, close_other_traversals=True))


def test_anchor_whose_stretch_only_its_own_traversal_drove_is_dropped() -> None:
    xy = np.array([[0, 0], [2, 0], [4, 0], [300, 0], [302, 0], [301, 0]], dtype=float)
    traversal = np.array([0, 0, 1, 0, 0, 0])  # near 300 m only traversal 0 drove
    spec = TupleSpec(r1=10, r2=25, n_close=2, n_far=1, n_hard=0, close_other_traversals=True)
    sampler = TupleSampler(xy, np.zeros(6), anchors_table(xy, [0, 3], 30), spec, traversal)
    assert sampler.anchors.tolist() == [0] and sampler.dropped_anchors == 1
    assert sampler.sample(np.array([0]), np.random.default_rng(0))[0, 1:3].tolist() == [2, 2]


def test_far_and_extra_images_respect_r2_from_anchor_and_each_other() -> None:
    rng = np.random.default_rng(0)
    xy = np.c_[rng.uniform(0, 400, 600), rng.uniform(0, 60, 600)]
    yaw = np.zeros(len(xy))
    r2 = 25.0
    spec = TupleSpec(r1=10, r2=r2, n_close=4, n_far=8, n_extra=1, n_hard=4)
    sampler = TupleSampler(xy, yaw, anchors_table(xy, list(range(0, 600, 7)), 30), spec)
    cache = MiningCache(np.arange(0, 600, 2), _unit(rng.normal(size=(300, 8))), sampler.anchors, _unit(rng.normal(size=(len(sampler.anchors), 8))))
    for step in range(10):
        batch = sampler.anchors[step * 5 : step * 5 + 5]
        hard = cache.hardest_first(batch)
        tuples = sampler.sample(batch, np.random.default_rng([0, step]), hard)
        for row in tuples:
            anchor_far_extra = xy[np.r_[row[0], row[1 + spec.n_close :]]]
            d = pairwise(anchor_far_extra)
            assert (d[np.triu_indices(len(d), 1)] >= r2).all()
            assert (np.hypot(*(xy[row[1 : 1 + spec.n_close]] - xy[row[0]]).T) <= 10).all()


def test_hard_negatives_are_the_hardest_cached_candidates_that_obey_r2() -> None:
    # anchor 0 at the origin; cached candidates 1..5 in order of feature distance to the anchor
    xy = np.array([[0, 0], [10, 0], [100, 0], [110, 0], [200, 0], [300, 0], [2, 0]] + [[400 + 30 * i, 0] for i in range(20)], dtype=float)
    yaw = np.zeros(len(xy))
    anchor_feature = np.array([[1.0, 0.0]])
    angle = np.array([0.1, 0.2, 0.3, 0.4, 0.5])  # candidate i+1 at feature angle 0.1 * (i+1)
    features = np.c_[np.cos(angle), np.sin(angle)]
    cache = MiningCache(rows=np.array([5, 3, 1, 4, 2]), features=features[[4, 2, 0, 3, 1]], anchor_rows=np.array([0]), anchor_features=anchor_feature)
    hard = cache.hardest_first(np.array([0]))
    assert hard.tolist() == [[1, 2, 3, 4, 5]]
    spec = TupleSpec(r1=5, r2=25, n_close=1, n_far=4, n_hard=2)
    sampler = TupleSampler(xy, yaw, anchors_table(xy, [0], 30), spec)
    rows = sampler.sample(np.array([0]), np.random.default_rng(0), hard)
    # 1 is within r2 of the anchor, 3 within r2 of 2: the hardest valid pair is 2 then 4
    assert rows[0, 2:4].tolist() == [2, 4]
    assert not set(rows[0, 4:].tolist()) & {0, 1, 3, 6}


def test_pick_diverse_walks_in_order_and_stops_at_k() -> None:
    xy = np.array([[0, 0], [1, 0], [30, 0], [31, 0], [60, 0], [90, 0]], dtype=float)
    assert pick_diverse(xy, np.array([1, 2, 3, 4, 5]), 25.0, 2, [0]) == [2, 4]
    assert pick_diverse(xy, np.array([3, 2, 5, 4]), 25.0, 10, []) == [3, 5, 4]  # 2 is 1 m from 3


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)
