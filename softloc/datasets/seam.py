"""The dataset seam: what every test-set format module gives the pipeline.

A format module (softloc/datasets/<format>.py) turns its dataset's own files into a `TestSplit`
(reference and query tables in the TESTSET_IMAGES schema, plus counts of what was read, kept and
dropped) and reads one image as uint8 RGB. The testset stage, image store, features, evaluate
and report stages only ever see these, so adding a dataset means one module and a params entry.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Protocol

import numpy as np
import pandas as pd

from softloc.config import Testset
from softloc.datasets.images import grayscale_rows
from softloc.schemas import TESTSET_IMAGES


@dataclass(frozen=True)
class TestSplit:
    """A test set: references (the map) and queries, both in the TESTSET_IMAGES schema.

    `counts` says what was read, kept and dropped (with a reason per drop), for
    reports/testsets/<name>.json: nothing is left out silently.
    """

    reference: pd.DataFrame
    queries: pd.DataFrame
    counts: dict[str, Any] = field(default_factory=dict)


class DatasetFormat(Protocol):
    """What a format module provides (module-level functions and constants).

    COLOUR: True when the set's files are colour images: the testset stage then drops grey ones
    and counts them (drop_grayscale); False for RobotCar's one-channel Bayer mosaics.
    """

    COLOUR: bool

    def read_split(self, cfg: Testset) -> TestSplit:
        """The test split described by params `testsets.<name>` (its format's model:
        softloc.config.testset_model; keys `split`, `images`, ... and the format's CONFIG)."""

    def load_image(self, path: Path) -> np.ndarray:
        """One image as uint8 (H, W, 3) RGB; an unreadable file is an error naming it."""

    def store_loader(self, cfg: Testset, max_side: int) -> Callable[[Path], np.ndarray]:
        """The loader the image store decodes with (it may decode at a reduced size or crop to the
        test set's one aspect); picklable, for the store's worker processes."""


ImageLoader = Callable[[Path], np.ndarray]


def drop_grayscale(split: TestSplit, root: str | os.PathLike) -> TestSplit:
    """`split` without its grey images (files of one channel under `root`, header read only),
    each part's drop counted as counts[part]['dropped']['grayscale'] (0 included) and its `kept`
    lowered; image_id renumbered."""
    counts = copy.deepcopy(split.counts)
    tables = {}
    for part, table in (("reference", split.reference), ("queries", split.queries)):
        grey = grayscale_rows(root, table["path"].tolist())
        entry = counts.setdefault(part, {})
        entry.setdefault("dropped", {})["grayscale"] = int(grey.sum())
        if "kept" in entry:
            entry["kept"] -= int(grey.sum())
        if grey.any():
            table = table[~grey].reset_index(drop=True)
            table["image_id"] = np.arange(len(table), dtype=np.int64)
        tables[part] = table
    return TestSplit(tables["reference"], tables["queries"], counts)


def testset_table(columns: Mapping[str, Any], n: int) -> pd.DataFrame:
    """A TESTSET_IMAGES table of `n` rows from `columns`; columns not given take their 'unknown'
    value (NaN, 0, "") and image_id is the row number. Unknown column names are an error."""
    extra = sorted(set(columns) - set(TESTSET_IMAGES))
    if extra:
        raise ValueError(f"testset_table: columns {extra} are not in the TESTSET_IMAGES schema")
    out = {}
    for name, kind in TESTSET_IMAGES.items():
        if name == "image_id":
            out[name] = np.arange(n, dtype=np.int64)
        elif name in columns:
            out[name] = columns[name]
        elif kind == "string":
            out[name] = ""
        elif kind == "int64":
            out[name] = np.zeros(n, dtype=np.int64)
        else:
            out[name] = np.full(n, np.nan)
    table = pd.DataFrame(out, index=pd.RangeIndex(n))
    for name, kind in TESTSET_IMAGES.items():
        table[name] = table[name].astype("string" if kind == "string" else kind)
    return table
