"""The supplementary image lists: every included training image and every test reference and
query, per test set, as CSV files (as the paper's supplementary material lists them).

    lists/train_images.csv         path, traversal, condition, easting, northing
    lists/<testset>/reference.csv  path, source, condition, camera, easting, northing
    lists/<testset>/queries.csv    (same columns; positions empty where unknown)

Paths are relative to the set's image root (params data.raw_root / testsets.<t>.images);
positions in metres (UTM, or the set's local frame), millimetre precision. One row per row of
the split table, in its order. `lists_section` is the report's Section linking them.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from softloc.io import atomic_path, read_parquet
from softloc.report.grid import Grid
from softloc.report.page import Section
from softloc.schemas import TESTSET_IMAGES

TRAIN_COLUMNS = ["path", "traversal", "condition", "easting", "northing"]
TESTSET_COLUMNS = ["path", "source", "condition", "camera", "easting", "northing"]


def read_testsets(names: list[str], root: Path = Path("data/testsets")) -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
    """(reference, queries) of each named test set from <root>/<name>/{reference,queries}.parquet."""
    return {name: (read_parquet(root / name / "reference.parquet", TESTSET_IMAGES),
                   read_parquet(root / name / "queries.parquet", TESTSET_IMAGES)) for name in names}


def write_lists(train: pd.DataFrame, testsets: dict[str, tuple[pd.DataFrame, pd.DataFrame]],
                out_dir: Path) -> dict[str, Path]:
    """Write every list under `out_dir` (reports/lists); returns {list name: path}."""
    paths = {"train_images": out_dir / "train_images.csv"}
    _write_csv(train[TRAIN_COLUMNS], paths["train_images"])
    for name, (reference, queries) in testsets.items():
        for split, table in (("reference", reference), ("queries", queries)):
            paths[f"{name}/{split}"] = out_dir / name / f"{split}.csv"
            _write_csv(table[TESTSET_COLUMNS], paths[f"{name}/{split}"])
    return paths


def lists_section(lists_root: Path, reports_root: Path) -> Section:
    """The report Section linking every list under `lists_root` (reports/lists), with its rows."""
    grid = Grid("list", [["file", "images"]], align_left=True)
    for path in sorted(lists_root.rglob("*.csv")):
        with open(path) as f:
            rows = sum(1 for _ in f) - 1
        grid.add(path.relative_to(lists_root).with_suffix("").as_posix(),
                 [path.relative_to(reports_root).as_posix(), str(rows)])
    text = ("Every included training image and every test reference and query, per test set (CSV: path, "
            "traversal or source, condition, camera, position in metres).")
    return Section("Supplementary image lists", text, [grid], [], [])


def _write_csv(table: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False, float_format="%.3f", lineterminator="\n")
