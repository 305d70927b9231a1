"""Multi-similarity loss (Wang et al., "Multi-Similarity Loss with General Pair Weighting for
Deep Metric Learning", CVPR 2019), as the soft contrastive paper uses it as a baseline.

Within a tuple, the anchor and its close images form one class and every far image its own
class. With L2-normalised features and S_ij = max(f_i . f_j, 0) (the clamp as in the authors'
release), every image i is a row:

    l_i = 1/alpha log(1 + sum_{j in P_i} exp(-alpha (S_ij - lam)))
        + 1/beta  log(1 + sum_{j in N_i} exp( beta (S_ij - lam)))

P_i = same class without i itself, N_i = other classes. Loss = mean over rows.
Defaults alpha = 2, beta = 50, lam = 1 (the MS paper's and the release's values).

`label_scope` says which images a row sees:
- batch (default; the authors' release, behind the paper's multi-similarity row of Table 1):
  the rows and columns are all images of the batch, each tuple's classes distinct from every
  other tuple's, so the images of the other tuples are negatives too. With one tuple per batch
  this is the same as `tuple`.
- tuple: each tuple alone (the rows of a tuple see only their own tuple), for the reading that
  images of other tuples may lie close by and are not known negatives.

`ms_mining` adds the MS paper's pair mining (keep a negative only if S_ij > min_P S_ik - eps,
a positive only if S_ij < max_N S_ik + eps, eps = `ms_eps` = 0.1), over the same scope. Off by
default: the release trains this baseline without it (its --msmining flag defaults to False).
Extra images (n_extra) are not used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from softloc.losses.registry import LossParams, TupleBatch, bounded, register

LabelScope = Literal["batch", "tuple"]
LABEL_SCOPES = get_args(LabelScope)


@dataclass(frozen=True)
class MultiSimilarityParams(LossParams):
    """multisimilarity: alpha, beta, lam, the pair mining (ms_mining, ms_eps) and the label scope."""

    alpha: float = bounded(2.0, gt=0)
    beta: float = bounded(50.0, gt=0)
    lam: float = 1.0
    ms_mining: bool = False
    ms_eps: float = bounded(0.1, ge=0)
    label_scope: LabelScope = "batch"


def ms_mining_masks(pos: Tensor, neg: Tensor, mask_pos: Tensor, mask_neg: Tensor, eps: float) -> tuple[Tensor, Tensor]:
    """The MS paper's pair mining on (B, M, M) positive/negative similarity matrices.

    A negative pair is kept if it is more similar than the least similar positive minus eps,
    a positive pair if it is less similar than the most similar negative plus eps. A row without
    positives keeps all its negatives; a row without negatives keeps all its positives.
    """
    inf = torch.tensor(float("inf"), dtype=pos.dtype, device=pos.device)
    min_pos = torch.where(mask_pos, pos, inf).amin(dim=2, keepdim=True)
    max_neg = torch.where(mask_neg, neg, -inf).amax(dim=2, keepdim=True)
    min_pos = torch.where(mask_pos.any(dim=2, keepdim=True), min_pos, -inf)
    max_neg = torch.where(mask_neg.any(dim=2, keepdim=True), max_neg, inf)
    return mask_pos & (pos < max_neg + eps), mask_neg & (neg > min_pos - eps)


def ms_row_losses(pos: Tensor, neg: Tensor, mask_pos: Tensor, mask_neg: Tensor, alpha: float, beta: float, lam: float) -> Tensor:
    """(B, M) multi-similarity row losses from (B, M, M) similarities and their pair masks.

    log(1 + sum exp(z)) is computed as a logsumexp with a zero appended, so it cannot overflow.
    """
    pos_term = _log1p_sum_exp(-alpha * (pos - lam), mask_pos) / alpha
    neg_term = _log1p_sum_exp(beta * (neg - lam), mask_neg) / beta
    return pos_term + neg_term


def _log1p_sum_exp(z: Tensor, mask: Tensor) -> Tensor:
    z = z.masked_fill(~mask, float("-inf"))
    zero = torch.zeros_like(z[..., :1])
    return torch.logsumexp(torch.cat([zero, z], dim=-1), dim=-1)


def cosine_similarities(features: Tensor) -> Tensor:
    """(B, M, D) -> (B, M, M) S_ij = max(f_i . f_j, 0) of the L2-normalised features."""
    f = F.normalize(features.float(), dim=-1)
    return (f @ f.transpose(1, 2)).clamp(min=0.0)


def tuple_labels(n_close: int, n_far: int) -> Tensor:
    """(1+P+N,) class labels of one tuple: 0 for the anchor and its close images, 1..N for the far images."""
    return torch.cat([torch.zeros(1 + n_close, dtype=torch.long), torch.arange(1, n_far + 1)])


@register("multisimilarity", MultiSimilarityParams, disjoint=True)
class MultiSimilarityLoss(nn.Module):
    """Multi-similarity loss over tuples: anchor + close = one class, each far image its own."""

    def __init__(self, hp: MultiSimilarityParams = MultiSimilarityParams()) -> None:
        super().__init__()
        if hp.label_scope not in LABEL_SCOPES:
            raise ValueError(f"multisimilarity: label_scope must be one of {LABEL_SCOPES}, got {hp.label_scope!r}")
        self.alpha, self.beta, self.lam = float(hp.alpha), float(hp.beta), float(hp.lam)
        self.ms_mining, self.ms_eps, self.label_scope = bool(hp.ms_mining), float(hp.ms_eps), hp.label_scope

    def forward(self, batch: TupleBatch) -> Tensor:
        features = batch.tuple_features
        b, m, _ = features.shape
        labels = tuple_labels(batch.n_close, batch.n_far)
        if self.label_scope == "batch":  # one row per image of the batch; tuple t's classes offset by t (N + 1)
            features = features.reshape(1, b * m, -1)
            labels = (labels[None, :] + (batch.n_far + 1) * torch.arange(b)[:, None]).reshape(-1)
        sim = cosine_similarities(features)
        same = (labels[:, None] == labels[None, :]).to(sim.device)
        eye = torch.eye(len(labels), dtype=torch.bool, device=sim.device)
        mask_pos = (same & ~eye).expand_as(sim)
        mask_neg = (~same).expand_as(sim)
        if self.ms_mining:
            mask_pos, mask_neg = ms_mining_masks(sim, sim, mask_pos, mask_neg, self.ms_eps)
        return ms_row_losses(sim, sim, mask_pos, mask_neg, self.alpha, self.beta, self.lam).mean()
