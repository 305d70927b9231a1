"""PCA whitening: identity covariance on the fit data, capped dims, and the same transform at extraction."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from softloc.features import Whitening, extract_features, iter_batches
from softloc.pca import fit_pca, fit_rows, load_pca, save_pca


def correlated(n: int, d: int, seed: int = 0) -> np.ndarray:
    """Gaussian features with a random, strongly anisotropic covariance and a non-zero mean."""
    rng = np.random.default_rng(seed)
    mixing = rng.standard_normal((d, d)) * np.logspace(0, -2, d)[:, None]
    return rng.standard_normal((n, d)) @ mixing + rng.standard_normal(d)


@pytest.mark.parametrize("n, d, dim", [(3000, 32, 16), (60, 200, 256)])
def test_whitened_training_features_have_identity_covariance(n: int, d: int, dim: int) -> None:
    x = correlated(n, d)
    pca = fit_pca(x, dim=dim, eps=1e-12)
    y = pca.whiten(x).astype(np.float64)
    assert y.shape == (n, min(dim, d, n - 1))
    np.testing.assert_allclose(y.mean(axis=0), 0.0, atol=1e-3)
    np.testing.assert_allclose(np.cov(y, rowvar=False), np.eye(y.shape[1]), atol=2e-3)
    assert np.all(np.diff(pca.eigenvalues) <= 0), "components sorted by decreasing variance"


def test_leading_component_is_the_planted_direction() -> None:
    rng = np.random.default_rng(1)
    direction = np.array([3.0, 4.0, 0.0]) / 5.0
    x = rng.standard_normal((5000, 1)) * 10.0 * direction + rng.standard_normal((5000, 3)) * 0.1
    pca = fit_pca(x, dim=1, eps=1e-9)
    assert abs(abs(pca.components[:, 0] @ direction) - 1.0) < 1e-4
    assert pca.eigenvalues[0] == pytest.approx(100.0, rel=0.05)


def test_dimension_is_capped_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="softloc.pca"):
        pca = fit_pca(correlated(100, 8), dim=256, eps=1e-9)
    assert pca.dim == 8
    assert "capped at 8" in caplog.text
    assert fit_pca(correlated(10, 64), dim=256, eps=1e-9).dim == 9


def test_transform_is_l2_normalised() -> None:
    pca = fit_pca(correlated(500, 16), dim=8, eps=1e-9)
    out = pca.transform(correlated(50, 16, seed=3))
    assert out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)


def test_saved_and_loaded_transform_gives_identical_output(tmp_path) -> None:
    pca = fit_pca(correlated(500, 16), dim=8, eps=1e-9)
    save_pca(pca, tmp_path / "pca.npz")
    loaded = load_pca(tmp_path / "pca.npz")
    x = correlated(40, 16, seed=5)
    assert np.array_equal(pca.transform(x), loaded.transform(x))
    assert loaded.eps == pca.eps


def test_load_rejects_incomplete_file(tmp_path) -> None:
    np.savez(tmp_path / "bad.npz", mean=np.zeros(3))
    with pytest.raises(ValueError, match="bad.npz: missing arrays"):
        load_pca(tmp_path / "bad.npz")
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        load_pca(tmp_path / "nope.npz")


def test_fit_rows_seeded_sorted_unique() -> None:
    rows = fit_rows(1000, 100, seed=7)
    assert np.array_equal(rows, fit_rows(1000, 100, seed=7))
    assert not np.array_equal(rows, fit_rows(1000, 100, seed=8))
    assert len(np.unique(rows)) == 100 and np.all(np.diff(rows) > 0) and rows.max() < 1000
    assert np.array_equal(fit_rows(50, 100, seed=0), np.arange(50))


class StandIn(torch.nn.Module):
    """A stand-in network: a fixed linear map of the flattened image."""

    def __init__(self, n_in: int, dim: int) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(n_in, dim)
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x.flatten(1))


def stand_in_preprocess(images: torch.Tensor) -> torch.Tensor:
    return images.permute(0, 3, 1, 2).float() / 255.0


def test_extraction_applies_the_fitted_transform_in_row_order(tmp_path) -> None:
    torch.manual_seed(0)
    images = np.random.default_rng(0).integers(0, 256, size=(23, 4, 5, 3), dtype=np.uint8)
    np.save(tmp_path / "store.npy", images)
    store = np.load(tmp_path / "store.npy", mmap_mode="r")
    net = StandIn(4 * 5 * 3, 12)
    raw = extract_features(net, store, stand_in_preprocess, batch_size=5, device=torch.device("cpu"))
    with torch.no_grad():
        expected = net(stand_in_preprocess(torch.from_numpy(images))).numpy()
    np.testing.assert_allclose(raw, expected, rtol=1e-5, atol=1e-6)

    pca = fit_pca(raw, dim=6, eps=1e-9)
    save_pca(pca, tmp_path / "pca.npz")
    whitened = extract_features(net, store, stand_in_preprocess, batch_size=4, device=torch.device("cpu"),
                                whitening=Whitening(load_pca(tmp_path / "pca.npz")))
    np.testing.assert_allclose(whitened, pca.transform(raw), atol=1e-4)

    rows = np.array([20, 3, 7])
    subset = extract_features(net, store, stand_in_preprocess, batch_size=2, device=torch.device("cpu"), rows=rows)
    np.testing.assert_allclose(subset, raw[rows], rtol=1e-5, atol=1e-6)


def test_iter_batches_covers_every_row_once() -> None:
    images = np.arange(10).reshape(10, 1, 1, 1).repeat(3, axis=3).astype(np.uint8)
    batches = list(iter_batches(images, np.arange(10), batch_size=4, pin=False))
    assert [len(b) for b in batches] == [4, 4, 2]
    assert torch.cat(batches)[:, 0, 0, 0].tolist() == list(range(10))
    assert list(iter_batches(images, np.arange(0), batch_size=4, pin=False)) == []


def test_non_finite_features_are_an_error_naming_the_row() -> None:
    x = correlated(20, 4)
    x[13, 1] = np.inf
    with pytest.raises(ValueError, match="row 13 holds NaN or inf"):
        fit_pca(x, dim=2, eps=1e-9)
