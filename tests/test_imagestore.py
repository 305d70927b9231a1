"""The image store: shapes, row order, resize, the parallel writer and bad input."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from softloc.imagestore import build_store, open_store, resize_longest, resized_shape


def read_rgb(path: Path) -> np.ndarray:
    """Test loader: an RGB PNG (module level so the process pool can pickle it)."""
    return cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def write_images(folder: Path, n: int, size: tuple[int, int] = (64, 48)) -> list[Path]:
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        image = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
        image[0, 0] = (i, 255 - i, i // 2)  # row identity survives in the resized corner
        path = folder / f"{i:04d}.png"
        cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        paths.append(path)
    return paths


def test_resized_shape_keeps_aspect_with_longest_side() -> None:
    assert resized_shape(960, 1280, 240) == (180, 240)
    assert resized_shape(1280, 960, 96) == (96, 72)
    assert resize_longest(np.zeros((960, 1280, 3), np.uint8), 96).shape == (72, 96, 3)


@pytest.mark.parametrize("workers", [1, 2])
def test_store_round_trip_keeps_row_order(tmp_path: Path, workers: int) -> None:
    paths = write_images(tmp_path, 150)  # three chunks of 64
    # reversed order: row i of the store must be image paths[i] of the list given, whatever order workers finish in
    order = paths[::-1]
    out = tmp_path / "images" / "split.npy"
    shape = build_store(order, out, max_side=32, load=read_rgb, workers=workers)
    store = open_store(out)
    assert shape == store.shape == (150, 24, 32, 3) and store.dtype == np.uint8
    for i in (0, 63, 64, 149):
        np.testing.assert_array_equal(store[i], resize_longest(read_rgb(order[i]), 32))
    assert not list(out.parent.glob("*.tmp"))


def test_images_of_another_size_are_an_error_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "odd").mkdir()
    paths = write_images(tmp_path, 3) + write_images(tmp_path / "odd", 1, size=(40, 30))
    out = tmp_path / "bad.npy"
    with pytest.raises(ValueError, match="odd/0000.png: image is 40x30, expected 64x48"):
        build_store(paths, out, max_side=32, load=read_rgb, workers=1)
    assert not out.exists() and not list(tmp_path.glob("*.tmp"))


def test_default_loader_demosaics_a_bayer_png(tmp_path: Path) -> None:
    mosaic = np.random.default_rng(1).integers(0, 256, size=(48, 64), dtype=np.uint8)
    path = tmp_path / "bayer.png"
    cv2.imwrite(str(path), mosaic)
    build_store([path, path], tmp_path / "s.npy", max_side=32, workers=1)
    assert open_store(tmp_path / "s.npy").shape == (2, 24, 32, 3)


def test_open_store_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nothere.npy"):
        open_store(tmp_path / "nothere.npy")
