"""Input normalisation: uint8 RGB images to the float input a backbone was trained on.

Each backbone names its normalisation (`input_norm`): VGG-16 and the small network take
torchvision's ImageNet normalisation, (pixel / 255 - mean) / std; EfficientNet-Lite was trained on
(pixel - 127) / 128 (the TensorFlow TPU repository's Lite preprocessing). The network's
`preprocess` applies its backbone's, so every caller feeds every backbone correctly.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class InputNorm(NamedTuple):
    """pixel (0-255) -> (pixel / scale - mean) / std per RGB channel (scale 1: no division)."""

    scale: float
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


IMAGENET_NORM = InputNorm(255.0, IMAGENET_MEAN, IMAGENET_STD)
LITE_NORM = InputNorm(1.0, (127.0, 127.0, 127.0), (128.0, 128.0, 128.0))  # exact in float32: integer - 127, / 2^7


def preprocess(images: Tensor, norm: InputNorm = IMAGENET_NORM) -> Tensor:
    """uint8 (B, H, W, 3) RGB -> float (B, 3, H, W) normalised per `norm` (ImageNet's by default).

    The result stays on the images' device and is channels_last in memory (a free permute).
    """
    if images.dtype != torch.uint8 or images.dim() != 4 or images.shape[-1] != 3:
        raise ValueError(f"preprocess: expected uint8 (B, H, W, 3) images, got {images.dtype} {tuple(images.shape)}")
    mean = torch.tensor(norm.mean, device=images.device).view(1, 3, 1, 1)
    std = torch.tensor(norm.std, device=images.device).view(1, 3, 1, 1)
    x = images.permute(0, 3, 1, 2).float()
    if norm.scale != 1.0:
        x = x.div_(norm.scale)
    return (x - mean) / std
