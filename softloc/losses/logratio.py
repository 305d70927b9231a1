"""Log-ratio loss (Kim, Kim, Cho, Kwak, "Deep Metric Learning Beyond Binary Supervision",
CVPR 2019), over the close x far pairs of a tuple as the soft contrastive paper's release uses it.

With squared feature distances D_i = ||f_i - a||^2 and squared geometric distances
Y_i = ||x_i - x_a||^2 to the anchor, for every close image i and far image j:

    l_ij = (log((D_i + eps) / (D_j + eps)) - log((Y_i + eps) / (Y_j + eps)))^2

Loss = mean over the P x N pairs and the tuples. eps = 1e-6 as in Kim et al.'s public code;
it only guards a zero distance (an image at the anchor's position, or identical features) and
changes nothing measurable otherwise (the release has no eps). The paper's "log-ratio" row
(params `logratio`, r1 = r2 = 15 m) is this loss with the release's defaults.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from softloc.losses.registry import LossParams, TupleBatch, bounded, register


@dataclass(frozen=True)
class LogRatioParams(LossParams):
    """logratio: eps, the guard added to every squared distance."""

    eps: float = bounded(1e-6, gt=0)


@register("logratio", LogRatioParams, disjoint=False)   # ratios of distances: no close/far roles
class LogRatioLoss(nn.Module):
    """Match log ratios of squared feature distances to log ratios of squared metre distances."""

    def __init__(self, hp: LogRatioParams = LogRatioParams()) -> None:
        super().__init__()
        self.eps = float(hp.eps)

    def forward(self, batch: TupleBatch) -> Tensor:
        if batch.n_close < 1 or batch.n_far < 1:
            raise ValueError(f"logratio needs close and far images, got {batch.n_close} close, {batch.n_far} far")
        f = batch.tuple_features.float()
        log_d = torch.log((f[:, 1:] - f[:, :1]).pow(2).sum(dim=-1) + self.eps)
        log_y = torch.log(batch.geo_to_anchor().pow(2) + self.eps)
        p = batch.n_close
        feat_ratio = log_d[:, :p, None] - log_d[:, None, p:]
        geo_ratio = log_y[:, :p, None] - log_y[:, None, p:]
        return (feat_ratio - geo_ratio).pow(2).mean()
