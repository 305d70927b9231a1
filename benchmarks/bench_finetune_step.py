"""One fine-tuning step of EfficientNet-Lite0 + NetVLAD on the CPU: whole trunk trained against a
frozen lower trunk (model.train_from_block), and what a cache of the frozen part's output would buy.

    .venv/bin/python benchmarks/bench_finetune_step.py [--threads 2] [--side 96] [--from-blocks none 8]
        [--cached 8] [--tuples 2] [--steps 10] [--method triplet]

A step = the Trainer's model step (softloc.training.loop.Trainer.train_step without the feed):
preprocess (Lite's normalisation) + forward + loss + backward + Adam step on one batch of
`--tuples` tuples of 25 images (1 + 12 close + 12 far, as train.n_close / n_far: 50 images by
default), 4:3 images `--side` px on the longest side, float32, channels_last, the installed
package's ImageNet weights, NetVLAD K 16 (params.yaml's clusters). The frozen part is set up by
the training code itself (trained_part.freeze_lower_trunk, Adam over trainable_parameters). Median
and best of `--steps` timed steps after two warm-up steps, the variants' steps interleaved so that
each sees the same machine load. Random pixels: the speed does not depend
on the content. A shared machine only makes steps slower: read the numbers as upper bounds.

`--cached` blocks: the same step from the frozen part's output computed once beforehand
(EfficientNetLite0.input_to_block under no_grad), as the Trainer's per-run cache feeds it
(softloc.models.trunk_memo); the cache read itself (a few hundred kB from a memory map,
prepared in the feed's worker thread) is not timed.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable

import torch

from softloc.config import Model, method_model
from softloc.losses import TupleBatch, build_loss
from softloc.models import build_network
from softloc.models.trained_part import TrainedPart, freeze_lower_trunk, frozen_output, trainable_parameters

N_CLOSE = N_FAR = 12


def make_step(cut: int | None, args: argparse.Namespace, cached: bool) -> tuple[Callable[[], None], int]:
    """One training step of the network trained from block `cut` (None: whole trunk), from the
    frozen part's precomputed output when `cached`; and the number of trainable tensors."""
    model = Model(backbone="efficientnet_lite0", init="imagenet", clusters=16, image_max_side=args.side, train_from_block=cut)
    net = build_network(model, 0).train()
    freeze_lower_trunk(net.backbone, model)
    params = trainable_parameters(net)
    optimizer = torch.optim.Adam(params, lr=1e-4)
    loss_fn = build_loss(method_model(args.method)(loss=args.method, r1=10, r2=25))
    m = 1 + N_CLOSE + N_FAR
    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (args.tuples * m, args.side * 3 // 4, args.side, 3), dtype=torch.uint8, generator=gen)
    distance = torch.cat([torch.zeros(1), torch.full((N_CLOSE,), 5.0), torch.full((N_FAR,), 50.0)])
    positions = torch.stack([distance, torch.zeros(m)], dim=1).double().expand(args.tuples, m, 2).contiguous()
    forward: Callable[[], torch.Tensor] = lambda: net(net.preprocess(images))  # noqa: E731
    if cached:
        with torch.no_grad():
            lower = frozen_output(net.backbone, model, net.preprocess(images))
        part = TrainedPart(net, model)
        forward = lambda: part(lower)  # noqa: E731

    def step() -> None:
        loss = loss_fn(TupleBatch(forward().view(args.tuples, m, -1), positions, N_CLOSE, N_FAR, 0))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step, len(params)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--side", type=int, default=96)
    parser.add_argument("--tuples", type=int, default=2)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--method", default="triplet")
    parser.add_argument("--from-blocks", nargs="+", default=["none", "8"], help="model.train_from_block values (none: whole trunk)")
    parser.add_argument("--cached", type=int, nargs="*", default=[8], help="train_from_block values also timed from a cached frozen output")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    images = args.tuples * (1 + N_CLOSE + N_FAR)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {images} images of {args.side}x{args.side * 3 // 4} px "
          f"a step, Lite0 blocks 0-10 + NetVLAD K 16, {args.method}, {args.steps} steps")
    runs = [(None if v == "none" else int(v), False) for v in args.from_blocks] + [(c, True) for c in args.cached]
    steps = [make_step(cut, args, cached) for cut, cached in runs]
    times: list[list[float]] = [[] for _ in runs]
    for i in range(args.steps + 2):  # interleaved: every variant sees the same machine load
        for (step, _), t in zip(steps, times):
            start = time.perf_counter()
            step()
            if i >= 2:
                t.append(time.perf_counter() - start)
    for (cut, cached), (_, n), t in zip(runs, steps, times):
        what = "whole trunk trained" if cut is None else f"blocks {cut}-10 trained, 0-{cut - 1} frozen"
        what += ", cached" if cached else ""
        print(f"{what:42s}: median {statistics.median(t) * 1000:7.1f} ms/step, best {min(t) * 1000:7.1f} "
              f"({images / statistics.median(t):5.1f} img/s; {n} trainable tensors)")

if __name__ == "__main__":
    main()
