"""GeM: generalised-mean pooling (Radenović, Tolias and Chum, "Fine-tuning CNN Image Retrieval
with No Human Annotation", TPAMI 2018)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from softloc.models.aggregators.base import Aggregator


class GeM(Aggregator):
    """Per channel c, f_c = (mean over (h, w) of max(x_chw, eps)^p)^(1/p); dim = C.

    Hyperparameters (params `aggregators.gem`) at the paper's values: `p` = 3, the initial value
    of the learned exponent (one p shared by all channels, trained with the network); `eps` =
    1e-6, the clamp that keeps the power defined. p = 1 is average pooling, p -> inf max pooling.
    The paper's networks end with a ReLU; the backbones here end without one (NetVLAD pools
    signed descriptors), so the clamp at eps plays the ReLU: negative responses count as eps.
    """

    name = "gem"

    def __init__(self, channels: int, *, p: float, eps: float) -> None:
        super().__init__(channels, {"p": p, "eps": eps})
        self.p = nn.Parameter(torch.tensor([float(p)]))
        self.eps = eps

    @property
    def dim(self) -> int:
        return self.channels

    def aggregate(self, x: Tensor) -> Tensor:
        return x.clamp(min=self.eps).pow(self.p).mean(dim=(2, 3)).pow(1.0 / self.p)
