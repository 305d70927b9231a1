"""The network's forward passes outside the training step: global descriptors of a split (for
validation and the mining cache), from its images or its frozen trunk's memoised output, and the
conv descriptors that seed NetVLAD's clusters (no other aggregator has a data-driven initialisation)."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from softloc.features import iter_batches
from softloc.models.trained_part import TrainedPart
from softloc.models.trunk_memo import frozen_trunk_outputs
from softloc.training import distributed
from softloc.training.data import TrainData
from softloc.training.device import Placement
from softloc.training.prefetch import read_images

if TYPE_CHECKING:  # annotations only: pydantic is absent on the GPU machine (benchmarks/gpu_check.py)
    from softloc.config import Model, Train

log = logging.getLogger(__name__)
DESCRIPTORS_PER_IMAGE = 100  # k-means input per image, as Pytorch-NetVlad's cluster init


def load_batch(images: np.ndarray, rows: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 (rows.size, H, W, 3) images of `rows` from a store, read in file order, on `device`."""
    return read_images(images, rows, pin=device.type == "cuda").to(device, non_blocking=True)


@dataclass(frozen=True)
class Source:
    """What a split's descriptors are computed from: its uint8 images through the whole network, or,
    with a frozen lower trunk, the trunk's memoised output (softloc.models.trunk_memo) through
    `part`, the trained part alone (the same descriptors to float rounding, at a fraction of the work)."""

    store: np.ndarray
    part: torch.nn.Module | None = None


@torch.no_grad()
def embed(net: torch.nn.Module, source: Source, rows: np.ndarray | None, device: torch.device, batch_size: int, amp: torch.dtype | None) -> np.ndarray:
    """(n, dim) float32 descriptors of `source` rows `rows` (all when None), network in eval mode.

    The next batch is read (and pinned) in a background thread while the network runs; the
    descriptors stay on the device until one copy at the end (no synchronisation per batch).
    Under torchrun each process embeds its share of the rows and the shares are all-gathered.
    """
    was_training = net.training
    net.eval()
    rows = np.arange(len(source.store)) if rows is None else np.asarray(rows)
    out = [torch.zeros((0, net.dim), device=device)]
    for batch in iter_batches(source.store, rows[distributed.world().share(len(rows))], batch_size, pin=device.type == "cuda"):
        batch = batch.to(device, non_blocking=True)
        x = net.preprocess(batch) if source.part is None else batch.permute(0, 3, 1, 2)
        with torch.autocast(device.type, dtype=amp or torch.float32, enabled=amp is not None):
            out.append((net if source.part is None else source.part)(x).float())
    net.train(was_training)
    return distributed.gather_rows(torch.cat(out), distributed.share_counts(len(rows))).cpu().numpy()


@torch.no_grad()
def init_clusters(net: torch.nn.Module, data: TrainData, train: Train, seed: int, placement: Placement) -> None:
    """NetVLAD init: k-means on up to DESCRIPTORS_PER_IMAGE conv descriptors of `train.init_images`
    random training images, drawn from `seed`. Nothing (no forward pass) for an aggregator without
    a cluster initialisation: GeM, MixVPR, SALAD and BoQ start from their seeded random weights."""
    if not net.has_cluster_init:
        log.info("aggregator %s: no cluster initialisation (NetVLAD's k-means); its seeded random init stays", net.pool.name)
        return
    device, amp = placement.device, placement.amp
    rng = np.random.default_rng([seed, 0x1417])
    n = min(train.init_images, len(data.train.images))
    rows = np.sort(rng.choice(len(data.train.images), n, replace=False))
    net.eval()
    parts = []
    for start in range(0, n, train.eval_batch_size):
        x = net.preprocess(load_batch(data.train.images, rows[start : start + train.eval_batch_size], device))
        with torch.autocast(device.type, dtype=amp or torch.float32, enabled=amp is not None):
            desc = net.backbone(x).float().flatten(2).transpose(1, 2)  # (b, h*w, C)
        take = min(DESCRIPTORS_PER_IMAGE, desc.shape[1])
        pick = torch.from_numpy(np.stack([rng.choice(desc.shape[1], take, replace=False) for _ in range(len(desc))])).to(device)
        parts.append(torch.gather(desc, 1, pick[..., None].expand(-1, -1, desc.shape[2])).reshape(-1, desc.shape[2]).cpu())
    net.init_clusters(torch.cat(parts), seed=seed)
    net.train()


@dataclass(frozen=True)
class Sources:
    """Where each split's descriptors come from during one run (see Source)."""

    train: Source
    val_reference: Source
    val_queries: Source


def split_sources(net: torch.nn.Module, model: Model, data: TrainData, batch_size: int, placement: Placement,
                  trunk_root: str | os.PathLike) -> Sources:
    """The run's sources: the images themselves, or, with `model.train_from_block` set, each split's
    frozen-trunk output (computed once into `trunk_root`, shared by every run) and the trained part."""
    splits = (data.train.images, data.val_reference.images, data.val_queries.images)
    if model.train_from_block is None:
        return Sources(*(Source(images) for images in splits))
    part = TrainedPart(net, model)
    return Sources(*(Source(frozen_trunk_outputs(net, model, images, batch_size, placement.device, placement.amp, trunk_root), part)
                     for images in splits))
