"""The localization network (backbone + aggregator) and the image preprocessing it expects."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from softloc.models.aggregators import build_aggregator
from softloc.models.backbones import build_backbone
from softloc.models.normalise import IMAGENET_MEAN, IMAGENET_NORM, IMAGENET_STD, InputNorm, preprocess

if TYPE_CHECKING:  # annotations only: pydantic is absent on the GPU machine (benchmarks/gpu_check.py)
    from softloc.config import Aggregators, Model

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "LocalizationNet", "build_network", "preprocess"]


class LocalizationNet(nn.Module):
    """Backbone conv features pooled by an aggregator (`pool`: NetVLAD, GeM, MixVPR, SALAD or BoQ,
    softloc.models.aggregators) into an L2-normalised global descriptor.

    `input_norm` is the backbone's input normalisation (its `input_norm`, ImageNet's when it
    names none); `preprocess` applies it.
    """

    def __init__(self, backbone: nn.Module, pool: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone
        self.pool = pool
        self.input_norm: InputNorm = getattr(backbone, "input_norm", IMAGENET_NORM)
        self.spec: Model | None = None  # the params `model` it was built from (build_network sets it)

    @property
    def dim(self) -> int:
        """Length of the global descriptor (NetVLAD: K * C)."""
        return self.pool.dim

    @property
    def has_cluster_init(self) -> bool:
        """Whether the aggregator is initialised from training descriptors (NetVLAD's k-means)."""
        return hasattr(self.pool, "init_clusters")

    def preprocess(self, images: Tensor) -> Tensor:
        """uint8 (B, H, W, 3) RGB -> the float (B, 3, H, W) input this network's backbone expects."""
        return preprocess(images, self.input_norm)

    def forward(self, x: Tensor) -> Tensor:
        """(B, 3, H, W) preprocessed images -> (B, dim) L2-normalised descriptors."""
        return self.pool(self.backbone(x))

    def descriptors(self, x: Tensor) -> Tensor:
        """(B, 3, H, W) preprocessed images -> (B*h*w, C) local conv descriptors (k-means input)."""
        return self.backbone(x).flatten(2).transpose(1, 2).reshape(-1, self.backbone.out_channels)

    def init_clusters(self, descriptors: Tensor, seed: int = 0) -> None:
        """NetVLAD's initialisation: k-means on (N, C) conv descriptors of training images."""
        if not self.has_cluster_init:
            raise ValueError(f"aggregator {self.pool.name!r} has no cluster initialisation (NetVLAD alone has)")
        self.pool.init_clusters(descriptors, seed=seed)


def build_network(model: Model, seed: int, aggregators: Aggregators | None = None) -> LocalizationNet:
    """Build the network of params.yaml `model` (backbone, init, weights, aggregator, clusters),
    its aggregator's hyperparameters from params `aggregators` (None: the published defaults).

    Random layers are drawn from `seed` without touching the global RNG, so every method of one
    seed starts from the same network. The network is channels_last in memory, like
    `preprocess`'s output (faster convolutions on CPU and with AMP on CUDA). It keeps `model` as
    its `spec`, so a loaded network says where its trunk is frozen (softloc.models.trunk_memo).
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        backbone = build_backbone(model)
        net = LocalizationNet(backbone, build_aggregator(model, backbone.out_channels, aggregators))
    net.spec = model
    return net.to(memory_format=torch.channels_last)
