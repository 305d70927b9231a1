"""Where a run computes: the device, the autocast dtype, this process's place under torchrun, and
the training forward (DistributedDataParallel under torchrun, torch.compile'd on request)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from softloc.models.efficientnet_lite import FrozenStatsBatchNorm2d
from softloc.training import distributed

if TYPE_CHECKING:  # annotations only: pydantic is absent on the GPU machine (benchmarks/gpu_check.py)
    from softloc.config import Train

log = logging.getLogger(__name__)


def pick_device(name: str) -> torch.device:
    """`auto`: CUDA when available, else CPU; `cpu`/`cuda` force one (params train.device)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def amp_dtype(amp: str, device: torch.device) -> torch.dtype | None:
    """Autocast dtype on CUDA (`train.amp`: bf16 | fp16 | off); None (full precision) on CPU."""
    if device.type != "cuda" or amp == "off":
        return None
    return torch.bfloat16 if amp == "bf16" else torch.float16


@dataclass(frozen=True)
class Placement:
    """This process among the training processes, its device and autocast dtype (None: float32)."""

    world: distributed.World
    device: torch.device
    amp: torch.dtype | None

    @property
    def pin(self) -> bool:
        """Whether host batches go to pinned memory (asynchronous copies to a CUDA device)."""
        return self.device.type == "cuda"


def place(train: Train) -> Placement:
    """The Placement of this process for params `train`: under torchrun on CUDA, its local GPU."""
    world = distributed.world()
    device = pick_device(train.device)
    if device.type == "cuda" and world.size > 1:
        device = torch.device("cuda", world.local_rank)
        torch.cuda.set_device(device)
    return Placement(world, device, amp_dtype(train.amp, device))


def has_live_batchnorm(net: torch.nn.Module) -> bool:
    """Whether a BatchNorm of `net` normalises with batch statistics in training (EfficientNet-Lite's
    FrozenStatsBatchNorm2d never does: SyncBatchNorm would replace its frozen ImageNet statistics)."""
    return any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and not isinstance(m, FrozenStatsBatchNorm2d)
               for m in net.modules())


def training_forward(net: torch.nn.Module, placement: Placement, compile: bool) -> torch.nn.Module:
    """The module the training step runs: `net`, in DDP under torchrun (rank 0's weights are
    broadcast when it is built: call after init or resume), torch.compile'd when `compile`.
    `net` itself (eager, plain state-dict keys) validates, embeds and is saved."""
    world = placement.world
    if world.size > 1:
        from torch.nn.parallel import DistributedDataParallel

        if placement.device.type == "cuda" and has_live_batchnorm(net):
            net = torch.nn.SyncBatchNorm.convert_sync_batchnorm(net)  # BN statistics over the global batch
        elif has_live_batchnorm(net):
            log.warning("BatchNorm on CPU with %d processes: statistics are per process (SyncBatchNorm needs CUDA)", world.size)
        net = DistributedDataParallel(net, device_ids=[placement.device.index] if placement.device.type == "cuda" else None)
    return torch.compile(net) if compile else net
