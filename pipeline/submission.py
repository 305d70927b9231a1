"""submission stage: the benchmark's submission file and local pose measure of every method on
every Seasons-format test set.

    python -m pipeline.submission

For each params `testsets` entry of format `seasons`, each method of params `methods` and each
seed of params `seeds`, reads data/testsets/<t>/{reference,queries}.parquet and the evaluate
stage's data/eval/<m>/seed<s>/<t>/retrievals.parquet (query row -> top-1 reference row, within
the query's camera) and writes reports/seasons/<m>/seed<s>/<t>/:

    RobotCar_eval_softloc-<m>-seed<s>.txt  (CMU_eval_... for CMU)  the file to upload
    pose_metrics.json                      the benchmark's measure where query poses are known

and reports/seasons.json (DVC metrics): per test set, method and seed, the percent within
(0.25 m, 2 deg), (0.5 m, 5 deg), (5 m, 10 deg) per reporting group (RobotCar day/night, CMU
urban/suburban/park); empty for sets whose query poses are hidden (real benchmark data).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

import numpy as np

from pipeline import Run, fresh_outputs, setup_logging, stage_params, testset_dir
from softloc.evaluate import RETRIEVALS
from softloc.io import read_parquet, write_json
from softloc.schemas import TESTSET_IMAGES
from softloc.seasons_eval import pose_metrics, seasons_testsets, submission_lines, submission_path, write_submission

log = logging.getLogger("pipeline.submission")
OUT = Path("reports/seasons")


def top1_per_query(path: Path, n_queries: int) -> np.ndarray:
    """Top-1 reference row of each query row, from a retrievals table that must list every query once."""
    table = read_parquet(path, RETRIEVALS)
    query = table["query"].to_numpy()
    if len(query) != n_queries or not np.array_equal(np.sort(query), np.arange(n_queries)):
        raise ValueError(f"{path}: expected each of the {n_queries} query rows exactly once, got {len(query)} rows "
                         "(rerun evaluate)")
    top1 = np.empty(n_queries, dtype=np.int64)
    top1[query] = table["top1"].to_numpy()
    return top1


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    setup_logging()
    params = stage_params()
    summary: dict[str, Any] = {}
    with fresh_outputs(OUT):   # a method, seed or test set no longer in params leaves nothing behind
        for testset, cfg in seasons_testsets(params.testsets).items():
            dataset = cfg.dataset
            reference = read_parquet(testset_dir(testset) / "reference.parquet", TESTSET_IMAGES)
            queries = read_parquet(testset_dir(testset) / "queries.parquet", TESTSET_IMAGES)
            summary[testset] = {}
            for method in params.methods:
                for seed in params.seeds:
                    top1 = top1_per_query(Run(method, seed, testset).eval_data_dir / "retrievals.parquet", len(queries))
                    path = submission_path(OUT, method, seed, testset, dataset)
                    write_submission(submission_lines(queries, reference, top1, dataset), path)
                    metrics = pose_metrics(queries, reference, top1, dataset)
                    write_json(metrics, path.parent / "pose_metrics.json")
                    summary[testset].setdefault(method, {})[f"seed{seed}"] = metrics.get("by_group", {})
                    if "all" in metrics:
                        log.info("%s seed %s on %s: %s", method, seed, testset, metrics["all"])
    write_json(summary, "reports/seasons.json")


if __name__ == "__main__":
    main()
