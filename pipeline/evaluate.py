"""Stage evaluate@<method>: top-1 retrieval of every test query and localization accuracy.

    python -m pipeline.evaluate <method>

Reads data/features/<method>/{reference,queries}.npy and data/processed/test_{reference,
queries}.parquet; writes reports/eval/<method>/metrics.json (DVC metrics) and curves.csv
(DVC plots: d_m, accuracy and upper_bound of the mean over conditions, then per condition).
"""

from __future__ import annotations

import logging

import numpy as np

from pipeline import method_stage
from softloc.io import atomic_path, read_parquet, write_json
from softloc.metrics import evaluate_localization, nearest_reference_distances, retrieval_errors
from softloc.retrieval import faiss_gpu_available, search_top1
from softloc.schemas import SPLIT_IMAGES

log = logging.getLogger("pipeline.evaluate")


def load_features(path: str, n_rows: int, parquet: str) -> np.ndarray:
    """Load a features file and check it has one row per parquet row."""
    features = np.load(path)
    if features.ndim != 2 or len(features) != n_rows:
        raise ValueError(f"{path}: features of shape {features.shape}, expected ({n_rows}, dim) "
                         f"for the {n_rows} rows of {parquet} (rerun extract)")
    log.info("read %s %s", path, features.shape)
    return features


def main() -> None:
    method, params = method_stage(__doc__)
    cfg = params["evaluate"]
    reference = read_parquet("data/processed/test_reference.parquet", SPLIT_IMAGES)
    queries = read_parquet("data/processed/test_queries.parquet", SPLIT_IMAGES)
    ref_features = load_features(f"data/features/{method}/reference.npy", len(reference),
                                 "data/processed/test_reference.parquet")
    query_features = load_features(f"data/features/{method}/queries.npy", len(queries),
                                   "data/processed/test_queries.parquet")
    log.info("searching %d queries among %d references (%s faiss index)", len(queries), len(reference),
             "GPU" if faiss_gpu_available() else "CPU")
    top1 = search_top1(ref_features, query_features)
    reference_xy = reference[["easting", "northing"]].to_numpy()
    query_xy = queries[["easting", "northing"]].to_numpy()
    errors = retrieval_errors(reference_xy, query_xy, top1)
    bound_errors = nearest_reference_distances(reference_xy, query_xy)
    metrics, curves = evaluate_localization(errors, bound_errors, queries["condition"].to_numpy(),
                                            list(cfg["thresholds_m"]), float(cfg["curve_max_m"]))
    metrics["n_reference"] = len(reference)
    metrics["median_error_m"] = float(np.median(errors))
    out = f"reports/eval/{method}"
    write_json(metrics, f"{out}/metrics.json")
    with atomic_path(f"{out}/curves.csv") as tmp:
        curves.to_csv(tmp, index=False, float_format="%.6g")
    log.info("wrote %s/curves.csv (%d distances)", out, len(curves))
    for key, acc in metrics["accuracy"].items():
        log.info("%s accuracy within %s: mean %.3f (upper bound %.3f)", method, key, acc["mean"],
                 metrics["upper_bound"][key]["mean"])


if __name__ == "__main__":
    main()
