"""PCA with whitening of network features, fitted once on training images and reused unchanged.

The transform (as NetVLAD and the paper): whitened = (x - mean) @ P / sqrt(eig + eps), then
L2-normalised, where P holds the leading principal directions and eig their variances.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import numpy as np
import torch

from softloc.io import atomic_path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Pca:
    """A fitted whitening transform: mean (D,), components (D, k), eigenvalues (k,), eps."""

    mean: np.ndarray
    components: np.ndarray
    eigenvalues: np.ndarray
    eps: float

    @property
    def dim(self) -> int:
        """Output dimension k."""
        return self.components.shape[1]

    def projection(self) -> np.ndarray:
        """The (D, k) matrix P / sqrt(eig + eps) that maps centred features to whitened ones."""
        scales = 1.0 / np.sqrt(self.eigenvalues + self.eps)
        return (self.components * scales).astype(np.float32)

    def whiten(self, x: np.ndarray) -> np.ndarray:
        """Whitened features before normalisation: (x - mean) @ P / sqrt(eig + eps)."""
        return (np.asarray(x, dtype=np.float32) - self.mean.astype(np.float32)) @ self.projection()

    def transform(self, x: np.ndarray) -> np.ndarray:
        """Whitened and L2-normalised features (N, k) float32."""
        y = self.whiten(x)
        return y / np.maximum(np.linalg.norm(y, axis=1, keepdims=True), 1e-12)


def fit_pca(features: np.ndarray, dim: int, eps: float) -> Pca:
    """Fit PCA with whitening to `dim` dimensions, capped at the feature dimension and the data rank.

    Uses the eigen-decomposition of the smaller of the covariance (D x D) and the Gram matrix
    (N x N), so a few thousand images of 32k-dimensional NetVLAD features stay cheap.
    """
    centred = np.array(features, dtype=np.float64)  # a copy, centred in place below
    n, d = centred.shape
    if n < 2:
        raise ValueError(f"PCA needs at least 2 feature vectors, got {n}")
    if not np.isfinite(centred).all():
        bad = int(np.flatnonzero(~np.isfinite(centred).all(axis=1))[0])
        raise ValueError(f"PCA features: row {bad} holds NaN or inf")
    k = min(dim, d, n - 1)
    if k < dim:
        log.warning("PCA dimension capped at %d (asked %d; feature dim %d, %d fit images)", k, dim, d, n)
    mean = centred.mean(axis=0)
    centred -= mean
    if d <= n:
        eigenvalues, vectors = symmetric_eigh(centred.T @ centred / (n - 1))
        order = np.argsort(eigenvalues)[::-1][:k]
        eigenvalues, components = eigenvalues[order], vectors[:, order]
    else:
        gram_eig, gram_vec = symmetric_eigh(centred @ centred.T / (n - 1))
        order = np.argsort(gram_eig)[::-1][:k]
        eigenvalues = gram_eig[order]
        # Principal directions from the Gram eigenvectors: v = X^T u / ||X^T u||.
        components = centred.T @ gram_vec[:, order]
        components /= np.maximum(np.linalg.norm(components, axis=0, keepdims=True), 1e-300)
    eigenvalues = np.maximum(eigenvalues, 0.0)
    total_variance = np.square(centred).sum() / (n - 1)
    log.info("PCA fitted on %d x %d features -> %d dims (%.1f%% of the variance kept)",
             n, d, k, 100.0 * eigenvalues.sum() / max(total_variance, 1e-300))
    return Pca(mean=mean.astype(np.float32), components=components.astype(np.float32),
               eigenvalues=eigenvalues.astype(np.float32), eps=float(eps))


def symmetric_eigh(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (ascending) and eigenvectors of a symmetric matrix, by torch's LAPACK.

    Not numpy's: its OpenBLAS eigh spins its threads when another process holds a core (measured
    on 2 cores, 1000 x 1000: 9.2 s with a busy second core against 0.17 s single-threaded), and
    torch's (0.6 s there) does not.
    """
    values, vectors = torch.linalg.eigh(torch.from_numpy(np.ascontiguousarray(matrix, dtype=np.float64)))
    return values.numpy(), vectors.numpy()


def fit_rows(n_images: int, n_fit: int, seed: int) -> np.ndarray:
    """A seeded random subset of `n_fit` row positions out of `n_images` (all when fewer), sorted."""
    if n_fit >= n_images:
        return np.arange(n_images, dtype=np.int64)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_images, size=n_fit, replace=False)).astype(np.int64)


def save_pca(pca: Pca, path: str | os.PathLike) -> None:
    """Write the fitted transform to an .npz file atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, mean=pca.mean, components=pca.components, eigenvalues=pca.eigenvalues,
                     eps=np.float64(pca.eps))
    log.info("wrote %s (%d -> %d dims)", path, pca.components.shape[0], pca.dim)


def load_pca(path: str | os.PathLike) -> Pca:
    """Read a transform written by save_pca; a missing or malformed file is an error naming it."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no PCA file (run `python -m pipeline.pca <method>` first)")
    with np.load(path) as z:
        missing = {"mean", "components", "eigenvalues", "eps"} - set(z.files)
        if missing:
            raise ValueError(f"{path}: missing arrays {sorted(missing)}")
        pca = Pca(mean=z["mean"], components=z["components"], eigenvalues=z["eigenvalues"], eps=float(z["eps"]))
    if pca.mean.shape[0] != pca.components.shape[0] or pca.eigenvalues.shape[0] != pca.dim:
        raise ValueError(f"{path}: inconsistent shapes mean {pca.mean.shape}, components "
                         f"{pca.components.shape}, eigenvalues {pca.eigenvalues.shape}")
    return pca
