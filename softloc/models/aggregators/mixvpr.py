"""MixVPR: feature mixing (Ali-bey, Chaib-draa and Giguère, "MixVPR: Feature Mixing for Visual
Place Recognition", WACV 2023)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from softloc.models.aggregators.base import Aggregator


class FeatureMixer(nn.Module):
    """One MixVPR layer on (B, C, hw) flattened maps: x + MLP(LayerNorm(x)) across the hw
    positions of each channel (a hidden width of hw * mlp_ratio, ReLU)."""

    def __init__(self, positions: int, mlp_ratio: float) -> None:
        super().__init__()
        hidden = max(1, int(positions * mlp_ratio))
        self.mix = nn.Sequential(nn.LayerNorm(positions), nn.Linear(positions, hidden), nn.ReLU(),
                                 nn.Linear(hidden, positions))

    def forward(self, x: Tensor) -> Tensor:
        return x + self.mix(x)


class MixVPR(Aggregator):
    """`mix_depth` feature mixers over each channel's flattened in_h x in_w map, then two linear
    projections: channels C -> out_channels and positions in_h*in_w -> out_rows; dim =
    out_channels * out_rows.

    Hyperparameters (params `aggregators.mixvpr`) at the paper's best model, 4096-D on ResNet-50
    cut after its third stage (the authors' released configuration): mix_depth 4, mlp_ratio 1,
    out_channels 1024, out_rows 4. Its mixers have fixed weights per position, so the map must always have
    in_h x in_w cells: the paper trains and tests on 320 x 320 images, whose stride-16 map is
    20 x 20 (in_h = in_w = ceil(320 / 16)). Here images keep their aspect ratio and test sets
    differ in it (landscape RobotCar and Pittsburgh, square Seasons), so the map is first
    adaptively average-pooled to in_h x in_w (a larger map averaged down, a smaller one repeated
    up). The default 5 x 6 follows the paper's rule for this project's images: the stride-16 map
    (Lite0, VGG-16) of a 96 x 72 image, ceil(72 / 16) x ceil(96 / 16).
    """

    name = "mixvpr"

    def __init__(self, channels: int, *, in_h: int, in_w: int, mix_depth: int, mlp_ratio: float,
                 out_channels: int, out_rows: int) -> None:
        super().__init__(channels, {"in_h": in_h, "in_w": in_w, "mix_depth": mix_depth, "mlp_ratio": mlp_ratio,
                                    "out_channels": out_channels, "out_rows": out_rows})
        self.grid = (in_h, in_w)
        positions = in_h * in_w
        self.mix = nn.Sequential(*[FeatureMixer(positions, mlp_ratio) for _ in range(mix_depth)])
        self.channel_proj = nn.Linear(channels, out_channels)
        self.row_proj = nn.Linear(positions, out_rows, bias=False)
        self.out_channels, self.out_rows = out_channels, out_rows

    @property
    def dim(self) -> int:
        return self.out_channels * self.out_rows

    def aggregate(self, x: Tensor) -> Tensor:
        x = self.mix(F.adaptive_avg_pool2d(x, self.grid).flatten(2))   # (B, C, hw)
        x = self.channel_proj(x.transpose(1, 2))                        # (B, hw, out_channels)
        return self.row_proj(x.transpose(1, 2)).flatten(1)              # (B, out_channels * out_rows)
