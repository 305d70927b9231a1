"""Colour images of the test-set formats (softloc.datasets.images): reduced JPEG decoding that
still covers the store size, EXIF orientation, and one store size for images of mixed sizes."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from softloc.datasets import images
from softloc.imagestore import build_store, open_store


def photo(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A smooth colour image with a bright top-left block (to see orientation and crops)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 200, (max(2, height // 40), max(2, width // 40), 3), dtype=np.uint8)
    image = cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
    image[: height // 4, : width // 4] = 255
    return image


def save_jpeg(path: Path, rgb: np.ndarray, orientation: int = 1) -> Path:
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(rgb).save(path, quality=95, exif=exif.tobytes())
    return path


def test_sizes() -> None:
    assert images.store_size(96, [4, 3]) == (72, 96)
    assert images.store_size(96, [3, 4]) == (96, 72)
    assert images.covering_size(480, 640, 72, 96) == (72, 96)
    assert images.covering_size(1000, 600, 72, 96) == (160, 96)      # portrait: width decides
    with pytest.raises(ValueError, match="two positive integers"):
        images.store_size(96, [0, 3])


def test_reduced_decode_covers_and_matches_the_full_decode(tmp_path: Path) -> None:
    rgb = photo(480, 640)
    path = save_jpeg(tmp_path / "view.jpg", rgb)
    full = images.read_colour(path)
    reduced = images.read_colour(path, cover=(72, 96))
    assert full.shape == (480, 640, 3) and reduced.shape == (120, 160, 3)   # 1/4 DCT scale, >= 96x72
    a = images.fit(full, 72, 96).astype(int)
    b = images.fit(reduced, 72, 96).astype(int)
    assert np.abs(a - b).mean() < 2.0
    assert images.read_colour(path, cover=(300, 400)).shape == (480, 640, 3)   # 1/2 would not cover


def test_exif_orientation_and_unreadable_files(tmp_path: Path) -> None:
    rgb = photo(120, 160)
    rotated = save_jpeg(tmp_path / "rotated.jpg", rgb, orientation=6)   # stored sideways, shown turned 90 deg
    shown = images.read_colour(rotated)
    assert shown.shape == (160, 120, 3)
    assert shown[:20, -20:].mean() > 240                                  # the bright block turned to the top right
    assert images.read_colour(rotated, cover=(80, 30)).shape[:2] == (80, 60)    # cover taken as shown
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    with pytest.raises(ValueError, match="broken.jpg: not a readable image"):
        images.read_colour(tmp_path / "broken.jpg")


def test_one_store_size_for_mixed_sizes(tmp_path: Path) -> None:
    sizes = [(480, 640), (1000, 750), (960, 1280), (640, 480)]     # landscape, portrait, larger, portrait
    paths = [save_jpeg(tmp_path / f"{i}.jpg", photo(h, w, i)) for i, (h, w) in enumerate(sizes)]
    loader = images.colour_store_loader([4, 3], 96)
    assert build_store(paths, tmp_path / "mixed.npy", 96, load=loader, workers=2) == (4, 72, 96, 3)
    store = open_store(tmp_path / "mixed.npy")
    np.testing.assert_array_equal(store[0], loader(paths[0]))
    # Without an aspect, images of one aspect ratio share a store; another ratio is an error naming it.
    same_aspect = images.colour_store_loader(None, 96)
    assert build_store([paths[0], paths[2]], tmp_path / "one.npy", 96, load=same_aspect, workers=1) == (2, 72, 96, 3)
    with pytest.raises(ValueError, match=r"1.jpg: image is 72x96, expected 96x72"):
        build_store(paths[:2], tmp_path / "bad.npy", 96, load=same_aspect, workers=1)
    with pytest.raises(ValueError, match=r"store_aspect must be null or \[width, height\]"):
        images.colour_store_loader(1.33, 96)
