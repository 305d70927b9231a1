"""Soft contrastive loss (Thoma, Paudel, Van Gool, "Soft Contrastive Learning for Visual
Localization", NeurIPS 2020), in the paper's form and in the authors' released form.

Influence functions of the geometric distance y (metres), crossing at tau:

    sigmoid  g+(y) = 1 / (1 + exp(gamma (y - tau)))   g-(y) = 1 / (1 + exp(gamma (tau - y)))
    linear   g+(y) = max(1 - y/tau, 0)                 g-(y) = min(y/tau, 1)
    tanh     g+(y) = 1 - tanh(y/tau)                   g-(y) = tanh(y/tau)

g+ is DECREASING (weighs the pull on close images), g- INCREASING (weighs the push on far
images), as Definition 4.1 and the text state; eq. (4) of the paper prints the two sigmoids with
their roles swapped. The sigmoid's g+ and g- cross at tau; the release's linear and tanh
functions (kept as released) cross at tau/2 and 0.55 tau. The sigmoid is evaluated as written, in float32, as the release does (an
overflowing exp gives a weight of exactly 0, which takes the pair out of the sums below).

form: paper (eq. 3-5). For each anchor a and every other image i of its tuple (close and far
are one set), y_i = ||x_i - x_a||, D_i = ||f_i - a||, s+_i = g+(y_i) D_i, s-_i = g-(y_i) D_i:

    combine logsumexp:  L_a = 1/eta log(1 + sum_i exp(eta s+_i - mu)) + 1/nu log(1 + sum_i exp(mu - nu s-_i))
    combine sum:        L_a = sum_i (s+_i - s-_i)                          (Figure 4's "simple sum")

The paper does not print eta, mu, nu. Defaults eta = nu = 10, mu = 10: with L2-normalised
features D lies in [0, 2]; the two soft hinges then sit at s = mu/eta = mu/nu = 1, the middle of
that range (orthogonal features have D = sqrt 2), and a scale of 10 per unit of distance makes
each term a smooth hinge that fades over ~0.1-0.3 of feature distance instead of a near-linear
(too weak) or near-hard (gradient only on the worst image) one. Because mu is shared, an image
whose s-_i stays below mu/nu is pushed with weight ~g-(y_i): harmless with the sigmoid (g- ~ 0
well inside tau) but a close image feels a net push under linear/tanh influence, whose g- is
not small there; the released form has no such effect.

form: released (the authors' TensorFlow `wms_loss`, behind the published numbers). All pairs
(i, j) of a tuple (anchor, close, far), features L2-normalised, S_ij = max(f_i . f_j, 0),
y_ij = ||x_i - x_j||, P_ij = g+(y_ij) S_ij, N_ij = g-(y_ij) S_ij, each row i over j != i with
non-zero weight:

    combine logsumexp:  l_i = 1/alpha log(1 + sum_j exp(-alpha (P_ij - lam))) + 1/beta log(1 + sum_j exp(beta (N_ij - lam)))
    combine sum:        l_i = sum_j (N_ij - P_ij)

averaged over rows. Defaults gamma = 0.8 per metre, tau = 15 m, alpha = 2, beta = 50, lam = 1.

`ms_mining` (default ON, as the release ran it: wms_loss defaults to mining and its training
script never turns it off) keeps, per row i, a positive pair only if P_ij < max_j N_ij + eps
and a negative pair only if N_ij > m_i - eps (eps = `ms_eps` = 0.1), where m_i is the release's
soft-weighted "least similar positive":

    m_i = max_j P_ij + min(0, min_{j != i} g+(y_ij) (S_ij - max_k P_ik))

With 0/1 weights m_i is the least similar positive, the multi-similarity paper's rule. (The
release takes the min over the diagonal too, with weight g+(0) - 1: exactly the min(0, .) for
the linear and tanh influence, within 6e-6 of it for the sigmoid.) `ms_mining: false` is the
form as design.md spells it (every pair with a non-zero weight).

Which setting gave which published figure (all with r1 = r2 = 15 m, one merged close/far set):
- Table 1 "soft contrastive" (params `soft`): released form, sigmoid, logsumexp, ms_mining on.
- Figure 4 linear / tanh influence and "simple sum" (params `soft_linear`, `soft_tanh`,
  `soft_sum`): released form with influence linear / tanh (the release's `lin` / `tanh`) or
  combine sum (its `plain`), ms_mining on (the same wms_loss default).
- params `soft_paper` (eq. 3-5 as printed) produced no published figure: the release does not
  train it; it is our reading of the paper's equations.

Both forms return the mean over the tuples of the batch; extra images are not used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

import torch
from torch import Tensor, nn

from softloc.losses.multisimilarity import cosine_similarities, ms_row_losses
from softloc.losses.registry import LossParams, TupleBatch, bounded, register

Form = Literal["released", "paper"]
Influence = Literal["sigmoid", "linear", "tanh"]
Combine = Literal["logsumexp", "sum"]
FORMS, INFLUENCES, COMBINES = get_args(Form), get_args(Influence), get_args(Combine)
# The keys of one form only, with their defaults: set for the other form, they are an error.
FORM_DEFAULTS = {
    "paper": {"eta": 10.0, "mu": 10.0, "nu": 10.0},
    "released": {"alpha": 2.0, "beta": 50.0, "lam": 1.0, "ms_mining": True, "ms_eps": 0.1},
}


@dataclass(frozen=True)
class SoftContrastiveParams(LossParams):
    """soft_contrastive: form, influence, combination, gamma, tau and the keys of one form (None:
    the form's default in FORM_DEFAULTS)."""

    form: Form = "released"
    influence: Influence = "sigmoid"
    combine: Combine = "logsumexp"
    gamma: float = bounded(0.8, gt=0)
    tau: float = bounded(15.0, gt=0)
    eta: float | None = bounded(None, gt=0)
    mu: float | None = None
    nu: float | None = bounded(None, gt=0)
    alpha: float | None = bounded(None, gt=0)
    beta: float | None = bounded(None, gt=0)
    lam: float | None = None
    ms_mining: bool | None = None
    ms_eps: float | None = bounded(None, ge=0)

    def conflicts(self) -> list[tuple[str, str]]:
        """The keys set that belong to the other form: a params override never silently does nothing."""
        other = "released" if self.form == "paper" else "paper"
        return [(key, f"only with form: {other} (this entry has form: {self.form})")
                for key in FORM_DEFAULTS[other] if getattr(self, key) is not None]


def influence(y: Tensor, kind: str, tau: float, gamma: float) -> tuple[Tensor, Tensor]:
    """(g+(y), g-(y)) in float32 for metre distances y: g+ decreasing, g- increasing."""
    y = y.float()
    if kind == "sigmoid":
        return 1.0 / (1.0 + torch.exp(gamma * (y - tau))), 1.0 / (1.0 + torch.exp(gamma * (tau - y)))
    if kind == "linear":
        return (1.0 - y / tau).clamp(min=0.0), (y / tau).clamp(max=1.0)
    if kind == "tanh":
        t = torch.tanh(y / tau)
        return 1.0 - t, t
    raise ValueError(f"unknown influence {kind!r}; expected one of {INFLUENCES}")


@register("soft_contrastive", SoftContrastiveParams, disjoint=False)   # close and far one set, weighted by distance
class SoftContrastiveLoss(nn.Module):
    """The soft contrastive loss; see the module docstring for both forms and their defaults.

    Form-specific keys (eta, mu, nu for paper; alpha, beta, lam, ms_mining, ms_eps for
    released) are an error with the other form, so a params override never silently does nothing.
    """

    def __init__(self, hp: SoftContrastiveParams = SoftContrastiveParams()) -> None:
        super().__init__()
        for name, allowed in (("form", FORMS), ("influence", INFLUENCES), ("combine", COMBINES)):
            if getattr(hp, name) not in allowed:
                raise ValueError(f"soft_contrastive: {name} must be one of {allowed}, got {getattr(hp, name)!r}")
        own = FORM_DEFAULTS[hp.form]
        wrong = sorted(key for key, _ in hp.conflicts())
        if wrong:
            raise ValueError(f"soft_contrastive: {wrong} do not apply to form {hp.form!r}; it takes {sorted(own)}")
        self.form, self.influence, self.combine = hp.form, hp.influence, hp.combine
        self.gamma, self.tau = float(hp.gamma), float(hp.tau)
        self.hp = {k: (default if getattr(hp, k) is None else type(default)(getattr(hp, k))) for k, default in own.items()}

    def extra_repr(self) -> str:
        hp = ", ".join(f"{k}={v}" for k, v in self.hp.items())
        return f"form={self.form}, influence={self.influence}, combine={self.combine}, gamma={self.gamma}, tau={self.tau}, {hp}"

    def forward(self, batch: TupleBatch) -> Tensor:
        return self._paper(batch) if self.form == "paper" else self._released(batch)

    def _paper(self, batch: TupleBatch) -> Tensor:
        y = batch.geo_to_anchor()
        f = batch.tuple_features.float()
        d = (f[:, 1:] - f[:, :1]).norm(dim=-1)
        g_plus, g_minus = influence(y, self.influence, self.tau, self.gamma)
        s_plus, s_minus = g_plus * d, g_minus * d
        if self.combine == "sum":
            return (s_plus - s_minus).sum(dim=1).mean()
        eta, mu, nu = self.hp["eta"], self.hp["mu"], self.hp["nu"]
        pull = _log1p_sum_exp(eta * s_plus - mu) / eta
        push = _log1p_sum_exp(mu - nu * s_minus) / nu
        return (pull + push).mean()

    def _released(self, batch: TupleBatch) -> Tensor:
        sim = cosine_similarities(batch.tuple_features)
        y = batch.geo_pairwise()
        w_plus, w_minus = influence(y, self.influence, self.tau, self.gamma)
        off_diagonal = ~torch.eye(sim.shape[1], dtype=torch.bool, device=sim.device)
        p, n = w_plus * sim, w_minus * sim
        mask_pos, mask_neg = (w_plus > 0) & off_diagonal, (w_minus > 0) & off_diagonal
        if self.hp["ms_mining"]:
            mask_pos, mask_neg = released_mining_masks(sim, w_plus, p, n, mask_pos, mask_neg, self.hp["ms_eps"])
        if self.combine == "sum":
            return ((n * mask_neg).sum(dim=2) - (p * mask_pos).sum(dim=2)).mean()
        return ms_row_losses(p, n, mask_pos, mask_neg, self.hp["alpha"], self.hp["beta"], self.hp["lam"]).mean()


def released_mining_masks(sim: Tensor, w_plus: Tensor, p: Tensor, n: Tensor, mask_pos: Tensor, mask_neg: Tensor, eps: float) -> tuple[Tensor, Tensor]:
    """The release's pair mining on soft weights, (B, M, M) each; see the module docstring.

    Keeps a positive pair if P_ij < max_{j != i} N_ij + eps and a negative pair if
    N_ij > m_i - eps, m_i = max P_i + min(0, min_{j != i} w+_ij (S_ij - max P_i)).
    """
    off_diagonal = ~torch.eye(sim.shape[1], dtype=torch.bool, device=sim.device)
    inf = torch.tensor(float("inf"), dtype=sim.dtype, device=sim.device)
    max_pos = torch.where(off_diagonal, p, -inf).amax(dim=2, keepdim=True)
    max_neg = torch.where(off_diagonal, n, -inf).amax(dim=2, keepdim=True)
    least = torch.where(off_diagonal, w_plus * (sim - max_pos), inf).amin(dim=2, keepdim=True)
    min_pos = max_pos + least.clamp(max=0.0)
    return mask_pos & (p < max_neg + eps), mask_neg & (n > min_pos - eps)


def _log1p_sum_exp(z: Tensor) -> Tensor:
    """log(1 + sum_i exp(z_i)) over the last dimension, without overflow."""
    return torch.logsumexp(torch.cat([torch.zeros_like(z[..., :1]), z], dim=-1), dim=-1)
