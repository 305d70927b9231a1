"""What every aggregator other than NetVLAD shares: float32 outside autocast, the final L2
normalisation, its descriptor length `dim`, and the hyperparameters the model file records."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class Aggregator(nn.Module):
    """Pool (B, C, H, W) conv features into an L2-normalised (B, dim) global descriptor.

    A subclass computes the unnormalised descriptor in `aggregate`; `forward` runs it in float32
    with autocast off (as NetVLAD: the pooling is cheap beside the backbone, and normalisations,
    powers and Sinkhorn's log-sum-exps are sensitive to half precision) and L2-normalises it.
    `hyperparameters` are the keyword arguments it was built with (params `aggregators.<name>`):
    the model file records them so that loading rebuilds the same network.
    """

    name: ClassVar[str]

    def __init__(self, channels: int, hyperparameters: dict[str, Any]) -> None:
        super().__init__()
        self.channels = channels
        self.hyperparameters = dict(hyperparameters)

    @property
    def dim(self) -> int:
        """Length of the global descriptor."""
        raise NotImplementedError

    def aggregate(self, x: Tensor) -> Tensor:
        """(B, C, H, W) float32 features -> (B, dim) descriptors before the final L2 normalisation."""
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, H, W) conv features -> (B, dim) L2-normalised descriptors (float32)."""
        with torch.autocast(device_type=x.device.type, enabled=False):
            return F.normalize(self.aggregate(x.float()), dim=1)
