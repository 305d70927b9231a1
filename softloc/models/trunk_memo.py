"""The frozen lower trunk's output for every image of a store, computed once and shared.

With `model.train_from_block` set, the trunk below the cut never changes (frozen parameters,
BatchNorm on fixed statistics, no dropout): its output for an image is a constant of the image and
the frozen weights. Every method of a run fine-tunes the same pretrained trunk, so the training,
validation and test stores are pushed through it once, into `models/.trunk/<key>.npy`, and every
train and evaluate stage after the first reads them and runs the trained part alone
(softloc.models.trained_part.TrainedPart).

The key hashes everything the output depends on: the frozen modules' weights and buffers, the cut,
the store's bytes and shape, the device type and autocast dtype, and torch's version. A file is a
pure function of its key, so it is no DVC output: deleting `models/.trunk/` costs only the time to
rebuild it, with the same values. Files are written under a temporary name and renamed, so a
killed stage leaves none half-written. The array is float32 (N, h, w, C), channels last like the
image store, so a batch read from it becomes the trained part's channels_last input by a permute.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from softloc.models.trained_part import frozen_modules, frozen_output

if TYPE_CHECKING:  # annotations only: pydantic is absent on the GPU machine (benchmarks/gpu_check.py)
    from softloc.config import Model

log = logging.getLogger(__name__)

MEMO_ROOT = Path("models/.trunk")
FORMAT = "softloc-trunk-1"
HASH_CHUNK_ROWS = 512


def memo_key(net: torch.nn.Module, model: Model, images: np.ndarray, device: torch.device, amp: torch.dtype | None) -> str:
    """Hex digest naming the frozen trunk's output on `images` for this network, device and precision."""
    digest = hashlib.blake2b(digest_size=20)
    digest.update(repr((FORMAT, model.backbone, model.train_from_block, device.type, str(amp), torch.__version__,
                        images.shape, str(images.dtype))).encode())
    for module in frozen_modules(net.backbone, model):
        for name, tensor in module.state_dict().items():
            digest.update(name.encode())
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    for start in range(0, len(images), HASH_CHUNK_ROWS):
        digest.update(np.ascontiguousarray(images[start:start + HASH_CHUNK_ROWS]).data)
    return digest.hexdigest()


@torch.no_grad()
def frozen_trunk_outputs(net: torch.nn.Module, model: Model, images: np.ndarray, batch_size: int, device: torch.device,
                         amp: torch.dtype | None, root: str | os.PathLike = MEMO_ROOT) -> np.ndarray:
    """The frozen lower trunk's output (N, h, w, C) float32 for every image of the uint8 store
    `images`, memory-mapped read-only: read from `root` when computed before, else computed there."""
    if model.train_from_block is None:
        raise ValueError("frozen_trunk_outputs needs model.train_from_block (the trunk trains whole otherwise)")
    path = Path(root) / f"{memo_key(net, model, images, device, amp)}.npy"
    if path.is_file():
        memo = np.load(path, mmap_mode="r")
        log.info("frozen trunk output of %d images read from %s", len(memo), path)
        return memo
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npy")
    was_training = net.training
    net.eval()
    out = None
    try:
        for start in range(0, len(images), batch_size):
            batch = torch.from_numpy(np.ascontiguousarray(images[start:start + batch_size])).to(device)
            with torch.autocast(device.type, dtype=amp or torch.float32, enabled=amp is not None):
                h = frozen_output(net.backbone, model, net.preprocess(batch)).float().permute(0, 2, 3, 1)
            if out is None:
                out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(len(images), *h.shape[1:]))
            out[start:start + len(batch)] = h.cpu().numpy()
        if out is None:
            raise ValueError("no images to compute the frozen trunk's output of")
        out.flush()
        del out
        os.replace(tmp, path)
    finally:
        net.train(was_training)
        tmp.unlink(missing_ok=True)
    memo = np.load(path, mmap_mode="r")
    log.info("frozen trunk output of %d images written to %s (%.0f MB)", len(memo), path, memo.nbytes / 1e6)
    return memo
