"""The image store: every image of a split decoded, demosaiced and resized once into one .npy.

Training reads a tuple's 25 images per step; decoding Bayer PNGs each time would dominate the
step. The store holds uint8 (N, H, W, 3) RGB, row i = row i of the split's parquet, images
resized (cv2.INTER_AREA) so the longest side is `model.image_max_side`. It is opened as a
read-only memory map, so every process shares the page cache instead of a copy.
"""

from __future__ import annotations

import collections
import functools
import logging
import os
from pathlib import Path
from typing import Callable, Sequence

import cv2
import numpy as np

from softloc.chunked import CHUNK_FILES, Journal, available_cores, run_chunks, worker_pool
from softloc.io import _FILE_MODE, atomic_path

log = logging.getLogger(__name__)

Loader = Callable[[Path], np.ndarray]
SIZE_SAMPLE = 9  # images whose most common raw size is the split's expected size


def open_store(path: str | os.PathLike) -> np.ndarray:
    """Open a store as a read-only (N, H, W, 3) uint8 memory map; a missing file is an error naming it."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no image store (run `dvc repro imagestore` first)")
    store = np.load(path, mmap_mode="r")
    if store.dtype != np.uint8 or store.ndim != 4 or store.shape[-1] != 3:
        raise ValueError(f"{path}: expected a uint8 (N, H, W, 3) image store, got {store.dtype} {store.shape}")
    return store


def resized_shape(height: int, width: int, max_side: int) -> tuple[int, int]:
    """(height, width) scaled so the longest side is `max_side`, aspect ratio kept (rounded)."""
    scale = max_side / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def resize_longest(image: np.ndarray, max_side: int) -> np.ndarray:
    """Resize an (H, W, 3) image so its longest side is `max_side` (cv2.INTER_AREA, as for downscaling)."""
    h, w = resized_shape(image.shape[0], image.shape[1], max_side)
    if (h, w) == image.shape[:2]:
        return image
    return cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)


def default_loader(path: Path) -> np.ndarray:
    """RobotCar's loader: Bayer PNG -> demosaiced (H, W, 3) uint8 RGB."""
    from softloc.datasets.formats.robotcar_raw import load_image

    return load_image(path)


def build_store(
    paths: Sequence[str | os.PathLike],
    out_path: str | os.PathLike,
    max_side: int,
    load: Loader = default_loader,
    workers: int | None = None,
    resume_dir: str | os.PathLike | None = None,
) -> tuple[int, int, int, int]:
    """Decode, resize and write every image of `paths` (in order) into the store `out_path`.

    `load` maps a path to a uint8 (H, W, 3) RGB image: RobotCar's Bayer PNGs by default, or a
    test set format's colour JPEG/PNG reader (softloc.datasets); it must be picklable (module
    level). All images of a split share one raw size, the most common of an evenly spaced sample;
    an image of another size is an error naming that file. Chunks of images are decoded by
    `workers` processes (default: every core; softloc.chunked), each writing its rows straight
    into the file, and the file is renamed onto `out_path` only when every row is written.

    With `resume_dir`, the file being written and the journal of finished chunks live there
    (outside the stage's outputs, which DVC clears), and a rerun after a kill writes only the
    chunks not yet finished; the result is byte-identical to an uninterrupted run. Without it, a
    temporary file beside `out_path` is used. Returns the store's shape.
    """
    paths = [os.fspath(p) for p in paths]
    if not paths:
        raise ValueError(f"{out_path}: no images to store (the split's parquet is empty)")
    out_path = Path(out_path)
    workers = workers or available_cores()
    raw_hw = expected_size(paths, load, workers)
    shape = (len(paths), *resized_shape(*raw_hw, max_side), 3)
    desc = f"store {out_path.name}"
    if resume_dir is None:
        with atomic_path(out_path) as tmp:
            _fill(tmp, paths, shape, raw_hw, max_side, load, workers, None, desc)
    else:
        partial = Path(resume_dir) / f"{out_path.name}.partial"
        journal_path = Path(resume_dir) / f"{out_path.name}.journal"
        if not _is_store_file(partial, shape):
            journal_path.unlink(missing_ok=True)  # its records describe a file that is gone
        meta = {"shape": list(shape), "raw_hw": list(raw_hw), "max_side": max_side, "chunk_files": CHUNK_FILES,
                "loader": f"{load.__module__}.{getattr(load, '__qualname__', type(load).__qualname__)}"}
        journal = Journal(journal_path, meta)
        try:
            _fill(partial, paths, shape, raw_hw, max_side, load, workers, journal, desc)
        finally:
            journal.close()
        out_path.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(partial, _FILE_MODE)
        os.replace(partial, out_path)
        journal.remove()
    log.info("wrote %s %s uint8", out_path, shape)
    return shape


def expected_size(paths: Sequence[str], load: Loader, workers: int) -> tuple[int, int]:
    """The raw (height, width) of most of an evenly spaced sample of SIZE_SAMPLE images (ties: the earliest)."""
    sample = [paths[i] for i in np.unique(np.linspace(0, len(paths) - 1, min(len(paths), SIZE_SAMPLE)).round().astype(int))]
    reader = functools.partial(_raw_size, load)
    sizes = list(worker_pool(workers).map(reader, sample) if workers > 1 else map(reader, sample))
    return collections.Counter(sizes).most_common(1)[0][0]


def _raw_size(load: Loader, path: str) -> tuple[int, int]:
    return _checked(load(Path(path)), path).shape[:2]


def _checked(image: np.ndarray, path: str) -> np.ndarray:
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"{path}: loader returned {image.dtype} {image.shape}, expected uint8 (H, W, 3)")
    return image


def _is_store_file(path: Path, shape: tuple[int, ...]) -> bool:
    """True when `path` is a .npy of exactly this shape (a partial store to resume)."""
    try:
        return np.load(path, mmap_mode="r").shape == shape
    except (OSError, ValueError, EOFError):
        return False


def _fill(store_path: Path, paths: list[str], shape: tuple[int, ...], raw_hw: tuple[int, int], max_side: int,
          load: Loader, workers: int, journal: Journal | None, desc: str) -> None:
    """Write every chunk of rows (those the journal has not recorded) into the .npy at `store_path`."""
    if not _is_store_file(store_path, shape):
        store_path.parent.mkdir(parents=True, exist_ok=True)
        np.lib.format.open_memmap(store_path, mode="w+", dtype=np.uint8, shape=shape).flush()  # sparse until written
    offset = np.load(store_path, mmap_mode="r").offset
    work = functools.partial(_write_rows, os.fspath(store_path), offset, tuple(shape[1:]), tuple(raw_hw), max_side, load)
    for _ in run_chunks(paths, work, workers=workers, journal=journal, desc=desc, chunk_files=CHUNK_FILES):
        pass


def _write_rows(store_path: str, offset: int, row_shape: tuple[int, int, int], raw_hw: tuple[int, int], max_side: int,
                load: Loader, paths: list[str], start: int) -> None:
    """Decode + resize `paths` and write them as rows start.. of the store (one pwrite)."""
    rows = np.empty((len(paths), *row_shape), dtype=np.uint8)
    for k, path in enumerate(paths):
        image = _checked(load(Path(path)), path)
        if image.shape[:2] != raw_hw:
            raise ValueError(
                f"{path}: image is {image.shape[1]}x{image.shape[0]}, expected {raw_hw[1]}x{raw_hw[0]} "
                "like most of the split's images (one camera, one size)"
            )
        rows[k] = resize_longest(image, max_side)
    fd = os.open(store_path, os.O_WRONLY)
    try:
        data = memoryview(rows).cast("B")
        written = 0
        while written < len(data):
            written += os.pwrite(fd, data[written:], offset + start * rows[0].nbytes + written)
    finally:
        os.close(fd)
