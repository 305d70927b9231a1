"""`softloc evaluate-descriptors`: this project's measures on descriptors that another tool computed.

Give one .npy file per image list of a built test set (the testset stage writes
data/testsets/<t>/{reference,queries}.parquet): a (references, D) array for the references and a
(queries, D) array for the queries, row i the descriptor of row i of that list, in its order.
The lists stage writes the same lists, in the same order, as reports/lists/<t>/reference.csv and
queries.csv (`path` relative to the test set's image root, params testsets.<t>.images).
Descriptors are compared by L2 distance as given (exact search; within one camera where the test
set has several): L2-normalise them first if your method compares cosines. Any floating-point
dtype is read (as float32); a wrong row count, dtype or shape, a NaN or an infinity is an error
naming the file and what was expected.

The measures are the evaluate stage's and the report's (params.yaml under --root):
- top-1 accuracy: a query is localized when its best reference lies within d metres, for each d
  of evaluate.thresholds_m, per query condition and the mean over conditions, in percent, with
  95% (report.bootstrap.confidence) intervals of the report's block bootstrap over stretches of
  road (softloc.stats; blocks of report.bootstrap.block_m, or Politis and White's length chosen
  from these outcomes at evaluate.headline_m);
- the upper bound (the nearest reference by position, a perfect retrieval);
- recall@N (evaluate.recall_at): a query counts when one of its N best references lies within
  evaluate.recall_radius_m metres.
Printed as a table, or with --json as one JSON object.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from softloc.config import Bootstrap, Evaluate
from softloc.evaluate import evaluate_testset
from softloc.io import read_parquet
from softloc.metrics import MEAN, threshold_key
from softloc.params import load_params
from softloc.schemas import TESTSET_IMAGES
from softloc.stats import Outcomes, bootstrap_accuracy, choose_block_length, grid_blocks

SPLITS = ("reference", "queries")


@dataclass(frozen=True)
class AccuracyIntervals:
    """Block-bootstrap intervals (percent) per threshold key -> condition (and "mean") -> (low, high),
    or the reason there are none (`unavailable`)."""

    bounds: dict[str, dict[str, tuple[float, float]]]
    block_m: float | None
    unavailable: str = ""


def read_descriptors(path: str | Path, rows: int, split: str, table: Path) -> np.ndarray:
    """(rows, D) float32 descriptors from a .npy file, checked: a 2-D floating-point array with one
    finite row per row of the test set's `split` list `table`."""
    path = Path(path)
    expected = f"a ({rows}, D) floating-point array: one row per row of {table} (the test set's {split} list, in its order)"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such descriptor file; expected {expected}")
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise ValueError(f"{path}: not a .npy array ({err}); expected {expected}") from None
    if not np.issubdtype(array.dtype, np.floating):
        raise ValueError(f"{path}: dtype {array.dtype}; expected {expected}")
    if array.ndim != 2 or array.shape[0] != rows or array.shape[1] == 0:
        raise ValueError(f"{path}: shape {array.shape}; expected {expected}")
    array = array.astype(np.float32)
    bad = np.flatnonzero(~np.isfinite(array).all(axis=1))
    if len(bad):
        raise ValueError(f"{path}: {len(bad)} rows hold NaN or infinity (as float32), the first row {bad[0]}; "
                         f"expected {expected}, every value finite")
    return array


def testset_tables(root: Path, testset: str) -> dict[str, pd.DataFrame]:
    """The test set's reference and query lists (data/testsets/<t>/*.parquet under `root`)."""
    folder = root / "data" / "testsets" / testset
    if not (folder / "queries.parquet").is_file():
        built = sorted(p.parent.name for p in (root / "data" / "testsets").glob("*/queries.parquet"))
        raise FileNotFoundError(f"{folder}: no built test set {testset!r} (built: {', '.join(built) or 'none'}); "
                                f"build it with `dvc repro testset@{testset}`")
    return {split: read_parquet(folder / f"{split}.parquet", TESTSET_IMAGES) for split in SPLITS}


def bootstrap_intervals(testset: str, queries: pd.DataFrame, errors: np.ndarray, cfg: Evaluate,
                        bootstrap: Bootstrap) -> AccuracyIntervals:
    """The report's block-bootstrap intervals of the accuracy at every threshold, from the top-1
    `errors` of the queries with a position (`queries`, the same rows); none, with the reason,
    where the queries are too few or too close together to resample."""
    east, north = queries["easting"].to_numpy(np.float64), queries["northing"].to_numpy(np.float64)
    conditions = queries["condition"].to_numpy(str)
    try:
        block_m = bootstrap.block_m
        if block_m is None:
            block_m = choose_block_length(east, north, conditions, (errors <= cfg.headline_m)[None]).block_m
        blocks = grid_blocks(east, north, block_m)
        bounds = {}
        for d in cfg.thresholds_m:
            outcomes = Outcomes(testset, blocks, conditions, {"descriptors": (errors <= d)[None]})
            table = bootstrap_accuracy([outcomes], None, bootstrap.confidence, bootstrap.resamples, bootstrap.seed).accuracy
            bounds[threshold_key(d)] = {row.condition: (float(row.low), float(row.high)) for row in table.itertuples()}
    except ValueError as err:
        return AccuracyIntervals({}, None, f"no intervals: {err}")
    return AccuracyIntervals(bounds, float(block_m))


def evaluate_descriptors(tables: dict[str, pd.DataFrame], descriptors: dict[str, np.ndarray], testset: str,
                         cfg: Evaluate, bootstrap: Bootstrap) -> dict[str, Any]:
    """Accuracy (with intervals), upper bound and recall@N of `descriptors` on the test set (percent)."""
    reference, queries = tables["reference"], tables["queries"]
    if descriptors["reference"].shape[1] != descriptors["queries"].shape[1]:
        raise ValueError(f"descriptor sizes differ: references {descriptors['reference'].shape[1]}-d, "
                         f"queries {descriptors['queries'].shape[1]}-d")
    result = evaluate_testset(reference, queries, descriptors["reference"], descriptors["queries"], cfg)
    if not result.metrics:
        raise ValueError(f"test set {testset!r} withholds every query position: nothing to measure here "
                         "(its benchmark's own server scores it)")
    errors = result.retrievals["error_m"].to_numpy(np.float64)
    known = np.isfinite(errors)
    intervals = bootstrap_intervals(testset, queries[known], errors[known], cfg, bootstrap)
    summary = result.summary

    def percent(block: dict[str, float]) -> dict[str, float]:
        return {k: round(100.0 * v, 2) for k, v in block.items()}

    accuracy = {key: {c: {"estimate": round(100.0 * v, 2), **_bounds(intervals, key, c)} for c, v in block.items()}
                for key, block in summary["accuracy"].items()}
    return {
        "testset": testset, "unit": "percent", "dim": int(descriptors["reference"].shape[1]),
        "n_reference": len(reference), "n_queries": {**summary["n_queries"]},
        "n_queries_position_unknown": summary["n_queries_position_unknown"],
        "accuracy": accuracy,
        "upper_bound": {key: percent(block) for key, block in summary["upper_bound"].items()},
        "recall": percent(summary["recall"]), "recall_radius_m": summary["recall_radius_m"],
        "intervals": {"confidence": bootstrap.confidence, "resamples": bootstrap.resamples, "block_m": intervals.block_m,
                      **({"unavailable": intervals.unavailable} if intervals.unavailable else {})},
    }


def _bounds(intervals: AccuracyIntervals, key: str, condition: str) -> dict[str, float]:
    low_high = intervals.bounds.get(key, {}).get(condition)
    return {} if low_high is None else {"low": round(low_high[0], 2), "high": round(low_high[1], 2)}


def table_lines(result: dict[str, Any]) -> list[str]:
    """The result as a printed table: a row per condition and the mean, a column per threshold."""
    keys = list(result["accuracy"])
    conditions = [c for c in result["accuracy"][keys[0]] if c != MEAN] + [MEAN]
    iv = result["intervals"]
    how = (iv["unavailable"] if "unavailable" in iv else
           f"{100 * iv['confidence']:g}% intervals: block bootstrap over {iv['block_m']:.0f} m cells, {iv['resamples']} resamples")
    lines = [f"{result['testset']}: {result['n_reference']} references, {sum(result['n_queries'].values())} queries "
             f"with a position ({result['n_queries_position_unknown']} without), {result['dim']}-d descriptors",
             f"top-1 localized (%) within d; {how}",
             f"{'condition':<14}{'queries':>8}" + "".join(f"{_distance(k):>22}" for k in keys)]
    for c in conditions:
        n = result["n_queries"].get(c, sum(result["n_queries"].values()))
        cells = []
        for k in keys:
            cell = result["accuracy"][k][c]
            text = f"{cell['estimate']:.1f}" + (f" [{cell['low']:.1f}, {cell['high']:.1f}]" if "low" in cell else "")
            cells.append(f"{text:>22}")
        lines.append(f"{c:<14}{n:>8}" + "".join(cells))
    lines.append(f"{'upper bound':<14}{'':>8}" + "".join(f"{result['upper_bound'][k][MEAN]:>22.1f}" for k in keys))
    recall = "  ".join(f"@{int(k.removeprefix('at_'))} {v:.1f}" for k, v in result["recall"].items())
    lines.append(f"recall@N within {result['recall_radius_m']:g} m (%): {recall}")
    return lines


def _distance(key: str) -> str:
    return f"{float(key.removeprefix('at_').removesuffix('m')):g} m"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `evaluate-descriptors` subcommand's arguments."""
    parser.add_argument("--testset", required=True, help="a built test set (data/testsets/<name>/ under --root)")
    parser.add_argument("--reference", required=True, metavar="NPY",
                        help="(references, D) descriptors, row i = row i of the test set's reference list")
    parser.add_argument("--queries", required=True, metavar="NPY",
                        help="(queries, D) descriptors, row i = row i of the test set's query list")
    parser.add_argument("--root", default=".", help="the project root holding params.yaml and data/testsets (default .)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")


def run(args: argparse.Namespace) -> dict[str, Any]:
    """`softloc evaluate-descriptors`: read the lists and the descriptors, measure, print."""
    root = Path(args.root)
    params = load_params(root / "params.yaml")
    tables = testset_tables(root, args.testset)
    folder = root / "data" / "testsets" / args.testset
    descriptors = {split: read_descriptors(getattr(args, split), len(tables[split]), split, folder / f"{split}.parquet")
                   for split in SPLITS}
    result = evaluate_descriptors(tables, descriptors, args.testset, params.evaluate, params.report.bootstrap)
    result["files"] = {split: str(getattr(args, split)) for split in SPLITS}
    print(json.dumps(result, indent=1) if args.json else "\n".join(table_lines(result)))
    return result
