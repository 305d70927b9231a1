"""Descriptor size and extraction speed of each aggregator on the EfficientNet-Lite0 trunk, CPU.

    .venv/bin/python benchmarks/bench_aggregators.py [--threads 2] [--side 96] [--batch 50] [--repeats 3] [--budget 1]

Inference as the extract stage runs it (torch.inference_mode, eval mode, float32, channels_last):
a batch of random 4:3 uint8 images `--side` px on the longest side, preprocessed with the network's
own normalisation; the trunk is Lite0 blocks 0-10 with the package's ImageNet weights (stride 16,
112 channels), each aggregator at params.yaml's hyperparameters. Each time is the best of at least
`--repeats` passes after one warm-up, timed for `--budget` seconds: on a shared machine a pass
waits for both threads to be scheduled, so a best of a few is noise. The trunk is timed once per
aggregator and its best time kept.

Per aggregator: the descriptor length and its float32 bytes, the aggregator's parameter count,
the aggregator alone on the trunk's output (images/s), and the extraction speed, trunk then
aggregator (batch / (best trunk + best aggregator pass): the speed of an unshared machine; timed
as one network, a busy machine drags every row down at random).
"""

from __future__ import annotations

import argparse
import time

import torch

from softloc.config import Model
from softloc.models import build_network
from softloc.models.aggregators import NAMES
from softloc.params import load_params


def best_seconds(module: torch.nn.Module, x: torch.Tensor, repeats: int, budget_s: float) -> float:
    """The fastest of at least `repeats` passes of `module` on `x` after one warm-up, more while
    they have taken under `budget_s` seconds."""
    with torch.inference_mode():
        module(x)
        best, spent, passes = float("inf"), 0.0, 0
        while passes < repeats or spent < budget_s:
            start = time.perf_counter()
            module(x)
            took = time.perf_counter() - start
            best, spent, passes = min(best, took), spent + took, passes + 1
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--side", type=int, default=96)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--budget", type=float, default=1.0, help="seconds each measurement keeps timing passes")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    params = load_params()
    h, w = args.side * 3 // 4, args.side
    images = torch.randint(0, 256, (args.batch, h, w, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {args.batch} of {w}x{h} px, "
          f"best pass of >= {args.repeats} in {args.budget:g} s")
    trunk_s, rows = float("inf"), []
    for name in NAMES:
        model = Model(backbone="efficientnet_lite0", init="imagenet", clusters=params.model.clusters,
                      image_max_side=args.side, aggregator=name)
        net = build_network(model, 0, params.aggregators).eval()
        x = net.preprocess(images)
        with torch.inference_mode():
            features = net.backbone(x)
        trunk_s = min(trunk_s, best_seconds(net.backbone, x, args.repeats, args.budget))
        rows.append((name, net.dim, sum(p.numel() for p in net.pool.parameters()),
                     best_seconds(net.pool, features, args.repeats, args.budget)))
    print(f"trunk: {args.batch / trunk_s:.1f} img/s -> {tuple(features.shape[1:])} features")
    print(f"{'aggregator':<12}{'dim':>7}{'bytes':>8}{'params':>12}{'alone img/s':>13}{'extract img/s':>15}")
    for name, dim, n_params, pool_s in rows:
        print(f"{name:<12}{dim:>7}{4 * dim:>8}{n_params:>12,}{args.batch / pool_s:>13.0f}{args.batch / (trunk_s + pool_s):>15.1f}")


if __name__ == "__main__":
    main()
