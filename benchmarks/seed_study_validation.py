"""Seed study on the VALIDATION split: which tuple sampling (and learning rate) the defaults use.

Trains each method of params.yaml for every (close-image option, seed) at the default budget and
records its best validation top-1 within `train.val_threshold_m` (10 m), the score early
stopping keeps, next to the untrained network (offtheshelf) of the same seed. The test split is
never read. Runs are sequential (one process, the machine's cores to torch).

    .venv/bin/dvc repro imagestore        # once: the processed data and image stores
    .venv/bin/python benchmarks/seed_study_validation.py \\
        --methods soft multisimilarity triplet quadruplet lazy_triplet triplet_huber logratio soft_sum \\
        --close-from any_traversal other_traversals --seeds 0 1 2 --out reports/seed_study

A seed is `train.seed` (tuple order and sampling, hard-negative cache, NetVLAD's k-means
init); `model.seed` stays fixed, so every method of one seed starts from the same network and
offtheshelf is that network. Each finished run is appended to <out>/runs.csv, so a killed study
continues where it stopped; <out>/table.md is rewritten after every run: per method and option
the best validation top-1 of each seed, their mean, and the mean gain over offtheshelf (points).
Extra `--set key=value` pairs override params `train` keys (e.g. --set lr=1e-3) for every run.
"""

from __future__ import annotations

import argparse
import csv
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from softloc.params import load_params  # noqa: E402
from softloc.train import CLOSE_FROM, load_train_data, train_method  # noqa: E402

FIELDS = ["method", "close_from", "seed", "overrides", "best_val_top1", "val_step0", "best_step", "steps", "early_stopped", "train_seconds", "val_curve"]


def run_one(method: str, params: dict[str, Any], train_cfg: dict[str, Any], data: Any) -> dict[str, Any]:
    """Train one method with `train_cfg` in a scratch directory; its summary and step-0 validation."""
    with tempfile.TemporaryDirectory() as tmp:
        summary = train_method(method, params["methods"][method], params["model"], train_cfg, data,
                               Path(tmp) / "model.pt", Path(tmp) / "reports", Path(tmp) / "resume")
        rows = (Path(tmp) / "reports" / "plots" / "metrics" / "val" / "top1.tsv").read_text().splitlines()[1:]
    curve = [(int(r.split("\t")[0]), float(r.split("\t")[-1])) for r in rows]  # (step, top-1) per validation
    return {**summary, "val_step0": curve[0][1], "val_curve": " ".join(f"{step}:{acc:.3f}" for step, acc in curve)}


def read_runs(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def write_table(runs: list[dict[str, str]], path: Path) -> None:
    """Markdown: method x option rows, one column per seed, the mean and the mean gain over offtheshelf."""
    seeds = sorted({int(r["seed"]) for r in runs})
    base = {int(r["seed"]): float(r["best_val_top1"]) for r in runs if r["method"] == "offtheshelf"}
    keys = sorted({(r["method"], r["close_from"], r["overrides"]) for r in runs}, key=lambda k: (k[0] != "offtheshelf", k))
    lines = ["| method | close images | overrides | " + " | ".join(f"seed {s}" for s in seeds) + " | mean | gain over offtheshelf (points) |",
             "|---|---|---|" + "---|" * len(seeds) + "---|---|"]
    for method, option, overrides in keys:
        got = {int(r["seed"]): float(r["best_val_top1"]) for r in runs if (r["method"], r["close_from"], r["overrides"]) == (method, option, overrides)}
        cells = [f"{100 * got[s]:.1f}" if s in got else "" for s in seeds]
        mean = sum(got.values()) / len(got)
        paired = [100 * (got[s] - base[s]) for s in got if s in base]
        gain = f"{sum(paired) / len(paired):+.1f} (min {min(paired):+.1f})" if paired and method != "offtheshelf" else ""
        lines.append(f"| {method} | {option if method != 'offtheshelf' else '-'} | {overrides or '-'} | " + " | ".join(cells) + f" | {100 * mean:.1f} | {gain} |")
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
    plan = [("offtheshelf", "-", s) for s in args.seeds]
    plan += [(m, c, s) for m in args.methods for c in args.close_from for s in args.seeds]
    for method, option, seed in plan:
        run_tag = "" if method == "offtheshelf" else tag
        if (method, option, seed, run_tag) in done:
            continue
        train_cfg = {**params["train"], **({} if method == "offtheshelf" else overrides), "seed": seed,
                     "close_from": params["train"]["close_from"] if option == "-" else option}
        start = time.perf_counter()
        summary = run_one(method, params, train_cfg, data)
        row = {"method": method, "close_from": option, "seed": seed, "overrides": run_tag,
               **{k: summary[k] for k in ("best_val_top1", "val_step0", "best_step", "steps", "early_stopped", "train_seconds", "val_curve")}}
        new_file = not runs_path.is_file()
        with open(runs_path, "a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=FIELDS)
            if new_file:
                writer.writeheader()
            writer.writerow(row)
        runs.append({k: str(v) for k, v in row.items()})
        write_table(runs, args.out / "table.md")
        print(f"{method:16s} {option:16s} seed {seed} {run_tag:10s} best {row['best_val_top1']:.3f} "
              f"(step 0 {row['val_step0']:.3f}, best step {row['best_step']}/{row['steps']}) {time.perf_counter() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main()
