"""Which part of the backbone trains: `model.train_from_block` and up; the trunk below it is frozen.

Fine-tuning a pretrained trunk (NetVLAD's authors trained VGG-16 from conv5 on) trains its upper
part and NetVLAD only. The frozen lower trunk gets `requires_grad` False, so autograd records
nothing below the cut: a training step pays its forward but no backward there, and Adam is handed
the trainable parameters alone. Its BatchNorm is frozen too: EfficientNet-Lite's BatchNorm never
updates its statistics (efficientnet_lite.FrozenStatsBatchNorm2d), and its scale and shift below
the cut no longer train; VGG-16 has no normalisation layer. As the frozen part's output for an
image never changes, `frozen_output` computes it once (softloc.models.trunk_memo) and
`TrainedPart` runs the rest: TrainedPart(net, model)(frozen_output(backbone, model, x)) = net(x).

Where the cut lies, per backbone:
- efficientnet_lite0: an MBConv block index (0-15, at most model.lite_last_block); the stem and
  the blocks before it are frozen.
- vgg16: a conv stage (1-5; 5 = conv5, the authors' choice); the stages before it are frozen.
- small: none (it trains from random weights); params validation refuses the key for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from torch import Tensor, nn

from softloc.models.backbones import VGG16_CFG

if TYPE_CHECKING:  # annotations only: pydantic is absent on the GPU machine (benchmarks/gpu_check.py)
    from softloc.config import Model

VGG16_STAGES = VGG16_CFG.count("M")  # 5 conv stages, each ended by a max-pool


def vgg16_stage_start(stage: int) -> int:
    """Index in vgg16_features() of conv stage `stage`'s first layer (1: conv1_1 ... 5: conv5_1)."""
    if not 1 <= stage <= VGG16_STAGES:
        raise ValueError(f"model.train_from_block for vgg16 is a conv stage 1-{VGG16_STAGES}, got {stage}")
    index, pools = 0, 0
    for v in VGG16_CFG:
        if pools == stage - 1:
            return index
        index += 1 if v == "M" else 2  # a conv is followed by its ReLU
        pools += v == "M"
    raise AssertionError("unreachable: the stage bound is checked above")


def frozen_modules(backbone: nn.Module, model: Model) -> list[nn.Module]:
    """The modules of `backbone` below the cut `model.train_from_block` (none when it is None)."""
    start = model.train_from_block
    if start is None:
        return []
    if model.backbone == "efficientnet_lite0":
        if not 0 <= start < len(backbone._blocks):
            raise ValueError(f"model.train_from_block for efficientnet_lite0 is a block 0-{len(backbone._blocks) - 1} "
                             f"(the cut model.lite_last_block), got {start}")
        return [backbone._conv_stem, backbone._bn0, *backbone._blocks[:start]]
    if model.backbone == "vgg16":
        return list(backbone[: vgg16_stage_start(start)])
    raise ValueError(f"model.train_from_block is not defined for model.backbone {model.backbone!r} (it trains whole)")


def freeze_lower_trunk(backbone: nn.Module, model: Model) -> int:
    """Freeze the modules below `model.train_from_block`; returns how many parameter tensors froze."""
    frozen = 0
    for module in frozen_modules(backbone, model):
        for p in module.parameters():
            p.requires_grad_(False)
            frozen += 1
    return frozen


def frozen_output(backbone: nn.Module, model: Model, x: Tensor) -> Tensor:
    """The frozen lower trunk's output on preprocessed images `x`: the input of the trained part."""
    if model.backbone == "efficientnet_lite0":
        return backbone.input_to_block(x, model.train_from_block)
    return backbone[: len(frozen_modules(backbone, model))](x)


class TrainedPart(nn.Module):
    """The trained part of `net` (the backbone above the cut, then its aggregator) as a module of its own:
    forward(frozen_output(x)) = net(x). It shares `net`'s parameters, so DDP and torch.compile
    can wrap it as they wrap the whole network."""

    def __init__(self, net: nn.Module, model: Model) -> None:
        super().__init__()
        self.net = net
        self.model = model
        self.start = len(frozen_modules(net.backbone, model))

    @property
    def dim(self) -> int:
        """Length of the global descriptor, as the whole network's."""
        return self.net.dim

    def forward(self, h: Tensor) -> Tensor:
        backbone = self.net.backbone
        if self.model.backbone == "efficientnet_lite0":
            h = backbone.blocks_from(h, self.model.train_from_block)
        else:
            h = backbone[self.start:](h)
        return self.net.pool(h)


def trainable_parameters(net: nn.Module) -> list[nn.Parameter]:
    """The parameters an optimizer updates: those that require gradients, in module order."""
    return [p for p in net.parameters() if p.requires_grad]
