"""Feature extraction throughput against the bare model forward pass on the same images.

    .venv/bin/python benchmarks/bench_extract.py [--images 512] [--repeats 2] [--store PATH]

The network is params.yaml `model` (randomly initialised; weights do not change the speed). The
images are the test reference store when it exists (or --store), else random images of the store's
size in a temporary memory-mapped .npy. "bare" runs net(preprocess(batch)) over batches already in
memory (on the device); "extract" is softloc.features.extract_features from the memory-mapped store
with PCA whitening, as the extract stage runs it. The target is extract >= 90% of bare.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from softloc.features import Whitening, extract_features, resolve_device
from softloc.imagestore import open_store, resized_shape
from softloc.models import build_network
from softloc.params import load_params
from softloc.pca import fit_pca


def bare_forward(net: torch.nn.Module, batches: list[torch.Tensor], device: torch.device) -> None:
    """The model alone: preprocess + forward over batches already on the device."""
    with torch.inference_mode(), torch.autocast(device_type="cuda", dtype=torch.float16, enabled=device.type == "cuda"):
        for batch in batches:
            net(net.preprocess(batch))
    if device.type == "cuda":
        torch.cuda.synchronize()


def best_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--store", default="data/testsets/robotcar/images/reference.npy")
    args = parser.parse_args()
    params = load_params()
    device = resolve_device(params.extract.device)
    batch_size = params.extract.batch_size
    net = build_network(params.model, 0, params.aggregators).eval().to(device)

    with tempfile.TemporaryDirectory() as tmp:
        if Path(args.store).is_file():
            store = open_store(args.store)[: args.images]
            source = args.store
        else:
            h, w = resized_shape(params.synthetic.image_height, params.synthetic.image_width,
                                 params.model.image_max_side)
            images = np.random.default_rng(0).integers(0, 256, size=(args.images, h, w, 3), dtype=np.uint8)
            np.save(Path(tmp) / "store.npy", images)
            store = open_store(Path(tmp) / "store.npy")
            source = "random images (no store found)"
        print(f"{len(store)} images {store.shape[1:]} from {source}; device {device}; batch {batch_size}; "
              f"network dim {net.dim}; torch threads {torch.get_num_threads()}")
        pca = fit_pca(np.random.default_rng(0).standard_normal((300, net.dim)), dim=params.pca.dim, eps=1e-9)
        whitening = Whitening(pca)
        batches = [torch.from_numpy(np.array(store[s:s + batch_size])).to(device)
                   for s in range(0, len(store), batch_size)]
        bare_forward(net, batches[:1], device)  # warm-up
        bare, full = [], []
        for _ in range(args.repeats):  # interleaved, so both see the same machine load
            bare.append(best_seconds(lambda: bare_forward(net, batches, device), 1))
            full.append(best_seconds(lambda: extract_features(net, store, net.preprocess, batch_size=batch_size,
                                                              device=device, whitening=whitening, desc="extract"), 1))
        bare, full = min(bare), min(full)
    n = len(store)
    print(f"bare forward : {n / bare:8.1f} images/s ({bare:.2f} s)")
    print(f"extract      : {n / full:8.1f} images/s ({full:.2f} s)  PCA-whitened to {pca.dim} dims")
    print(f"extract / bare = {100 * bare / full:.1f}% (target >= 90%)")


if __name__ == "__main__":
    main()
