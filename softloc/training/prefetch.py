"""The training feed: the next step's batch prepared in a background thread while the current step runs.

A step's batch is its tuples (sampled with hard negatives from the mining cache), their images
read from the memory-mapped store into pinned memory, and their anchor-centred positions. A
worker thread prepares the batch of step s+1 while the network runs step s; on CUDA the worker
also copies it to the device (non-blocking, on a side stream), so the copy overlaps the step's
kernels and the compute stream only waits for it when the batch is taken.

The feed changes no result: the training loop derives every draw of a batch from (seed, epoch,
step) and the mining cache it was sampled from, and a batch is only used when its key (which
names that cache) matches the step being taken; otherwise it is made on the spot. So a run with
the feed equals one without it, and a resumed run equals an uninterrupted one.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Hashable

import numpy as np
import torch


@dataclass
class StepBatch:
    """One step's tuples: (B, M) train_images rows, their uint8 (B*M, H, W, 3) images and (B, M, 2)
    float32 positions in metres relative to each tuple's anchor (host or device tensors)."""

    rows: np.ndarray
    images: torch.Tensor
    positions: torch.Tensor


def read_images(images: np.ndarray, rows: np.ndarray, pin: bool) -> torch.Tensor:
    """(rows.size, ...) entries of `rows` (flattened) from a store, in pinned memory when `pin`: uint8
    (H, W, 3) images from the image store, or float32 (h, w, C) maps from a frozen-trunk cache.

    Each distinct row is read once, in file order (sequential reads of the memory map), then
    spread into the batch's order directly in the output buffer.
    """
    unique, inverse = np.unique(rows.ravel(), return_inverse=True)
    distinct = torch.from_numpy(np.ascontiguousarray(images[unique]))
    out = torch.empty((rows.size, *distinct.shape[1:]), dtype=distinct.dtype, pin_memory=pin)
    return torch.index_select(distinct, 0, torch.from_numpy(inverse.ravel()), out=out)


def host_batch(images: np.ndarray, xy: np.ndarray, rows: np.ndarray, pin: bool) -> StepBatch:
    """The StepBatch of tuples `rows` in host memory (pinned when `pin`, for asynchronous copies)."""
    picked = xy[rows]
    positions = torch.from_numpy((picked - picked[:, :1]).astype(np.float32))
    return StepBatch(rows, read_images(images, rows, pin), positions.pin_memory() if pin else positions)


class Prefetcher:
    """Prepares one batch ahead in a worker thread and moves it to `device`.

    `submit(key, make)` starts `make()` in the worker (dropping any batch of another key still
    pending); `take(key, make)` returns the batch of `key`: the prepared one when the pending key
    matches, else `make()` run now. `make` must be a pure function of its key. A key may name an
    object by id(): the pending `make` keeps the objects it uses alive, so the id is not reused.
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="softloc-prefetch")
        # (key, future, make): holding `make` keeps alive whatever its key names by id()
        self.pending: tuple[Hashable, Future, Callable[[], StepBatch]] | None = None
        self.stream = torch.cuda.Stream(device) if device.type == "cuda" else None

    def submit(self, key: Hashable, make: Callable[[], StepBatch]) -> None:
        """Start preparing the batch of `key` in the background."""
        self._drop()
        self.pending = (key, self.pool.submit(self._prepare, make), make)

    def take(self, key: Hashable, make: Callable[[], StepBatch]) -> StepBatch:
        """The batch of `key` on the device, ready for the current stream."""
        pending, self.pending = self.pending, None
        if pending is not None and pending[0] == key:
            batch, ready = pending[1].result()
        else:
            if pending is not None:
                _settle(pending[1])  # the worker never runs beside an inline make
            batch, ready = self._prepare(make)
        if ready is not None:
            stream = torch.cuda.current_stream(self.device)
            stream.wait_event(ready)
            batch.images.record_stream(stream)  # allocated on the side stream, used on this one
            batch.positions.record_stream(stream)
        return batch

    def close(self) -> None:
        """Drop the pending batch and stop the worker."""
        self._drop()
        self.pool.shutdown(wait=True)

    def _drop(self) -> None:
        if self.pending is not None:
            future, self.pending = self.pending[1], None
            _settle(future)

    def _prepare(self, make: Callable[[], StepBatch]) -> tuple[StepBatch, torch.cuda.Event | None]:
        batch = make()
        if self.stream is None:
            return StepBatch(batch.rows, batch.images.to(self.device), batch.positions.to(self.device)), None
        with torch.cuda.stream(self.stream):
            moved = StepBatch(batch.rows, batch.images.to(self.device, non_blocking=True), batch.positions.to(self.device, non_blocking=True))
            ready = torch.cuda.Event()
            ready.record(self.stream)
        return moved, ready


def _settle(future: Future) -> None:
    """Cancel a batch nobody will take, or wait for it to finish (its error, if any, is dropped with it)."""
    if not future.cancel():
        future.exception()
