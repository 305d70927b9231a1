"""Colour images of the test-set formats, and the loader that fits them to one image-store size.

An image store is one uint8 (N, H, W, 3) array, so every image of a test set must end up the
same size. Two policies, per test set (params `testsets.<name>.store_aspect`):

- `null`: every image is scaled so its longest side is `model.image_max_side`, aspect kept
  (the training stores' rule). Images of one aspect ratio (Pittsburgh's 640x480 views, any size)
  give one store size; an image of another aspect ratio is an error naming it (build_store).
- `[w, h]` (e.g. [4, 3]): every image is scaled, aspect kept, to cover the store size (longest
  side `model.image_max_side`, aspect w:h) and centre-cropped to it. Sets of mixed sizes and
  orientations (Tokyo 24/7's phone queries) need this; the crop loses the borders of images of
  another aspect (a portrait query keeps its middle band).

Decoding is the cost of building a store: a JPEG is decoded at the smallest DCT scale (1/2,
1/4, 1/8, by libjpeg through Pillow's `draft`) whose pixels still cover the store size, then
area-resampled; a 640x480 view for a 96 px store decodes at 160x120 (2.6x less CPU than a
full decode, benchmarks/bench_jpeg_store.py). EXIF orientation is applied (phone photos).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Sequence

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from pydantic import Field

CONDITION_PATTERN = r"^[a-z][a-z0-9_]*$"   # as softloc.config: conditions become column values


def store_aspect_field(default: list[int] | None) -> tuple[Any, Any]:
    """The CONFIG field (type, default) of params `store_aspect`: null or [width, height]."""
    return list[Annotated[int, Field(ge=1)]] | None, Field(default, min_length=2, max_length=2)


# EXIF orientations (5-8) that swap width and height.
_TRANSPOSING = {5, 6, 7, 8}
_EXIF_ORIENTATION = 0x0112


def read_colour(path: str | os.PathLike, cover: tuple[int, int] | None = None) -> np.ndarray:
    """A colour (or grey) JPEG/PNG as uint8 (H, W, 3) RGB, EXIF orientation applied.

    With `cover` = (height, width), a JPEG may come back decoded at a reduced DCT scale, never
    smaller than needed to cover (height, width) with its aspect kept. An unreadable file is an
    error naming it.
    """
    path = Path(path)
    try:
        with Image.open(path) as image:
            orientation = image.getexif().get(_EXIF_ORIENTATION, 1)
            if cover is not None and image.format == "JPEG":
                width, height = image.size
                if orientation in _TRANSPOSING:
                    cover = (cover[1], cover[0])
                image.draft("RGB", covering_size(height, width, *cover)[::-1])
            image = ImageOps.exif_transpose(image) if orientation != 1 else image
            rgb = np.asarray(image.convert("RGB"))
    except (OSError, UnidentifiedImageError, ValueError) as err:
        raise ValueError(f"{path}: not a readable image ({err})") from err
    return rgb


# Pillow modes of one channel (plus alpha): an image without colour.
_GREY_MODES = {"1", "L", "LA", "La", "I", "F"}


def grayscale_rows(root: str | os.PathLike, paths: Sequence[str]) -> np.ndarray:
    """True for each image (relative to `root`) stored without colour (a grey JPEG/PNG).

    Only the file's header is read (its Pillow mode), not its pixels. A test set of colour images
    drops such images as `grayscale` and counts them: a grey query would be compared with colour
    references by a network trained on colour. An unreadable file is an error naming it.
    """
    grey = np.zeros(len(paths), dtype=bool)
    for i, rel in enumerate(paths):
        path = Path(root) / rel
        try:
            with Image.open(path) as image:
                grey[i] = image.mode in _GREY_MODES or image.mode.startswith("I;")
        except (OSError, UnidentifiedImageError, ValueError) as err:
            raise ValueError(f"{path}: not a readable image ({err})") from err
    return grey


def covering_size(height: int, width: int, cover_height: int, cover_width: int) -> tuple[int, int]:
    """(h, w): `height` x `width` scaled, aspect kept, just enough to cover cover_height x cover_width."""
    scale = max(cover_height / height, cover_width / width)
    return max(cover_height, math.ceil(height * scale - 1e-9)), max(cover_width, math.ceil(width * scale - 1e-9))


def store_size(max_side: int, aspect: Sequence[int]) -> tuple[int, int]:
    """(height, width) of a store whose longest side is `max_side` and aspect ratio aspect = [w, h]."""
    aw, ah = (int(a) for a in aspect)
    if aw <= 0 or ah <= 0:
        raise ValueError(f"store_aspect must be two positive integers [width, height], got {list(aspect)}")
    scale = max_side / max(aw, ah)
    return max(1, round(ah * scale)), max(1, round(aw * scale))


def fit(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Scale `image` (aspect kept) to cover height x width, then centre-crop it to exactly that."""
    h, w = covering_size(image.shape[0], image.shape[1], height, width)
    if (h, w) != image.shape[:2]:
        shrink = h < image.shape[0]
        image = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    top, left = (h - height) // 2, (w - width) // 2
    return np.ascontiguousarray(image[top:top + height, left:left + width])


def longest_side(image: np.ndarray, max_side: int) -> np.ndarray:
    """Scale `image` so its longest side is `max_side`, aspect kept (the training stores' rule)."""
    scale = max_side / max(image.shape[:2])
    h, w = max(1, round(image.shape[0] * scale)), max(1, round(image.shape[1] * scale))
    if (h, w) == image.shape[:2]:
        return image
    return cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)


@dataclass(frozen=True)
class ColourStoreLoader:
    """Picklable image-store loader: path -> uint8 RGB at the store size (see the module docstring).

    `size` (height, width) fits and centre-crops every image to that size; None scales the
    longest side to `max_side` with the aspect kept.
    """

    max_side: int
    size: tuple[int, int] | None = None

    def __call__(self, path: Path) -> np.ndarray:
        if self.size is not None:
            return fit(read_colour(path, cover=self.size), *self.size)
        image = read_colour(path, cover=(self.max_side, self.max_side))
        return longest_side(image, self.max_side)


def colour_store_loader(aspect: Sequence[int] | None, max_side: int) -> ColourStoreLoader:
    """The store loader of a colour-image test set of params `store_aspect` `aspect` (null or [w, h])."""
    if aspect is None:
        return ColourStoreLoader(max_side)
    if not isinstance(aspect, (list, tuple)) or len(aspect) != 2:
        raise ValueError(f"store_aspect must be null or [width, height] such as [4, 3], got {aspect!r}")
    return ColourStoreLoader(max_side, store_size(max_side, aspect))
