"""Convolutional backbones: VGG-16 cut at conv5_3 (the paper), a small CPU network, and
EfficientNet-Lite0 cut after a chosen block (softloc.models.efficientnet_lite).

torchvision is not importable here, so VGG-16's `features` is rebuilt with torchvision's exact
module indices: torchvision's published state dict (vgg16-397923af.pth, keys
`features.N.weight/bias`) loads unchanged, strictly on the kept layers.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import torch
from torch import nn

from softloc.models.efficientnet_lite import EfficientNetLite0, load_lite0_weights

if TYPE_CHECKING:  # annotations only: pydantic is absent on the GPU machine (benchmarks/gpu_check.py)
    from softloc.config import Model

# torchvision's configuration "D" (VGG-16): conv widths, "M" = 2x2 max-pool.
VGG16_CFG: list[int | str] = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
# NetVLAD crops VGG-16 at conv5_3 before its ReLU (NetVLAD's MatConvNet/TF models, Pytorch-NetVlad
# and the soft contrastive release all do): torchvision's features[:29], conv5_3 = index 28;
# the ReLU (29) and the last max-pool (30) are dropped.
VGG16_KEPT_LAYERS = 29
SMALL_CHANNELS = (16, 32, 64, 128)  # default of params model.small_channels
SMALL_GROUPS = 8  # GroupNorm groups per layer of the small backbone (fewer when the width is not a multiple)


def vgg16_features() -> nn.Sequential:
    """VGG-16 conv layers up to conv5_3 (before its ReLU), module indices identical to torchvision's."""
    layers: list[nn.Module] = []
    in_channels = 3
    for v in VGG16_CFG:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(in_channels, int(v), kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            in_channels = int(v)
    features = nn.Sequential(*layers[:VGG16_KEPT_LAYERS])
    for m in features.modules():
        if isinstance(m, nn.Conv2d):  # torchvision's VGG initialisation
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            nn.init.zeros_(m.bias)
    features.out_channels = 512
    return features


def small_features(channels: Sequence[int] = SMALL_CHANNELS) -> nn.Sequential:
    """Conv3x3-GroupNorm-ReLU blocks of the given widths, a 2x2 max-pool after all but the last,
    whose ReLU is left out as in the VGG-16 cut (NetVLAD pools signed descriptors).

    GroupNorm (Wu & He 2018; gcd(SMALL_GROUPS, width) groups), not BatchNorm: it keeps no running
    statistics, so the network computes the same function in training and evaluation mode and
    an image's features never depend on the other images of its batch. With BatchNorm the
    running statistics moved as soon as training started (a run at learning rate 0 dropped
    validation top-1 from 0.497 to 0.427), so the step-0 validation, early stopping's baseline,
    measured another network than every later one. VGG-16 has no normalisation layer.

    The default (16, 32, 64, 128) turns a 96x72 image into 128 channels on a 12x9 grid for about
    55 MFLOP, a third of (32, 64, 128, 128) and about 3x faster to train on one CPU core.
    """
    layers: list[nn.Module] = []
    in_channels = 3
    for i, c in enumerate(channels):
        layers += [nn.Conv2d(in_channels, int(c), 3, padding=1, bias=False), nn.GroupNorm(math.gcd(SMALL_GROUPS, int(c)), int(c))]
        if i < len(channels) - 1:
            layers += [nn.ReLU(inplace=True), nn.MaxPool2d(2)]
        in_channels = int(c)
    features = nn.Sequential(*layers)
    for m in features.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
    features.out_channels = in_channels
    return features


def load_vgg16_weights(features: nn.Sequential, path: str | os.PathLike) -> None:
    """Load torchvision's VGG-16 state dict from a local file into `features` (strict).

    Keys outside the kept layers (the last pool has none; the classifier is ignored) are skipped;
    every kept layer must be present with its exact shape. softloc never downloads weights.
    """
    _check_weights_file(path)
    state = torch.load(path, map_location="cpu", weights_only=True)
    kept = {k.removeprefix("features."): v for k, v in state.items() if k.startswith("features.")}
    kept = {k: v for k, v in kept.items() if int(k.split(".")[0]) < VGG16_KEPT_LAYERS}
    try:
        features.load_state_dict(kept, strict=True)
    except RuntimeError as err:
        raise ValueError(f"{path}: not torchvision's VGG-16 state dict ({err})") from err


def _check_weights_file(path: str | os.PathLike) -> None:
    if not path or not Path(path).is_file():
        raise FileNotFoundError(
            f"model.init is 'imagenet' but the weights file model.weights={str(path)!r} does not exist; "
            "softloc never downloads weights: download torchvision's vgg16-397923af.pth yourself and "
            "set model.weights to its local path (or use model.init: random)"
        )


def build_backbone(model: Model) -> nn.Module:
    """The backbone named by `model.backbone`, initialised per `model.init`."""
    if model.backbone == "vgg16":
        if model.init == "imagenet":
            _check_weights_file(model.weights)  # fail before building 15M random weights
        features = vgg16_features()
        if model.init == "imagenet":
            load_vgg16_weights(features, model.weights)
        return features
    if model.backbone == "efficientnet_lite0":
        trunk = EfficientNetLite0(model.lite_last_block)
        if model.init == "imagenet":
            load_lite0_weights(trunk, model.weights or None)  # the installed package's file unless model.weights
        return trunk
    if model.init == "imagenet":
        raise ValueError("model.init 'imagenet' needs model.backbone 'vgg16' or 'efficientnet_lite0' (no ImageNet weights exist for 'small')")
    return small_features(model.small_channels)
