"""Training batches from tuples: each epoch's anchor order, each step's tuples (hard negatives from
the mining cache), their images and positions, prepared one step ahead (softloc.training.prefetch).

Every draw derives from (seed, epoch) or (seed, epoch, step), so a resumed run draws exactly what
an uninterrupted one draws, whichever batches the feed had prepared when the run was killed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from softloc.training.data import TrainData
from softloc.training.device import Placement
from softloc.training.embedding import Source, embed
from softloc.training.mining import MiningCache, TupleSampler, TupleSpec
from softloc.training.prefetch import Prefetcher, StepBatch, host_batch, read_images

if TYPE_CHECKING:  # annotations only: pydantic is absent on the GPU machine (benchmarks/gpu_check.py)
    from softloc.config import Method, Train


def tuple_spec(method: Method, train: Train) -> TupleSpec:
    """The method's radii (r1, r2, n_extra) with the tuple sizes and mining share of `train`."""
    return TupleSpec(
        r1=method.r1,
        r2=method.r2,
        n_close=train.n_close,
        n_far=train.n_far,
        n_extra=method.n_extra,
        n_hard=round(train.mining.hard_fraction * train.n_far),
        max_yaw_deg=train.max_yaw_deg,
        close_other_traversals=train.close_from == "other_traversals",
    )


def refresh_due(step_in_epoch: int, refresh_steps: int) -> bool:
    """Whether the mining cache is refreshed before this step: at each epoch start and every
    `train.mining.refresh_steps` steps within the epoch, as the authors' release counts (its
    counter restarts each epoch; it counts anchors, 250, where we count steps). The cache then
    never serves the hard negatives of an epoch from the network of the one before."""
    return step_in_epoch % refresh_steps == 0


def refresh_cache(net: torch.nn.Module, images: Source, anchors: np.ndarray, rng: np.random.Generator, train: Train, placement: Placement) -> MiningCache:
    """Features of `train.mining.cache_size` random training images and of the coming `anchors`
    (`images`: the training split's source, its images or their frozen-trunk output)."""
    n = len(images.store)
    rows = np.sort(rng.choice(n, min(train.mining.cache_size, n), replace=False))
    batch, device, amp = train.eval_batch_size, placement.device, placement.amp
    anchor_rows = np.unique(anchors)
    return MiningCache(
        rows=rows,
        features=embed(net, images, rows, device, batch, amp),
        anchor_rows=anchor_rows,
        anchor_features=embed(net, images, anchor_rows, device, batch, amp),
    )


@dataclass(frozen=True)
class EpochPlan:
    """Each epoch's anchor order and step count, and the anchors of every step of the run in order."""

    orders: list[np.ndarray]
    steps: list[int]
    schedule: np.ndarray


class TupleFeed:
    """The batches of a run: `batch_tuples` tuples a step, sampled per `spec` from the training images."""

    def __init__(self, data: TrainData, spec: TupleSpec, seed: int, batch_tuples: int, placement: Placement) -> None:
        self.data, self.spec, self.seed, self.batch_tuples, self.placement = data, spec, seed, batch_tuples, placement
        self.sampler = TupleSampler(data.train.xy, data.yaw_deg, data.anchors, spec, data.traversal)
        self.store = data.train.images  # what a batch reads per row: the images, or a frozen-trunk cache of them
        self.prefetcher = Prefetcher(placement.device)

    def plan(self, epochs: int, max_steps_per_epoch: int | None) -> EpochPlan:
        """Every anchor once per epoch, shuffled by (seed, epoch), cut to whole steps of at most
        `max_steps_per_epoch` (None: no cap, the epoch's whole steps)."""
        b = self.batch_tuples
        orders = [self.sampler.epoch_order(np.random.default_rng([self.seed, e])) for e in range(epochs)]
        steps = [len(o) // b if max_steps_per_epoch is None else min(len(o) // b, max_steps_per_epoch) for o in orders]
        if min(steps) == 0:
            raise ValueError(f"{len(orders[0])} anchors give no step of {b} tuples")
        return EpochPlan(orders, steps, np.concatenate([o[: n * b] for o, n in zip(orders, steps)]))

    def build_tuples(self, anchors: np.ndarray, rng: np.random.Generator, cache: MiningCache | None) -> np.ndarray:
        """(B, M) tuple rows for `anchors`, the hard negatives picked from the mining `cache`."""
        hard = None
        if self.spec.n_hard > 0:
            hard = cache.hardest_first(anchors)
        return self.sampler.sample(anchors, rng, hard)

    def host_batch(self, order: np.ndarray, epoch: int, step: int, cache: MiningCache | None) -> StepBatch:
        """Step `step` of `epoch` (anchors from the epoch's `order`): its tuples, images and positions in host memory."""
        b, world, pin = self.batch_tuples, self.placement.world, self.placement.pin
        rows = self.build_tuples(order[step * b : (step + 1) * b], np.random.default_rng([self.seed, epoch, step]), cache)
        batch = host_batch(self.store, self.data.train.xy, rows, pin=pin)
        if world.size > 1:  # every process draws the global batch and reads the images of its share
            mine = rows[world.share(len(rows))]
            batch.images = read_images(self.store, mine, pin=pin)
        return batch

    def step_batch(self, order: np.ndarray, epoch: int, step: int, n_steps: int, cache: MiningCache | None) -> StepBatch:
        """Step `step` of `epoch` on the device (prepared while the previous step ran); starts preparing the next.

        The feed key names the mining cache a batch was sampled from: a batch prepared before a
        cache refresh is not used after it.
        """
        batch = self.prefetcher.take((epoch, step, id(cache)), lambda: self.host_batch(order, epoch, step, cache))
        if step + 1 < n_steps:
            self.prefetcher.submit((epoch, step + 1, id(cache)), lambda: self.host_batch(order, epoch, step + 1, cache))
        return batch

    def close(self) -> None:
        """Drop a batch prepared ahead and stop the worker."""
        self.prefetcher.close()
