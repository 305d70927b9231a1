"""Stage evaluate@<method>-<seed>-<testset>: retrieve every query of a test set, measure accuracy.

    python -m pipeline.evaluate <method> <seed> <testset>

Reads data/features/<method>/seed<seed>/<testset>/{reference,queries}.npy and the test set's
tables data/testsets/<testset>/{reference,queries}.parquet. Writes
data/eval/<method>/seed<seed>/<testset>/retrievals.parquet (per query: the k best references,
errors) and, small and committed to git, reports/eval/<method>/seed<seed>/<testset>/:
metrics.json (DVC metrics: mean accuracy at each threshold, each condition at evaluate.headline_m,
percent), summary.json (every accuracy and upper bound, counts, recall@N) and curves.csv (DVC
plots: accuracy over d per condition and mean, and the upper bound).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from pipeline import run_stage, testset_dir
from softloc.evaluation import RETRIEVALS, evaluate_testset
from softloc.io import read_parquet, write_csv, write_json, write_parquet
from softloc.schemas import TESTSET_IMAGES

log = logging.getLogger("pipeline.evaluate")


def load_features(path: Path, n_rows: int, table: Path) -> np.ndarray:
    """A features file with one row per row of `table` (else an error naming both)."""
    features = np.load(path)
    if features.ndim != 2 or len(features) != n_rows:
        raise ValueError(f"{path}: features of shape {features.shape}, expected ({n_rows}, dim) for the "
                         f"{n_rows} rows of {table} (rerun the features stage)")
    log.info("read %s %s", path, features.shape)
    return features


def main() -> None:
    run, params = run_stage(__doc__, with_testset=True)
    tables = {split: read_parquet(testset_dir(run.testset) / f"{split}.parquet", TESTSET_IMAGES)
              for split in ("reference", "queries")}
    features = {split: load_features(run.features_dir / f"{split}.npy", len(table),
                                     testset_dir(run.testset) / f"{split}.parquet")
                for split, table in tables.items()}
    log.info("%s seed %d on %s: %d queries among %d references", run.method, run.seed, run.testset,
             len(tables["queries"]), len(tables["reference"]))
    result = evaluate_testset(tables["reference"], tables["queries"], features["reference"], features["queries"],
                              params["evaluate"])
    write_parquet(result.retrievals, run.eval_data_dir / "retrievals.parquet", RETRIEVALS)
    write_json(result.metrics, run.eval_report_dir / "metrics.json")
    write_json(result.summary, run.eval_report_dir / "summary.json")
    write_csv(result.curves, run.eval_report_dir / "curves.csv")
    log.info("%s seed %d on %s: %s", run.method, run.seed, run.testset, result.metrics)


if __name__ == "__main__":
    main()
