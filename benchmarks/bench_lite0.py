"""Forward throughput of the EfficientNet-Lite0 trunk (and the small backbone beside it) on the CPU.

    .venv/bin/python benchmarks/bench_lite0.py [--threads 2] [--side 96] [--batch 50] [--repeats 5] [--cuts 10 7]

Inference only (torch.inference_mode, eval mode, float32), as the extract stage runs the network:
a batch of random 4:3 images `--side` px on the longest side, preprocessed once (channels_last,
as build_network lays out the network), then the backbone alone, best of `--repeats` timed
passes after one warm-up. Weights do not change the speed; the package's ImageNet weights are
loaded anyway so the numbers are the real network's.
"""

from __future__ import annotations

import argparse
import time

import torch

from softloc.config import Model
from softloc.models import build_network, preprocess


def images_per_second(backbone: torch.nn.Module, x: torch.Tensor, repeats: int) -> float:
    with torch.inference_mode():
        backbone(x)  # warm-up
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            backbone(x)
            best = min(best, time.perf_counter() - start)
    return x.shape[0] / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--side", type=int, default=96)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cuts", type=int, nargs="+", default=[10], help="model.lite_last_block values")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    h, w = args.side * 3 // 4, args.side
    images = torch.randint(0, 256, (args.batch, h, w, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    x = preprocess(images)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {args.batch} of {w}x{h} px, best of {args.repeats}")
    for cut in args.cuts:
        lite = Model(backbone="efficientnet_lite0", init="imagenet", clusters=16, image_max_side=args.side, lite_last_block=cut)
        net = build_network(lite, 0).eval()
        with torch.inference_mode():
            shape = tuple(net.backbone(x[:1]).shape[1:])
        print(f"efficientnet_lite0 blocks 0-{cut} -> {shape}: {images_per_second(net.backbone, x, args.repeats):7.1f} img/s")
    net = build_network(Model(backbone="small", init="random", clusters=16, image_max_side=args.side), 0).eval()
    print(f"small (16, 32, 64, 128)          : {images_per_second(net.backbone, x, args.repeats):7.1f} img/s")


if __name__ == "__main__":
    main()
