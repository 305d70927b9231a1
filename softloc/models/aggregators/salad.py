"""SALAD: NetVLAD's soft assignment solved as optimal transport (Izquierdo and Civera, "Optimal
Transport Aggregation for Visual Place Recognition", CVPR 2024)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from softloc.models.aggregators.base import Aggregator


def log_sinkhorn(scores: Tensor, log_rows: Tensor, log_cols: Tensor, iterations: int) -> Tensor:
    """Sinkhorn's scaling in log space: log P for P = diag(u) exp(scores) diag(v), (..., R, N).

    P's row sums approach exp(log_rows) (R,) and its column sums exp(log_cols) (N,) (both
    marginals must have the same total); each iteration fits the rows, then the columns, so the
    column sums are exact after any number of iterations >= 1 and the row sums converge.
    """
    u = torch.zeros_like(scores[..., :, 0])
    v = torch.zeros_like(scores[..., 0, :])
    for _ in range(iterations):
        u = log_rows - torch.logsumexp(scores + v.unsqueeze(-2), dim=-1)
        v = log_cols - torch.logsumexp(scores + u.unsqueeze(-1), dim=-2)
    return scores + u.unsqueeze(-1) + v.unsqueeze(-2)


def salad_marginals(clusters: int, features: int) -> tuple[Tensor, Tensor]:
    """(clusters + 1,) row masses (the clusters, then the dustbin) and (features,) column masses.

    As SALAD: every feature carries mass 1, every cluster receives mass 1 and the dustbin the
    rest, features - clusters. SALAD's maps (hundreds of DINOv2 tokens) always have more
    features than clusters; this project's small maps may not (a 96 x 72 image gives Lite0 30
    features), so with features <= clusters + 1 each cluster and the dustbin receive an equal
    share, features / (clusters + 1): the same masses at features = clusters + 1, and the dustbin
    never gets a mass <= 0.
    """
    share = min(1.0, features / (clusters + 1))
    rows = torch.full((clusters + 1,), share)
    rows[-1] = features - clusters * share
    return rows, torch.ones(features)


class SALAD(Aggregator):
    """Features assigned to clusters by optimal transport with a dustbin, aggregated per cluster,
    plus a global token; dim = num_clusters * cluster_dim + token_dim.

    Per map position, an MLP gives num_clusters assignment scores and another a cluster_dim
    feature; the scores plus a dustbin row (one learned score, from `dustbin_init`) are turned
    into a transport plan by `sinkhorn_iterations` log-space Sinkhorn iterations with
    `salad_marginals`; the dustbin row is dropped, so the dustbin takes mass away from the
    clusters, chiefly from features that score low everywhere. Each cluster's plan-weighted sum
    of features is L2-normalised, and the global token is concatenated in front.

    Hyperparameters (params `aggregators.salad`) at the paper's values (its DINOv2 model, 8448-D):
    num_clusters 64, cluster_dim 128, token_dim 256, MLP hidden width 512, dropout 0.3 in both
    per-position MLPs, dustbin score 1, 3 Sinkhorn iterations. The paper's global token is
    DINOv2's class token; a CNN has none, so here it is the token MLP of the feature map's
    spatial mean (global average pooling).
    """

    name = "salad"

    def __init__(self, channels: int, *, num_clusters: int, cluster_dim: int, token_dim: int, hidden_dim: int,
                 dropout: float, sinkhorn_iterations: int, dustbin_init: float) -> None:
        super().__init__(channels, {"num_clusters": num_clusters, "cluster_dim": cluster_dim, "token_dim": token_dim,
                                    "hidden_dim": hidden_dim, "dropout": dropout,
                                    "sinkhorn_iterations": sinkhorn_iterations, "dustbin_init": dustbin_init})
        self.clusters, self.cluster_dim, self.token_dim = num_clusters, cluster_dim, token_dim
        self.iterations = sinkhorn_iterations
        self.token = nn.Sequential(nn.Linear(channels, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, token_dim))
        self.cluster_features = _position_mlp(channels, hidden_dim, cluster_dim, dropout)
        self.score = _position_mlp(channels, hidden_dim, num_clusters, dropout)
        self.dustbin = nn.Parameter(torch.tensor(float(dustbin_init)))

    @property
    def dim(self) -> int:
        return self.clusters * self.cluster_dim + self.token_dim

    def assignment(self, x: Tensor) -> Tensor:
        """(B, num_clusters, h*w) transport plan of the map's features to the clusters (dustbin dropped)."""
        scores = self.score(x).flatten(2)                                            # (B, m, n)
        n = scores.shape[2]
        bins = self.dustbin.expand(scores.shape[0], 1, n)
        rows, cols = salad_marginals(self.clusters, n)
        plan = log_sinkhorn(torch.cat([scores, bins], dim=1), rows.log().to(x.device), cols.log().to(x.device),
                            self.iterations)
        return plan[:, :-1].exp()

    def aggregate(self, x: Tensor) -> Tensor:
        features = self.cluster_features(x).flatten(2)                             # (B, l, n)
        clusters = F.normalize(self.assignment(x) @ features.transpose(1, 2), dim=2)  # (B, m, l)
        token = F.normalize(self.token(x.mean(dim=(2, 3))), dim=1)                  # (B, token_dim)
        return torch.cat([token, clusters.flatten(1)], dim=1)


def _position_mlp(channels: int, hidden: int, out: int, dropout: float) -> nn.Sequential:
    """SALAD's per-position MLP: 1x1 conv, dropout, ReLU, 1x1 conv."""
    return nn.Sequential(nn.Conv2d(channels, hidden, 1), nn.Dropout(dropout), nn.ReLU(), nn.Conv2d(hidden, out, 1))

