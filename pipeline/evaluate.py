"""Stage evaluate@<method>-<seed>: one trained model on every test set, end to end.

    python -m pipeline.evaluate <method> <seed> [<testset>]

Reads models/<method>/seed<seed>/model.pt and each test set of params `testsets`, in the order
listed (data/testsets/<testset>/: its tables and image stores; for `pca_fit: train` also
data/processed/images/train_images.npy); a third argument evaluates that test set alone (for
debugging). With a frozen lower trunk (model.train_from_block), the stores pass through it once,
shared by every method (softloc.models.trunk_memo, models/.trunk/), and the trained part runs on
that. Per test set: fits the PCA whitening where the test set says, extracts the whitened
features, retrieves every query among the references (within its camera) and measures. Writes
data/features/<method>/seed<seed>/<testset>/{pca.npz,reference.npy,queries.npy} (the map that
`softloc localize` and Figure 3 use), data/eval/<method>/seed<seed>/<testset>/retrievals.parquet
(per query: the k best references, errors) and, small and committed to git,
reports/eval/<method>/seed<seed>/<testset>/: metrics.json (DVC metrics: mean accuracy at each
threshold, each condition at evaluate.headline_m, percent), summary.json (every accuracy and
upper bound, counts, recall@N) and curves.csv (accuracy over d per condition, the upper bound).
Every file is written under a temporary name and renamed.

Extraction and evaluation are one stage, and one stage per (method, seed) rather than per test
set: with ~40 (method, test set) pairs, a process start, a model load and DVC's bookkeeping per
stage cost more than the retrieval itself.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from pipeline import Run, fresh_outputs, run_stage, testset_dir
from softloc.config import Params
from softloc.evaluate import RETRIEVALS, evaluate_testset
from softloc.features import resolve_device, testset_features
from softloc.imagestore import open_store
from softloc.io import read_parquet, save_npy, write_csv, write_json, write_parquet
from softloc.models import load_model
from softloc.models.trained_part import TrainedPart
from softloc.models.trunk_memo import frozen_trunk_outputs
from softloc.pca import save_pca
from softloc.schemas import TESTSET_IMAGES

log = logging.getLogger("pipeline.evaluate")
TRAIN_STORE = Path("data/processed/images/train_images.npy")


def read_testset(name: str) -> tuple[dict[str, pd.DataFrame], dict[str, np.ndarray]]:
    """A test set's reference and query tables and their image stores, checked row for row."""
    folder = testset_dir(name)
    tables, stores = {}, {}
    for split in ("reference", "queries"):
        tables[split] = read_parquet(folder / f"{split}.parquet", TESTSET_IMAGES)
        stores[split] = open_store(folder / "images" / f"{split}.npy")
        if len(stores[split]) != len(tables[split]):
            raise ValueError(f"{folder}/images/{split}.npy: {len(stores[split])} images but {folder}/{split}.parquet "
                             f"has {len(tables[split])} rows (rerun testset@{name})")
    return tables, stores


def channels_first(batch: torch.Tensor) -> torch.Tensor:
    """A batch of memoised trunk outputs (B, h, w, C) as the trained part's input (B, C, h, w)."""
    return batch.permute(0, 3, 1, 2)


def evaluate_one(net: torch.nn.Module, device: torch.device, run: Run, params: Params) -> None:
    """Features, PCA, retrievals and measures of one (method, seed, test set): its files written."""
    tables, stores = read_testset(run.testset)
    pca_fit = params.testsets[run.testset].pca_fit
    if pca_fit == "train":
        stores["train"] = open_store(TRAIN_STORE)
    forward, preprocess = net, net.preprocess
    if net.spec.train_from_block is not None:  # the frozen trunk's outputs, shared by every method
        amp = torch.float16 if device.type == "cuda" else None  # as extract_features runs the network
        stores = {name: frozen_trunk_outputs(net, net.spec, store, params.extract.batch_size, device, amp)
                  for name, store in stores.items()}
        forward, preprocess = TrainedPart(net, net.spec), channels_first
    features = testset_features(forward, stores["reference"], stores["queries"], pca_fit, stores.get("train"), params.pca,
                                batch_size=params.extract.batch_size, device=device,
                                desc=f"{run.method} seed {run.seed} {run.testset}", preprocess=preprocess)
    log.info("%s seed %d on %s: PCA fitted on %s", run.method, run.seed, run.testset, features.fitted_on)
    save_pca(features.pca, run.features_dir / "pca.npz")
    save_npy(features.reference, run.features_dir / "reference.npy")
    save_npy(features.queries, run.features_dir / "queries.npy")

    log.info("%s seed %d on %s: %d queries among %d references", run.method, run.seed, run.testset,
             len(tables["queries"]), len(tables["reference"]))
    result = evaluate_testset(tables["reference"], tables["queries"], features.reference, features.queries,
                              params.evaluate)
    write_parquet(result.retrievals, run.eval_data_dir / "retrievals.parquet", RETRIEVALS)
    write_json(result.metrics, run.eval_report_dir / "metrics.json")
    write_json(result.summary, run.eval_report_dir / "summary.json")
    write_csv(result.curves, run.eval_report_dir / "curves.csv")
    log.info("%s seed %d on %s: %s", run.method, run.seed, run.testset, result.metrics)


def main() -> None:
    run, params = run_stage(__doc__, with_testset=True)
    device = resolve_device(params.extract.device)
    net, info = load_model(run.model_dir / "model.pt", device)
    log.info("%s seed %d: model init %s", run.method, run.seed, info.get("init", "?"))
    testsets = [run.testset] if run.testset else list(params.testsets)
    cells = [dataclasses.replace(run, testset=t) for t in testsets]
    # the whole (method, seed) when every test set runs (as dvc.yaml does), else that test set's folders
    folders = [d.parent for d in (run.features_dir, run.eval_data_dir, run.eval_report_dir)] if not run.testset \
        else [d for c in cells for d in (c.features_dir, c.eval_data_dir, c.eval_report_dir)]
    with fresh_outputs(*folders):
        for cell in cells:
            evaluate_one(net, device, cell, params)


if __name__ == "__main__":
    main()
