"""The image store: every image of a split decoded, demosaiced and resized once into one .npy.

Training reads a tuple's 25 images per step; decoding Bayer PNGs each time would dominate the
step. The store holds uint8 (N, H, W, 3) RGB, row i = row i of the split's parquet, images
resized (cv2.INTER_AREA) so the longest side is `model.image_max_side`. It is opened as a
read-only memory map, so every process shares the page cache instead of a copy.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Callable, Sequence

import cv2
import numpy as np
from tqdm import tqdm

from softloc.io import atomic_path

log = logging.getLogger(__name__)

Loader = Callable[[Path], np.ndarray]
CHUNK_IMAGES = 64


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
    from softloc.data.robotcar import load_image

    return load_image(path)


def build_store(
    paths: Sequence[str | os.PathLike],
    out_path: str | os.PathLike,
    max_side: int,
    load: Loader = default_loader,
    workers: int | None = None,
) -> tuple[int, int, int, int]:
    """Decode, resize and write every image of `paths` (in order) into the store `out_path`.

    All images of a split must share one raw size (RobotCar's stereo camera does); one that
    does not is an error naming the file. Chunks of images are decoded by a process pool, each
    worker writing its rows into a preallocated memory map of the temporary file, which is
    renamed onto `out_path` only when every row is written. Returns the store's shape.
    """
    paths = [Path(p) for p in paths]
    if not paths:
        raise ValueError(f"{out_path}: no images to store (the split's parquet is empty)")
    first = load(paths[0])
    raw_hw = first.shape[:2]
    shape = (len(paths), *resized_shape(*raw_hw, max_side), 3)
    workers = workers or os.cpu_count() or 1
    chunks = [(start, paths[start : start + CHUNK_IMAGES]) for start in range(0, len(paths), CHUNK_IMAGES)]
    with atomic_path(out_path) as tmp:
        np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=shape).flush()
        bar = tqdm(total=len(paths), desc=f"store {Path(out_path).name}", unit="img")
        if workers == 1 or len(chunks) == 1:
            for start, chunk in chunks:
                bar.update(_write_chunk(tmp, start, chunk, raw_hw, max_side, load))
        else:
            with ProcessPoolExecutor(max_workers=min(workers, len(chunks))) as pool:
                futures = [pool.submit(_write_chunk, tmp, s, c, raw_hw, max_side, load) for s, c in chunks]
                for future in as_completed(futures):
                    bar.update(future.result())
        bar.close()
    log.info("wrote %s %s uint8", out_path, shape)
    return shape


def _write_chunk(store_path: Path, start: int, paths: list[Path], raw_hw: tuple[int, int], max_side: int, load: Loader) -> int:
    """Decode + resize `paths` into rows start.. of the store's memory map; returns the count."""
    store = np.load(store_path, mmap_mode="r+")
    for offset, path in enumerate(paths):
        image = load(path)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"{path}: loader returned {image.dtype} {image.shape}, expected uint8 (H, W, 3)")
        if image.shape[:2] != raw_hw:
            raise ValueError(
                f"{path}: image is {image.shape[1]}x{image.shape[0]}, expected {raw_hw[1]}x{raw_hw[0]} "
                "like the split's first image (one camera, one size)"
            )
        store[start + offset] = resize_longest(image, max_side)
    store.flush()
    del store
    return len(paths)
