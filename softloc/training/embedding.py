"""The network's forward passes outside the training step: global descriptors of store images (for
validation and the mining cache) and the conv descriptors that seed NetVLAD's clusters (no other
aggregator has a data-driven initialisation)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np
import torch

from softloc.features import iter_batches
from softloc.training import distributed
from softloc.training.data import TrainData
from softloc.training.device import Placement
from softloc.training.prefetch import read_images

if TYPE_CHECKING:  # annotations only: pydantic is absent on the GPU machine (benchmarks/gpu_check.py)
    from softloc.config import Train

log = logging.getLogger(__name__)
DESCRIPTORS_PER_IMAGE = 100  # k-means input per image, as Pytorch-NetVlad's cluster init


def load_batch(images: np.ndarray, rows: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 (rows.size, H, W, 3) images of `rows` from a store, read in file order, on `device`."""
    return read_images(images, rows, pin=device.type == "cuda").to(device, non_blocking=True)


@torch.no_grad()
def embed(net: torch.nn.Module, images: np.ndarray, rows: np.ndarray | None, device: torch.device, batch_size: int, amp: torch.dtype | None) -> np.ndarray:
    """(n, dim) float32 descriptors of store images `rows` (all when None), network in eval mode.

    The next batch is read (and pinned) in a background thread while the network runs; the
    descriptors stay on the device until one copy at the end (no synchronisation per batch).
    Under torchrun each process embeds its share of the rows and the shares are all-gathered.
    """
    was_training = net.training
    net.eval()
    rows = np.arange(len(images)) if rows is None else np.asarray(rows)
    out = [torch.zeros((0, net.dim), device=device)]
    for batch in iter_batches(images, rows[distributed.world().share(len(rows))], batch_size, pin=device.type == "cuda"):
        x = net.preprocess(batch.to(device, non_blocking=True))
        with torch.autocast(device.type, dtype=amp or torch.float32, enabled=amp is not None):
            out.append(net(x).float())
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
