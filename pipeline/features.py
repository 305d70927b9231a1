"""Stage features@<method>-<seed>-<testset>: PCA whitening and the test set's features.

    python -m pipeline.features <method> <seed> <testset>

Reads models/<method>/seed<seed>/model.pt and the test set's image stores
(data/testsets/<testset>/images/{reference,queries}.npy). The PCA with whitening (params `pca`)
is fitted where the test set says (`testsets.<testset>.pca_fit`): on a seeded subset of the
training images (data/processed/images/train_images.npy; RobotCar) or on the test set's own
reference images (the paper does this for Pittsburgh and the Seasons sets). Writes
data/features/<method>/seed<seed>/<testset>/{pca.npz, reference.npy, queries.npy}: float32
(N, dim), whitened and L2-normalised, row i = row i of the test set's parquet.
"""

from __future__ import annotations

import logging

import torch

from pipeline import run_stage, testset_dir
from softloc.features import Whitening, extract_features, resolve_device
from softloc.imagestore import open_store
from softloc.io import read_parquet, save_npy
from softloc.models import load_model, preprocess
from softloc.pca import fit_pca, fit_rows, save_pca
from softloc.schemas import TESTSET_IMAGES

log = logging.getLogger("pipeline.features")
TRAIN_STORE = "data/processed/images/train_images.npy"


def main() -> None:
    run, params = run_stage(__doc__, with_testset=True)
    cfg, pca_cfg = params["extract"], params["pca"]
    device = resolve_device(cfg["device"])
    net, info = load_model(run.model_dir / "model.pt", device)
    batch = int(cfg["batch_size"])
    raw = {}
    for split in ("reference", "queries"):
        store_path = testset_dir(run.testset) / "images" / f"{split}.npy"
        table_path = testset_dir(run.testset) / f"{split}.parquet"
        store, n_rows = open_store(store_path), len(read_parquet(table_path, TESTSET_IMAGES))
        if len(store) != n_rows:
            raise ValueError(f"{store_path}: {len(store)} images but {table_path} has {n_rows} rows "
                             f"(rerun testset@{run.testset})")
        raw[split] = extract_features(net, store, preprocess, batch_size=batch, device=device,
                                      desc=f"{run.method} seed {run.seed} {run.testset} {split}")
    fit_on = params["testsets"][run.testset]["pca_fit"]
    if fit_on == "reference":
        rows = fit_rows(len(raw["reference"]), int(pca_cfg["fit_images"]), int(pca_cfg["seed"]))
        fit_features = raw["reference"][rows]
        source = f"{len(rows)} reference images of {run.testset}"
    else:
        train_store = open_store(TRAIN_STORE)
        rows = fit_rows(len(train_store), int(pca_cfg["fit_images"]), int(pca_cfg["seed"]))
        fit_features = extract_features(net, train_store, preprocess, batch_size=batch, device=device, rows=rows,
                                        desc=f"{run.method} seed {run.seed} pca")
        source = f"{len(rows)} of {len(train_store)} training images"
    log.info("fitting PCA of %s seed %d (init %s) on %s", run.method, run.seed, info.get("init", "?"), source)
    pca = fit_pca(fit_features, dim=int(pca_cfg["dim"]), eps=float(pca_cfg["eps"]))
    save_pca(pca, run.features_dir / "pca.npz")
    whitening = Whitening(pca)
    with torch.inference_mode():
        for split, features in raw.items():
            save_npy(whitening(torch.from_numpy(features)).numpy(), run.features_dir / f"{split}.npy")


if __name__ == "__main__":
    main()
