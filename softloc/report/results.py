"""What the report reads: every evaluated (method, seed, test set) run, in the pipeline's layout.

    reports/eval/<m>/seed<s>/<t>/{metrics.json,summary.json,curves.csv}   (git, cache: false)
    data/eval/<m>/seed<s>/<t>/retrievals.parquet                          (per query; DVC cache)
    data/testsets/<t>/queries.parquet                                     (query positions)
    reports/train/<m>/seed<s>/metrics.json, plots/metrics/**.tsv          (dvclive logs; git, cache: false)
    reports/testsets/<t>.json                                             (test set counts)

Every file read is recorded (`Inputs`), so the report can name them with their hashes and tell
later when it is older than what it summarises (softloc.report.provenance).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from softloc.io import read_parquet
from softloc.schemas import TESTSET_IMAGES

RETRIEVAL_COLUMNS = ["query", "condition", "top1", "error_m"]
TRAIN_CURVE_COLUMNS = ["step", "loss", "val_top1", "lr"]
# The train stage's dvclive logs (step<TAB>value per file) behind each training-curve column.
DVCLIVE_CURVES = {"loss": "train/loss.tsv", "val_top1": "val/top1.tsv", "lr": "train/lr.tsv"}


@dataclass
class Inputs:
    """Every file the report read, relative to the project root, with its SHA-256."""

    root: Path
    hashes: dict[str, str] = field(default_factory=dict)

    def path(self, relative: str | Path) -> Path:
        """The file at `relative`, recorded; a missing file is an error naming the stage to run."""
        relative = Path(relative)
        path = self.root / relative
        if not path.is_file():
            raise FileNotFoundError(f"{path}: not found; the report reads it (run `dvc repro` first, or the "
                                    "stage that writes it)")
        self.hashes[relative.as_posix()] = sha256(path)
        return path

    def json(self, relative: str | Path) -> dict[str, Any]:
        return json.loads(self.path(relative).read_text())


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file (what the page's own check computes in the browser too)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class Run:
    """One evaluated (method, seed, test set)."""

    method: str
    seed: int
    testset: str
    metrics: dict[str, Any]
    summary: dict[str, Any]
    curves: pd.DataFrame
    retrievals: pd.DataFrame | None   # None when the test set has no query positions


@dataclass(frozen=True)
class Training:
    """One trained (method, seed): its summary metrics and curves (step, loss, val_top1, lr)."""

    method: str
    seed: int
    metrics: dict[str, Any]
    curves: pd.DataFrame | None


@dataclass(frozen=True)
class Results:
    """Everything the report summarises, for params `methods` x `seeds` x `testsets`."""

    methods: list[str]
    seeds: list[int]
    testsets: list[str]
    runs: dict[tuple[str, int, str], Run]
    training: dict[tuple[str, int], Training]
    queries: dict[str, pd.DataFrame]          # test set -> easting, northing, condition of each query row
    testset_counts: dict[str, dict[str, Any]]

    def run(self, method: str, seed: int, testset: str) -> Run:
        return self.runs[(method, seed, testset)]

    def localized_testsets(self) -> list[str]:
        """Test sets with query positions (accuracy measured); the others have submissions only."""
        return [t for t in self.testsets if self.run(self.methods[0], self.seeds[0], t).summary.get("accuracy")]

    def conditions(self, testset: str) -> list[str]:
        """A test set's query conditions (sorted), from its summary's query counts."""
        return sorted(self.run(self.methods[0], self.seeds[0], testset).summary["n_queries"])


def read_results(root: Path, methods: list[str], seeds: list[int], testsets: list[str], inputs: Inputs) -> Results:
    """Read every run of `methods` x `seeds` x `testsets` (names as params lists them) under `root`."""
    if not methods or not seeds or not testsets:
        raise ValueError(f"params.yaml: methods {methods}, seeds {seeds}, testsets {testsets}: nothing to report")
    runs = {}
    for m in methods:
        for s in seeds:
            for t in testsets:
                runs[(m, s, t)] = read_run(inputs, m, s, t)
    training = {(m, s): read_training(inputs, m, s) for m in methods for s in seeds}
    queries, counts = {}, {}
    for t in testsets:
        counts[t] = inputs.json(f"reports/testsets/{t}.json") if (root / f"reports/testsets/{t}.json").is_file() else {}
        if runs[(methods[0], seeds[0], t)].retrievals is not None:
            table = read_parquet(inputs.path(f"data/testsets/{t}/queries.parquet"), TESTSET_IMAGES)
            queries[t] = table[["easting", "northing", "condition"]]
    return Results(methods, seeds, testsets, runs, training, queries, counts)


def read_run(inputs: Inputs, method: str, seed: int, testset: str) -> Run:
    base = f"{method}/seed{seed}/{testset}"
    summary = inputs.json(f"reports/eval/{base}/summary.json")
    if not summary.get("accuracy"):   # no query positions: evaluate wrote the submission only
        return Run(method, seed, testset, {}, summary, pd.DataFrame(), None)
    metrics = inputs.json(f"reports/eval/{base}/metrics.json")
    curves = pd.read_csv(inputs.path(f"reports/eval/{base}/curves.csv"))
    if "d_m" not in curves or "mean" not in curves:
        raise ValueError(f"reports/eval/{base}/curves.csv: expected columns d_m, <conditions>, mean, "
                         f"upper_bound_*; got {list(curves.columns)}")
    retrievals = pd.read_parquet(inputs.path(f"data/eval/{base}/retrievals.parquet"), columns=RETRIEVAL_COLUMNS)
    return Run(method, seed, testset, metrics, summary, curves, retrievals)


def read_training(inputs: Inputs, method: str, seed: int) -> Training:
    """A trained run's metrics.json and its curves from the dvclive logs (step, loss, val_top1,
    lr; NaN where a step did not record one). An off-the-shelf run logs its validation only."""
    base = Path("reports/train") / method / f"seed{seed}"
    metrics = inputs.json(base / "metrics.json")
    curves = None
    for column, name in DVCLIVE_CURVES.items():
        relative = base / "plots" / "metrics" / name
        if not (inputs.root / relative).is_file():
            continue
        log = pd.read_csv(inputs.path(relative), sep="\t")
        if list(log.columns) != ["step", log.columns[1]] or len(log.columns) != 2:
            raise ValueError(f"{relative}: expected dvclive's two columns (step, value), got {list(log.columns)}")
        log = log.set_axis(["step", column], axis=1)
        curves = log if curves is None else curves.merge(log, on="step", how="outer")
    if curves is not None:
        curves = curves.reindex(columns=TRAIN_CURVE_COLUMNS).sort_values("step", kind="stable").reset_index(drop=True)
    return Training(method, seed, metrics, curves)


def correct_at(run: Run, threshold_m: float) -> np.ndarray:
    """Per query with a known position (in query order): localized within `threshold_m`."""
    errors = run.retrievals["error_m"].to_numpy(np.float64)
    return errors[np.isfinite(errors)] <= threshold_m


def identical_groups(results: Results) -> list[list[str]]:
    """Methods whose every run retrieved the same top-1 reference for every query (e.g. early
    stopping kept the initial network for all of them), in params order; singletons included."""
    testsets = results.localized_testsets()
    if not testsets:
        return [[m] for m in results.methods]
    groups: dict[bytes, list[str]] = {}
    for m in results.methods:
        digest = hashlib.sha256()
        for s in results.seeds:
            for t in testsets:
                digest.update(results.run(m, s, t).retrievals["top1"].to_numpy(np.int64).tobytes())
        groups.setdefault(digest.digest(), []).append(m)
    return list(groups.values())
