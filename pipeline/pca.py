"""Stage pca@<method>: fit PCA with whitening on the network features of training images.

    python -m pipeline.pca <method>

Reads models/<method>/model.pt and data/processed/images/train_images.npy (a seeded random
subset of `pca.fit_images` rows); writes models/<method>/pca.npz.
"""

from __future__ import annotations

import argparse
import logging

from softloc.features import extract_features, resolve_device
from softloc.imagestore import open_store
from softloc.models import load_model, preprocess
from softloc.params import load_params
from softloc.pca import fit_pca, fit_rows, save_pca

log = logging.getLogger("pipeline.pca")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("method", help="a key of params.yaml `methods`")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    params = load_params()
    if args.method not in params["methods"]:
        raise SystemExit(f"unknown method {args.method!r}; params.yaml methods: {sorted(params['methods'])}")
    cfg = params["pca"]
    device = resolve_device(params["extract"]["device"])
    net, info = load_model(f"models/{args.method}/model.pt", device)
    store_path = "data/processed/images/train_images.npy"
    store = open_store(store_path)
    rows = fit_rows(len(store), int(cfg["fit_images"]), int(cfg["seed"]))
    log.info("fitting PCA of %s (init %s) on %d of %d images of %s on %s",
             args.method, info.get("init", "?"), len(rows), len(store), store_path, device)
    features = extract_features(net, store, preprocess, batch_size=int(params["extract"]["batch_size"]),
                                device=device, rows=rows, desc=f"pca {args.method}")
    pca = fit_pca(features, dim=int(cfg["dim"]), eps=float(cfg["eps"]))
    save_pca(pca, f"models/{args.method}/pca.npz")


if __name__ == "__main__":
    main()
