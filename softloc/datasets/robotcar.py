"""RobotCar-layout test set: the held-out split the index stage cut from our own traversals.

params `testsets.<name>`: `split` is the index stage's folder holding reference.parquet and
queries.parquet (SPLIT_IMAGES schema), `images` the raw root those paths are relative to
(params data.raw_root), `utm_zone` the zone of the INS positions (Oxford: 30U). Images are the
stereo centre camera's Bayer PNGs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
from pydantic import create_model

from softloc.config import Testset, UtmZone
from softloc.datasets.formats.robotcar_raw import load_image as load_bayer_png
from softloc.datasets.paths import check_inside
from softloc.datasets.seam import TestSplit, testset_table
from softloc.io import read_parquet
from softloc.schemas import SPLIT_IMAGES

COLOUR = False  # Bayer mosaics: one channel on disk, colour after demosaicing
# params testsets.<name> keys of this format beyond the base ones (checked by softloc.config)
CONFIG = create_model("RobotCarConfig", utm_zone=(UtmZone, ...))


def read_split(cfg: Testset) -> TestSplit:
    """Reference and query tables of the index stage's test split, in the TESTSET_IMAGES schema."""
    folder = Path(cfg.split)
    tables = {}
    for name in ("reference", "queries"):
        split = read_parquet(folder / f"{name}.parquet", SPLIT_IMAGES)
        check_inside(cfg.images, split["path"], lambda i, name=name: f"{folder / name}.parquet row {i}")
        tables[name] = _convert(split, cfg.utm_zone)
    return TestSplit(tables["reference"], tables["queries"],
                     {"source": f"{folder}: the index stage's held-out split (its drops: reports/index.json)"})


def load_image(path: Path) -> np.ndarray:
    """A stereo centre Bayer PNG, demosaiced to uint8 RGB."""
    return load_bayer_png(path)


def store_loader(cfg: Testset, max_side: int) -> Callable[[Path], np.ndarray]:
    """The image store's loader: the demosaiced image (the store resizes it, one camera, one size)."""
    return load_image


def _convert(split: pd.DataFrame, utm_zone: str) -> pd.DataFrame:
    columns = {name: split[name].to_numpy() for name in
               ("path", "condition", "timestamp", "easting", "northing", "yaw", "latitude", "longitude")}
    columns["source"] = split["traversal"].to_numpy()
    columns["utm_zone"] = utm_zone
    return testset_table(columns, len(split))
