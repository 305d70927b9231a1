"""faiss retrieval agrees with brute force and rejects malformed features."""

from __future__ import annotations

import numpy as np
import pytest

from softloc.retrieval import search_top1, search_top1_numpy


def normalised(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    x = rng.standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.mark.parametrize("seed, n_ref, n_query, dim", [(0, 2000, 500, 64), (1, 300, 1000, 256), (2, 1, 5, 8)])
def test_faiss_and_brute_force_agree_on_random_data(seed: int, n_ref: int, n_query: int, dim: int) -> None:
    rng = np.random.default_rng(seed)
    reference, queries = normalised(rng, n_ref, dim), normalised(rng, n_query, dim)
    top1 = search_top1(reference, queries)
    brute = search_top1_numpy(reference, queries, chunk=128)
    exact = np.argmin(((queries[:, None, :].astype(np.float64) - reference[None]) ** 2).sum(-1), axis=1)
    assert top1.dtype == np.int64 and top1.shape == (n_query,)
    assert np.array_equal(brute, exact)
    assert np.array_equal(top1, exact)


def test_query_equal_to_a_reference_retrieves_it() -> None:
    rng = np.random.default_rng(3)
    reference = normalised(rng, 500, 32)
    rows = np.array([499, 0, 17, 17, 250])
    assert np.array_equal(search_top1(reference, reference[rows] + 1e-4), rows)


def test_malformed_features_are_errors() -> None:
    rng = np.random.default_rng(4)
    reference = normalised(rng, 10, 8)
    with pytest.raises(ValueError, match="dims differ"):
        search_top1(reference, normalised(rng, 3, 4))
    bad = reference.copy()
    bad[6, 2] = np.nan
    with pytest.raises(ValueError, match="row 6 holds NaN"):
        search_top1(bad, reference)
    with pytest.raises(ValueError, match="no reference features"):
        search_top1(np.zeros((0, 8), np.float32), reference)
