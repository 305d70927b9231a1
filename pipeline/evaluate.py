"""Stage evaluate@<method>-<seed>-<testset>: one trained model on one test set, end to end.

    python -m pipeline.evaluate <method> <seed> <testset>

Reads models/<method>/seed<seed>/model.pt and the test set (data/testsets/<testset>/: its
tables and image stores; for `pca_fit: train` also data/processed/images/train_images.npy).
Fits the PCA whitening where the test set says, extracts the whitened features, retrieves every
query among the references (within its camera) and measures. Writes
data/features/<method>/seed<seed>/<testset>/{pca.npz,reference.npy,queries.npy} (the map that
`softloc localize` and Figure 3 use), data/eval/<method>/seed<seed>/<testset>/retrievals.parquet
(per query: the k best references, errors) and, small and committed to git,
reports/eval/<method>/seed<seed>/<testset>/: metrics.json (DVC metrics: mean accuracy at each
threshold, each condition at evaluate.headline_m, percent), summary.json (every accuracy and
upper bound, counts, recall@N) and curves.csv (accuracy over d per condition, the upper bound).

Extraction and evaluation are one stage, not two: with ~40 (method, test set) pairs, a process
start and DVC's bookkeeping per stage cost more than the retrieval itself.
"""

from __future__ import annotations

import logging
from pathlib import Path

from pipeline import run_stage, testset_dir
from softloc.params import plain
from softloc.evaluate import RETRIEVALS, evaluate_testset
from softloc.features import resolve_device, testset_features
from softloc.imagestore import open_store
from softloc.io import read_parquet, save_npy, write_csv, write_json, write_parquet
from softloc.models import load_model
from softloc.pca import save_pca
from softloc.schemas import TESTSET_IMAGES

log = logging.getLogger("pipeline.evaluate")
TRAIN_STORE = Path("data/processed/images/train_images.npy")


def main() -> None:
    run, typed = run_stage(__doc__, with_testset=True)
    params = plain(typed)
    folder = testset_dir(run.testset)
    tables, stores = {}, {}
    for split in ("reference", "queries"):
        tables[split] = read_parquet(folder / f"{split}.parquet", TESTSET_IMAGES)
        stores[split] = open_store(folder / "images" / f"{split}.npy")
        if len(stores[split]) != len(tables[split]):
            raise ValueError(f"{folder}/images/{split}.npy: {len(stores[split])} images but {folder}/{split}.parquet "
                             f"has {len(tables[split])} rows (rerun testset@{run.testset})")
    cfg = params["extract"]
    device = resolve_device(cfg["device"])
    net, info = load_model(run.model_dir / "model.pt", device)
    pca_fit = params["testsets"][run.testset]["pca_fit"]
    features = testset_features(net, stores["reference"], stores["queries"], pca_fit,
                                open_store(TRAIN_STORE) if pca_fit == "train" else None, params["pca"],
                                batch_size=int(cfg["batch_size"]), device=device,
                                desc=f"{run.method} seed {run.seed} {run.testset}")
    log.info("%s seed %d (init %s): PCA fitted on %s", run.method, run.seed, info.get("init", "?"), features.fitted_on)
    save_pca(features.pca, run.features_dir / "pca.npz")
    save_npy(features.reference, run.features_dir / "reference.npy")
    save_npy(features.queries, run.features_dir / "queries.npy")

    log.info("%s seed %d on %s: %d queries among %d references", run.method, run.seed, run.testset,
             len(tables["queries"]), len(tables["reference"]))
    result = evaluate_testset(tables["reference"], tables["queries"], features.reference, features.queries,
                              params["evaluate"])
    write_parquet(result.retrievals, run.eval_data_dir / "retrievals.parquet", RETRIEVALS)
    write_json(result.metrics, run.eval_report_dir / "metrics.json")
    write_json(result.summary, run.eval_report_dir / "summary.json")
    write_csv(result.curves, run.eval_report_dir / "curves.csv")
    log.info("%s seed %d on %s: %s", run.method, run.seed, run.testset, result.metrics)


if __name__ == "__main__":
    main()
