"""The evaluate stage's logic on hand-built test sets: same-camera retrieval, top-k, unknown positions."""

from __future__ import annotations

import numpy as np
import pytest

from softloc.config import Evaluate
from softloc.datasets import testset_table as table_of
from softloc.evaluate import evaluate_testset, retrieve

CFG = Evaluate(top_k=2, thresholds_m=[5.0, 10.0], headline_m=10.0, curve_max_m=10.0, recall_at=[1, 2],
               recall_radius_m=25.0)


def unit(vectors: list[list[float]]) -> np.ndarray:
    x = np.asarray(vectors, dtype=np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_retrieval_stays_within_the_query_camera() -> None:
    # the globally nearest reference of each query belongs to the other camera
    reference = unit([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]])
    cameras = np.array(["left", "right", "left", "right"])
    queries = unit([[1, 0.01], [0.01, 1]])
    topk, _ = retrieve(reference, queries, cameras, np.array(["right", "left"]), k=2)
    assert topk.tolist() == [[1, 3], [2, 0]]


def test_k_is_capped_by_the_smallest_camera_and_a_camera_without_references_is_an_error() -> None:
    reference = unit([[1, 0], [0.9, 0.1], [0, 1]])
    topk, _ = retrieve(reference, unit([[1, 0], [0, 1]]), np.array(["left", "left", "right"]),
                       np.array(["left", "right"]), k=20)
    assert topk.tolist() == [[0], [2]]          # "right" has one reference: one rank for every query
    with pytest.raises(ValueError, match="camera 'rear'"):
        retrieve(unit([[1, 0]]), unit([[1, 0]]), np.array(["left"]), np.array(["rear"]), k=1)


def test_evaluate_testset_errors_recall_and_unknown_positions() -> None:
    reference = table_of({"path": ["r0", "r1", "r2"], "condition": "overcast",
                               "easting": [0.0, 20.0, 100.0], "northing": [0.0, 0.0, 0.0]}, 3)
    queries = table_of({"path": ["q0", "q1", "q2"], "condition": ["night", "night", "snow"],
                             "easting": [1.0, 95.0, np.nan], "northing": [0.0, 0.0, np.nan]}, 3)
    ref_f = unit([[1, 0, 0], [0, 1, 0], [0, 0, 1]])
    query_f = unit([[1, 0.2, 0], [0, 1, 0.1], [0, 0.1, 1]])   # q1 retrieves r1 (75 m off), then r2
    result = evaluate_testset(reference, queries, ref_f, query_f, CFG)
    r = result.retrievals
    assert r["top1"].tolist() == [0, 1, 2]
    assert [list(x) for x in r["topk"]] == [[0, 1], [1, 2], [2, 1]]
    np.testing.assert_allclose(r["error_m"].to_numpy()[:2], [1.0, 75.0])
    np.testing.assert_allclose(r["nearest_reference_m"].to_numpy()[:2], [1.0, 5.0])
    assert np.isnan(r["error_m"].iloc[2])           # position withheld: no error, counted
    assert result.summary["n_queries_position_unknown"] == 1
    assert result.summary["n_queries"] == {"night": 2}
    assert result.metrics == {"mean": {"at_05m": 50.0, "at_10m": 50.0}}
    assert result.summary["recall"] == {"at_01": 0.5, "at_02": 1.0}
