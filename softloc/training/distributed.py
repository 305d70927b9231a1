"""Multi-process training with torchrun + DistributedDataParallel: who this process is, and the
few collective steps the training loop needs.

Under torchrun (`train.nproc_per_node` > 1) every process samples the same global batch of
tuples (the draws derive from seed, epoch and step), runs the network on its own share of the
tuples, and all-gathers the features (with their gradients) so that every process computes the
loss of the whole batch. DDP averages the parameter gradients over the processes; as each
process's features received the sum of all processes' identical loss gradients, the average is
exactly the gradient of the single-process step: the same seed gives the same run (within float
tolerance) on any number of processes. Descriptors for the mining cache and validation are
computed in shards (one per process) and all-gathered, so every process holds the same cache and
takes the same early-stopping decision. Rank 0 alone writes checkpoints, logs and the model.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist


@dataclass(frozen=True)
class World:
    """This process's place among the training processes (rank 0 of 1 without torchrun)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """The process that writes checkpoints, logs and the model file."""
        return self.rank == 0

    def share(self, n: int) -> slice:
        """This process's contiguous share of n items (the first n % size processes get one more)."""
        bounds = _bounds(n, self.size)
        return slice(int(bounds[self.rank]), int(bounds[self.rank + 1]))


def _bounds(n: int, parts: int) -> np.ndarray:
    base, extra = divmod(n, parts)
    return np.concatenate([[0], np.cumsum([base + (i < extra) for i in range(parts)])])


def world() -> World:
    """The World of this process: from torch.distributed when initialised, else a single process."""
    if dist.is_available() and dist.is_initialized():
        return World(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)))
    return World()


def init_from_env(device_type: str) -> World:
    """Join the process group torchrun describes in the environment (nccl on CUDA, gloo on CPU).

    Without torchrun's variables (WORLD_SIZE unset) this is a single process and nothing is set up.
    """
    if int(os.environ.get("WORLD_SIZE", 1)) > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device_type == "cuda" else "gloo")
    return world()


def gather_rows(local: torch.Tensor, counts: list[int]) -> torch.Tensor:
    """Concatenate every process's (counts[r], ...) rows in rank order, on every process (no gradient).

    Shares may differ in length by one, so each is padded to the longest before the all-gather.
    """
    w = world()
    if w.size == 1:
        return local
    longest = max(counts)
    padded = local.new_zeros((longest, *local.shape[1:]))
    padded[: len(local)] = local
    parts = [torch.empty_like(padded) for _ in range(w.size)]
    dist.all_gather(parts, padded.contiguous())
    return torch.cat([p[:c] for p, c in zip(parts, counts)])


def gather_features(local: torch.Tensor) -> torch.Tensor:
    """All processes' equal-sized (n, ...) features concatenated in rank order, differentiable:
    the backward sums every process's gradient of the whole (an all-reduce) and keeps its own rows."""
    if world().size == 1:
        return local
    return _GatherRows.apply(local)


class _GatherRows(torch.autograd.Function):
    """all_gather forward, all_reduce(sum) + own slice backward (works on gloo and nccl alike)."""

    @staticmethod
    def forward(ctx, local: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.rows, ctx.rank = len(local), dist.get_rank()
        parts = [torch.empty_like(local) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, local.contiguous())
        return torch.cat(parts)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        grad = grad.contiguous()
        dist.all_reduce(grad)
        return grad[ctx.rank * ctx.rows : (ctx.rank + 1) * ctx.rows]


def share_counts(n: int) -> list[int]:
    """How many of n items each process holds under World.share."""
    return np.diff(_bounds(n, world().size)).astype(int).tolist()
