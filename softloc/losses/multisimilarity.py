"""Multi-similarity loss (Wang et al., "Multi-Similarity Loss with General Pair Weighting for
Deep Metric Learning", CVPR 2019), as the soft contrastive paper uses it as a baseline.

Per tuple, the anchor and its close images form one class and every far image its own class.
With L2-normalised features and S_ij = max(f_i . f_j, 0) (the clamp as in the authors' release),
every image i of the tuple is a row:

    l_i = 1/alpha log(1 + sum_{j in P_i} exp(-alpha (S_ij - lam)))
        + 1/beta  log(1 + sum_{j in N_i} exp( beta (S_ij - lam)))

P_i = same class without i itself, N_i = other classes. Loss = mean over rows and tuples.
Defaults alpha = 2, beta = 50, lam = 1 (the MS paper's and the release's values).
`ms_mining` adds the MS paper's pair mining (keep a negative only if S_ij > min_P S_ik - eps,
a positive only if S_ij < max_N S_ik + eps, eps = `ms_eps` = 0.1); design.md leaves it out and
the release trains this baseline without it (its --msmining flag defaults to False), so it is
off by default. Rows of a tuple only see their own tuple: images of other tuples in the batch
may lie close by and are not known negatives.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from softloc.losses.base import TupleBatch, register


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


@register("multisimilarity")
class MultiSimilarityLoss(nn.Module):
    """Multi-similarity loss over a tuple: anchor + close = one class, each far image its own."""

    def __init__(self, alpha: float = 2.0, beta: float = 50.0, lam: float = 1.0, ms_mining: bool = False, ms_eps: float = 0.1) -> None:
        super().__init__()
        self.alpha, self.beta, self.lam = float(alpha), float(beta), float(lam)
        self.ms_mining, self.ms_eps = bool(ms_mining), float(ms_eps)

    def forward(self, batch: TupleBatch) -> Tensor:
        sim = cosine_similarities(batch.tuple_features)
        m = sim.shape[1]
        labels = torch.cat([torch.zeros(1 + batch.n_close, dtype=torch.long), torch.arange(1, batch.n_far + 1)])
        same = (labels[:, None] == labels[None, :]).to(sim.device)
        eye = torch.eye(m, dtype=torch.bool, device=sim.device)
        mask_pos = (same & ~eye).expand_as(sim)
        mask_neg = (~same).expand_as(sim)
        if self.ms_mining:
            mask_pos, mask_neg = ms_mining_masks(sim, sim, mask_pos, mask_neg, self.ms_eps)
        return ms_row_losses(sim, sim, mask_pos, mask_neg, self.alpha, self.beta, self.lam).mean()
