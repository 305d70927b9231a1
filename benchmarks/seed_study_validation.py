"""Seed study on the VALIDATION split: which tuple sampling (and learning rate) the defaults use.

Trains each method of params.yaml for every (close-image option, seed) at the default budget and
records its validation top-1 within `train.val_threshold_m` (10 m) after every epoch, next to
the untrained network (offtheshelf) of the same seed. The test split is never read. Runs are
sequential (one process, the machine's cores to torch).

Every run trains the whole budget (early stopping off: patience = epochs) and keeps its curve;
what early stopping with params' `train.patience` would have kept is read off that curve (the
run is deterministic, so stopping only truncates it). The table gives both: "early stop" (the
pipeline's result) and "full budget" (the best validation of all epochs).

    .venv/bin/dvc repro imagestore        # once: the processed data and image stores
    .venv/bin/python benchmarks/seed_study_validation.py \\
        --methods soft multisimilarity triplet quadruplet lazy_triplet triplet_huber logratio soft_sum \\
        --close-from any_traversal other_traversals --seeds 0 1 2 --out reports/seed_study

A seed is the training seed (tuple order and sampling, hard-negative cache, NetVLAD's k-means
init); the initial weights' seed stays 0, so every method starts from the same network and
offtheshelf of a seed is that network with the seed's k-means init. Each finished run is appended to <out>/runs.csv, so a killed study
continues where it stopped; <out>/table.md is rewritten after every run: per method and option
the early-stopped validation top-1 of each seed, their mean and the mean gain over offtheshelf
(points, with the smallest gain of the seeds), and the same mean gain for the full budget.
Extra `--set key=value` pairs override params `train` keys (e.g. --set lr=1e-3) for every run.

The committed results (benchmarks/results/seed_study_validation_{runs.csv,table.md}, GroupNorm
backbone, default world, 2 shared CPU cores, 17-460 s per run with the load) come from the
command above and the same with `--set lr=1e-4` into the same --out.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from softloc.config import Params, Train  # noqa: E402
from softloc.params import load_params  # noqa: E402
from softloc.training import load_train_data, train_method  # noqa: E402

CLOSE_FROM = ("other_traversals", "any_traversal")  # train.close_from's values, in the study's order
NETWORK_SEED = 0  # the initial weights of every run
FIELDS = ["method", "close_from", "seed", "overrides", "early_stop_top1", "full_budget_top1", "val_step0", "train_seconds", "val_curve"]


def early_stopped_best(curve: list[float], patience: int) -> float:
    """The best validation early stopping keeps: stop after `patience` validations without improvement."""
    best, bad = curve[0], 0
    for acc in curve[1:]:
        if acc > best:
            best, bad = acc, 0
        else:
            bad += 1
            if bad >= patience:
                break
    return best


def run_one(method: str, params: Params, train: Train, seed: int, data: Any) -> dict[str, Any]:
    """Train one method with `train` from `seed` in a scratch directory; its summary, training
    seconds, step-0 validation and validation curve."""
    with tempfile.TemporaryDirectory() as tmp:
        summary = train_method(method, params.methods[method], params.model, train, seed, data,
                               Path(tmp) / "model.pt", Path(tmp) / "reports", Path(tmp) / "resume",
                               telemetry_path=Path(tmp) / "telemetry.json", network_seed=NETWORK_SEED,
                               aggregators=params.aggregators)
        seconds = json.loads((Path(tmp) / "telemetry.json").read_text())["train_seconds"]
        rows = (Path(tmp) / "reports" / "plots" / "metrics" / "val" / "top1.tsv").read_text().splitlines()[1:]
    curve = [(int(r.split("\t")[0]), float(r.split("\t")[-1])) for r in rows]  # (step, top-1) per validation
    return {**summary, "train_seconds": seconds, "val_step0": curve[0][1],
            "val_curve": " ".join(f"{step}:{acc:.3f}" for step, acc in curve)}


def read_runs(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def write_table(runs: list[dict[str, str]], path: Path) -> None:
    """Markdown: method x option rows, early-stopped top-1 per seed, mean, mean gains over offtheshelf."""
    seeds = sorted({int(r["seed"]) for r in runs})
    base = {int(r["seed"]): float(r["early_stop_top1"]) for r in runs if r["method"] == "offtheshelf"}
    keys = sorted({(r["method"], r["close_from"], r["overrides"]) for r in runs}, key=lambda k: (k[0] != "offtheshelf", k))
    lines = ["| method | close images | overrides | " + " | ".join(f"seed {s}" for s in seeds)
             + " | mean | gain, early stop (min) | gain, full budget (min) |",
             "|---|---|---|" + "---|" * len(seeds) + "---|---|---|"]
    for method, option, overrides in keys:
        mine = [r for r in runs if (r["method"], r["close_from"], r["overrides"]) == (method, option, overrides)]
        got = {int(r["seed"]): float(r["early_stop_top1"]) for r in mine}
        full = {int(r["seed"]): float(r["full_budget_top1"]) for r in mine}
        cells = [f"{100 * got[s]:.1f}" if s in got else "" for s in seeds]
        gains = ["", ""]
        if method != "offtheshelf":
            for i, score in enumerate((got, full)):
                paired = [100 * (score[s] - base[s]) for s in score if s in base]
                gains[i] = f"{sum(paired) / len(paired):+.1f} ({min(paired):+.1f})" if paired else ""
        lines.append(f"| {method} | {option if method != 'offtheshelf' else '-'} | {overrides or '-'} | " + " | ".join(cells)
                     + f" | {100 * sum(got.values()) / len(got):.1f} | {gains[0]} | {gains[1]} |")
    path.write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", required=True)
    parser.add_argument("--close-from", nargs="+", default=list(CLOSE_FROM), choices=CLOSE_FROM)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="params train overrides")
    parser.add_argument("--out", type=Path, default=Path("reports/seed_study"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    params = load_params()
    overrides = {k: yaml.safe_load(v) for k, v in (kv.split("=", 1) for kv in args.set)}
    tag = " ".join(f"{k}={v}" for k, v in sorted(overrides.items()))
    data = load_train_data("data/processed")
    args.out.mkdir(parents=True, exist_ok=True)
    runs_path = args.out / "runs.csv"
    runs = read_runs(runs_path)
    done = {(r["method"], r["close_from"], int(r["seed"]), r["overrides"]) for r in runs}
    # seed by seed, so a partial study already compares every method and option
    plan = [run for s in args.seeds for run in [("offtheshelf", "-", s)] + [(m, c, s) for m in args.methods for c in args.close_from]]
    for method, option, seed in plan:
        run_tag = "" if method == "offtheshelf" else tag
        if (method, option, seed, run_tag) in done:
            continue
        # --set values as YAML reads them (1e-4 is a string there): validated in lax mode, so they convert
        train = Train.model_validate({**params.train.model_dump(), **({} if method == "offtheshelf" else overrides),
                                      "close_from": params.train.close_from if option == "-" else option}, strict=False)
        patience = train.patience
        train = train.model_copy(update={"patience": train.epochs + 1})  # the whole budget; early stopping read off the curve
        start = time.perf_counter()
        summary = run_one(method, params, train, seed, data)
        curve = [float(v.split(":")[1]) for v in summary["val_curve"].split()]
        row = {"method": method, "close_from": option, "seed": seed, "overrides": run_tag,
               "early_stop_top1": early_stopped_best(curve, patience), "full_budget_top1": max(curve),
               **{k: summary[k] for k in ("val_step0", "train_seconds", "val_curve")}}
        new_file = not runs_path.is_file()
        with open(runs_path, "a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=FIELDS)
            if new_file:
                writer.writeheader()
            writer.writerow(row)
        runs.append({k: str(v) for k, v in row.items()})
        write_table(runs, args.out / "table.md")
        print(f"{method:16s} {option:16s} seed {seed} {run_tag:10s} early stop {row['early_stop_top1']:.3f} "
              f"full budget {row['full_budget_top1']:.3f} (curve {row['val_curve']}) {time.perf_counter() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main()
