"""Stage extract@<method>: PCA-whitened features of the test references and queries.

    python -m pipeline.extract <method>

Reads models/<method>/{model.pt,pca.npz}, data/processed/images/test_{reference,queries}.npy
and their parquet files (row counts must agree); writes data/features/<method>/{reference,
queries}.npy, float32 (N, pca dim), row i = row i of the parquet.
"""

from __future__ import annotations

import logging

from pipeline import method_stage
from softloc.features import Whitening, extract_features, resolve_device
from softloc.imagestore import open_store
from softloc.io import read_parquet, save_npy
from softloc.models import load_model, preprocess
from softloc.pca import load_pca
from softloc.schemas import SPLIT_IMAGES

log = logging.getLogger("pipeline.extract")
SPLITS = {"reference": "test_reference", "queries": "test_queries"}


def main() -> None:
    method, params = method_stage(__doc__)
    cfg = params["extract"]
    device = resolve_device(cfg["device"])
    net, info = load_model(f"models/{method}/model.pt", device)
    whitening = Whitening(load_pca(f"models/{method}/pca.npz"))
    log.info("extracting %s (init %s) on %s", method, info.get("init", "?"), device)
    for name, split in SPLITS.items():
        n_rows = len(read_parquet(f"data/processed/{split}.parquet", SPLIT_IMAGES))
        store_path = f"data/processed/images/{split}.npy"
        store = open_store(store_path)
        if len(store) != n_rows:
            raise ValueError(f"{store_path}: {len(store)} images but data/processed/{split}.parquet has "
                             f"{n_rows} rows (rebuild the image store)")
        features = extract_features(net, store, preprocess, batch_size=int(cfg["batch_size"]), device=device,
                                    whitening=whitening, desc=f"{method} {name}")
        save_npy(features, f"data/features/{method}/{name}.npy")


if __name__ == "__main__":
    main()
