"""Stage pca@<method>: fit PCA with whitening on the network features of training images.

    python -m pipeline.pca <method>

Reads models/<method>/model.pt and data/processed/images/train_images.npy (a seeded random
subset of `pca.fit_images` rows); writes models/<method>/pca.npz.
"""

from __future__ import annotations

import logging

from pipeline import method_stage
from softloc.features import extract_features, resolve_device
from softloc.imagestore import open_store
from softloc.models import load_model, preprocess
from softloc.pca import fit_pca, fit_rows, save_pca

log = logging.getLogger("pipeline.pca")


def main() -> None:
    method, params = method_stage(__doc__)
    cfg = params["pca"]
    device = resolve_device(params["extract"]["device"])
    net, info = load_model(f"models/{method}/model.pt", device)
    store_path = "data/processed/images/train_images.npy"
    store = open_store(store_path)
    rows = fit_rows(len(store), int(cfg["fit_images"]), int(cfg["seed"]))
    log.info("fitting PCA of %s (init %s) on %d of %d images of %s on %s",
             method, info.get("init", "?"), len(rows), len(store), store_path, device)
    features = extract_features(net, store, preprocess, batch_size=int(params["extract"]["batch_size"]),
                                device=device, rows=rows, desc=f"pca {method}")
    pca = fit_pca(features, dim=int(cfg["dim"]), eps=float(cfg["eps"]))
    save_pca(pca, f"models/{method}/pca.npz")


if __name__ == "__main__":
    main()
