"""Hinge losses on squared feature distances: triplet and quadruplet (NetVLAD / PointNetVLAD),
their lazy variants (PointNetVLAD) and triplet + Huber distance (Thoma et al., RA-L 2020).

With anchor a, close images p_1..p_P, far images n_1..n_N, extra image n* (quadruplet only)
and d(u, v) = ||u - v||^2 on the network's (L2-normalised) features:

    best positive   d+ = min_k d(a, p_k)           (NetVLAD's "best positive")
    triplet         sum_j [m1 + d+ - d(a, n_j)]_+
    quadruplet      triplet + sum_j [m2 + d+ - d(n_j, n*)]_+
    lazy_*          max_j instead of sum_j            (PointNetVLAD, Uy & Lee CVPR 2018)

Defaults m1 = 0.1, m2 = 0.2 (the soft contrastive paper's release and PointNetVLAD's
quadruplet margin). Each loss is the mean over the tuples of the batch.

The rows of the paper's Tables 1 and 2 (r1 = 10 m, r2 = 25 m): "triplet", "quadruplet", "lazy
triplet", "lazy quadruplet" are PointNetVLAD's losses as the release calls them with these
margins (params `triplet`, `quadruplet`, `lazy_triplet`, `lazy_quadruplet`); "triplet + Huber"
is the release's huber_distance_triplet with weight 0.5 (params `triplet_huber`). None of them
has a setting the release changed from these defaults.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor, nn

from softloc.losses.registry import LossParams, TupleBatch, bounded, register


@dataclass(frozen=True)
class TripletParams(LossParams):
    """triplet and lazy_triplet: the hinge margin m1."""

    margin: float = bounded(0.1, ge=0)


@dataclass(frozen=True)
class QuadrupletParams(LossParams):
    """quadruplet and lazy_quadruplet: the margins m1 and m2."""

    margin: float = bounded(0.1, ge=0)
    margin2: float = bounded(0.2, ge=0)


@dataclass(frozen=True)
class TripletHuberParams(LossParams):
    """triplet_huber: m1, the Huber term's weight, the squared feature distance's scale, Huber delta."""

    margin: float = bounded(0.1, ge=0)
    huber_weight: float = bounded(0.5, ge=0)
    feature_scale: float = bounded(2.0, gt=0)
    delta: float = bounded(1.0, gt=0)


def squared_distances(x: Tensor, y: Tensor) -> Tensor:
    """(B, K, D) x (B, 1 or K, D) -> (B, K) squared Euclidean distances, in float32."""
    return (x.float() - y.float()).pow(2).sum(dim=-1)


def best_positive(batch: TupleBatch) -> Tensor:
    """(B,) squared feature distance of each anchor to its closest close image."""
    if batch.n_close < 1 or batch.n_far < 1:
        raise ValueError(f"hinge losses need close and far images, got {batch.n_close} close, {batch.n_far} far")
    return squared_distances(batch.close, batch.anchor[:, None]).amin(dim=1)


def _reduce(hinges: Tensor, lazy: bool) -> Tensor:
    return hinges.amax(dim=1) if lazy else hinges.sum(dim=1)


def triplet_terms(batch: TupleBatch, margin: float, lazy: bool) -> Tensor:
    """(B,) triplet hinge of each tuple, summed (or max, lazy) over its far images."""
    d_neg = squared_distances(batch.far, batch.anchor[:, None])
    return _reduce(F.relu(margin + best_positive(batch)[:, None] - d_neg), lazy)


def quadruplet_terms(batch: TupleBatch, margin2: float, lazy: bool) -> Tensor:
    """(B,) second quadruplet hinge: far images against the extra image far from everything."""
    if batch.n_extra != 1:
        raise ValueError(f"quadruplet losses need exactly one extra image per tuple (n_extra: 1), got {batch.n_extra}")
    d_other = squared_distances(batch.far, batch.extra)
    return _reduce(F.relu(margin2 + best_positive(batch)[:, None] - d_other), lazy)


@register("triplet", TripletParams, disjoint=True)
class TripletLoss(nn.Module):
    """NetVLAD's triplet loss: hinge against the best positive, summed over far images."""

    lazy = False

    def __init__(self, hp: TripletParams = TripletParams()) -> None:
        super().__init__()
        self.margin = float(hp.margin)

    def forward(self, batch: TupleBatch) -> Tensor:
        return triplet_terms(batch, self.margin, self.lazy).mean()


@register("lazy_triplet", TripletParams, disjoint=True)
class LazyTripletLoss(TripletLoss):
    """PointNetVLAD's lazy triplet: only the hardest far image of each tuple counts."""

    lazy = True


@register("quadruplet", QuadrupletParams, disjoint=True, n_extra=1)
class QuadrupletLoss(nn.Module):
    """Quadruplet loss: triplet + a second hinge of the far images against the extra image."""

    lazy = False

    def __init__(self, hp: QuadrupletParams = QuadrupletParams()) -> None:
        super().__init__()
        self.margin, self.margin2 = float(hp.margin), float(hp.margin2)

    def forward(self, batch: TupleBatch) -> Tensor:
        terms = triplet_terms(batch, self.margin, self.lazy) + quadruplet_terms(batch, self.margin2, self.lazy)
        return terms.mean()


@register("lazy_quadruplet", QuadrupletParams, disjoint=True, n_extra=1)
class LazyQuadrupletLoss(QuadrupletLoss):
    """PointNetVLAD's lazy quadruplet: max instead of sum over far images in both hinges."""

    lazy = True


@register("triplet_huber", TripletHuberParams, disjoint=True, sampling=("r1",))
class TripletHuberLoss(nn.Module):
    """Triplet + Huber distance loss (Thoma, Paudel, Chhatkuli, Van Gool, RA-L 2020).

        L = triplet + huber_weight * mean_k Huber_delta(d(a, p_k) / feature_scale - y_k^2 / r1^2)

    over the close images p_k at geometric distance y_k: squared feature distances are made to
    follow squared geometric ones, both scaled to about [0, 1] (r1^2 is the largest squared
    geometric distance of a close image; 2 the squared distance of orthogonal unit features).
    Defaults as the authors' release: huber_weight 0.5, feature_scale 2, Huber delta 1, m1 0.1.
    """

    def __init__(self, hp: TripletHuberParams, r1: float) -> None:
        super().__init__()
        self.r1, self.margin = float(r1), float(hp.margin)
        self.huber_weight, self.feature_scale, self.delta = float(hp.huber_weight), float(hp.feature_scale), float(hp.delta)

    def forward(self, batch: TupleBatch) -> Tensor:
        feat = squared_distances(batch.close, batch.anchor[:, None]) / self.feature_scale
        geo = batch.geo_to_anchor()[:, : batch.n_close].pow(2) / self.r1**2
        huber = F.huber_loss(feat, geo, delta=self.delta, reduction="none").mean(dim=1)
        return (triplet_terms(batch, self.margin, lazy=False) + self.huber_weight * huber).mean()
