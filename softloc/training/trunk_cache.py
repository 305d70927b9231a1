"""The frozen lower trunk's output for every training image, computed once per run into a
memory-mapped .npy, so that a training step pays for the trained part only.

With `model.train_from_block` set, the trunk below the cut never changes during training (frozen
parameters, BatchNorm on fixed statistics, no dropout): its output for an image is a constant.
The cache holds it as float32 (N, h, w, C), channels last like the image store, so a batch read
from it (the feed's `store`) becomes the trained part's channels_last input by a free permute.
Validation, k-means init and the mining cache still run the whole network on images.

The file lies in the run's resume directory (one per process under torchrun) and goes with it:
a resumed run rebuilds it, which gives the same values.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from softloc.models.trained_part import frozen_output
from softloc.training.device import Placement
from softloc.training.embedding import load_batch

if TYPE_CHECKING:  # annotations only: pydantic is absent on the GPU machine (benchmarks/gpu_check.py)
    from softloc.config import Model

log = logging.getLogger(__name__)


@torch.no_grad()
def build_trunk_cache(net: torch.nn.Module, model: Model, images: np.ndarray, path: str | os.PathLike,
                      batch_size: int, placement: Placement) -> np.ndarray:
    """Write the frozen lower trunk's output for every image of `images` to `path` (a .npy,
    written under a temporary name, then renamed) and return it memory-mapped read-only."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    device, amp = placement.device, placement.amp
    was_training = net.training
    net.eval()
    tmp = path.with_suffix(".tmp.npy")
    out = None
    for start in range(0, len(images), batch_size):
        rows = np.arange(start, min(start + batch_size, len(images)))
        x = net.preprocess(load_batch(images, rows, device))
        with torch.autocast(device.type, dtype=amp or torch.float32, enabled=amp is not None):
            h = frozen_output(net.backbone, model, x).float().permute(0, 2, 3, 1)
        if out is None:
            out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(len(images), *h.shape[1:]))
        out[rows] = h.cpu().numpy()
    net.train(was_training)
    if out is None:
        raise ValueError("no training images to cache the frozen trunk's output of")
    out.flush()
    del out
    os.replace(tmp, path)
    cache = np.load(path, mmap_mode="r")
    log.info("frozen trunk output of %d images cached in %s (%.0f MB)", len(cache), path, cache.nbytes / 1e6)
    return cache
