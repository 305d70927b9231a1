"""The localization network (backbone + NetVLAD) and the image preprocessing it expects."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from softloc.models.backbones import build_backbone
from softloc.models.netvlad import NetVLAD

if TYPE_CHECKING:  # annotations only: pydantic is absent on the GPU machine (benchmarks/gpu_check.py)
    from softloc.config import Model

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class LocalizationNet(nn.Module):
    """Backbone conv features pooled by NetVLAD into an L2-normalised global descriptor."""

    def __init__(self, backbone: nn.Sequential, clusters: int) -> None:
        super().__init__()
        self.backbone = backbone
        self.pool = NetVLAD(clusters, backbone.out_channels)

    @property
    def dim(self) -> int:
        """Length of the global descriptor, K * C."""
        return self.pool.dim

    def forward(self, x: Tensor) -> Tensor:
        """(B, 3, H, W) preprocessed images -> (B, dim) L2-normalised descriptors."""
        return self.pool(self.backbone(x))

    def descriptors(self, x: Tensor) -> Tensor:
        """(B, 3, H, W) preprocessed images -> (B*h*w, C) local conv descriptors (k-means input)."""
        return self.backbone(x).flatten(2).transpose(1, 2).reshape(-1, self.pool.channels)

    def init_clusters(self, descriptors: Tensor, seed: int = 0) -> None:
        """NetVLAD's initialisation: k-means on (N, C) conv descriptors of training images."""
        self.pool.init_clusters(descriptors, seed=seed)


def build_network(model: Model, seed: int) -> LocalizationNet:
    """Build the network of params.yaml `model` (backbone, init, weights, clusters).

    Random layers are drawn from `seed` without touching the global RNG, so every method of one
    seed starts from the same network. The network is channels_last in memory, like
    `preprocess`'s output (faster convolutions on CPU and with AMP on CUDA).
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = LocalizationNet(build_backbone(model), model.clusters)
    return net.to(memory_format=torch.channels_last)


def preprocess(images: Tensor) -> Tensor:
    """uint8 (B, H, W, 3) RGB -> float (B, 3, H, W) normalised with ImageNet mean/std.

    The result stays on the images' device and is channels_last in memory (a free permute).
    The efficientnet_lite0 backbone maps it to Lite's own (pixel - 127) / 128 as its first
    operation (softloc.models.efficientnet_lite), so every caller feeds every backbone the same way.
    """
    if images.dtype != torch.uint8 or images.dim() != 4 or images.shape[-1] != 3:
        raise ValueError(f"preprocess: expected uint8 (B, H, W, 3) images, got {images.dtype} {tuple(images.shape)}")
    mean = torch.tensor(IMAGENET_MEAN, device=images.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=images.device).view(1, 3, 1, 1)
    x = images.permute(0, 3, 1, 2).float().div_(255.0)
    return (x - mean) / std
