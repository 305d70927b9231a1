"""The fine-tuning grid of issue 17: one learning rate and trunk cut for every method, chosen on validation.

    python benchmarks/finetune_grid.py [--methods soft triplet multisimilarity] [--lr 3e-5 1e-4 3e-4]
                                      [--blocks 5 8] [--out /tmp/finetune_grid]

Runs the train stage's own `train_method` (params.yaml's model, train, pca and methods, with
`train.lr` and `model.train_from_block` replaced) for every (method, lr, block) on the index
stage's data (data/processed: run `dvc repro imagestore` first), seed 0, and prints each run's
best validation top-1 within train.val_threshold_m (the test's whitened descriptors), the step it
was reached at, and the mean over methods per (lr, block), the criterion: the setting with the
highest mean is params.yaml's. Validation is the only thing read: the test split is never touched.
Writes <out>/grid.json and a markdown table <out>/grid.md (the README's); models and logs stay in <out>.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

import numpy as np

from softloc.params import load_params
from softloc.training import load_train_data, train_method


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", nargs="+", default=["soft", "triplet", "multisimilarity"])
    parser.add_argument("--lr", nargs="+", type=float, default=[3e-5, 1e-4, 3e-4])
    parser.add_argument("--blocks", nargs="+", type=int, default=[5, 8])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("/tmp/finetune_grid"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    params = load_params()
    data = load_train_data("data/processed")
    rows = []
    for block in args.blocks:
        model = params.model.model_copy(update={"train_from_block": block})
        for lr in args.lr:
            train = params.train.model_copy(update={"lr": lr})
            for method in args.methods:
                run = args.out / f"block{block}_lr{lr:g}" / method
                start = time.perf_counter()
                summary = train_method(method, params.methods[method], model, train, args.seed, data,
                                       run / "model.pt", run / "reports", run / "resume", pca=params.pca)
                rows.append({"block": block, "lr": lr, "method": method, "best_val_top1": 100 * summary["best_val_top1"],
                             "best_step": summary["best_step"], "steps": summary["steps"],
                             "seconds": round(time.perf_counter() - start, 1)})
                print(json.dumps(rows[-1]), flush=True)
    initial = {}
    for block in args.blocks:  # the untrained network of each cut: every run's step-0 validation is the same
        model = params.model.model_copy(update={"train_from_block": block})
        run = args.out / f"block{block}_init"
        initial[block] = 100 * train_method("offtheshelf", params.methods["offtheshelf"], model, params.train, args.seed, data,
                                            run / "model.pt", run / "reports", run / "resume", pca=params.pca)["best_val_top1"]
    lines = ["| train_from_block | lr | " + " | ".join(args.methods) + " | mean | mean gain over the untrained network |",
             "|---:|---:|" + "---:|" * (len(args.methods) + 2)]
    for block in args.blocks:
        for lr in args.lr:
            cells = [r for r in rows if r["block"] == block and r["lr"] == lr]
            mean = float(np.mean([r["best_val_top1"] for r in cells]))
            lines.append(f"| {block} | {lr:g} | " + " | ".join(f"{r['best_val_top1']:.1f} (step {r['best_step']})" for r in cells)
                         + f" | {mean:.1f} | {mean - initial[block]:+.1f} |")
    lines.append(f"\nUntrained network (NetVLAD from k-means): {initial[args.blocks[0]]:.1f} (validation top-1 at "
                 f"{params.train.val_threshold_m:g} m, whitened).")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "grid.json").write_text(json.dumps({"runs": rows, "initial": initial}, indent=1) + "\n")
    (args.out / "grid.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
