"""Table 2: top-1 retrieval on RobotCar Seasons / CMU Seasons, the long-term visual localization
benchmark's measure (percent of queries within (0.25 m, 2 deg), (0.5 m, 5 deg), (5 m, 10 deg)).

The benchmark keeps the query poses hidden, so for real data this table lists the submission
files to upload (the submission stage writes them) and where. Where query poses are known (the
embedded synthetic set, or the public part of a real set named by `truth`), it shows the measure
computed locally, labelled as such: per reporting group (RobotCar day / night, CMU urban /
suburban / park) and per condition, each method, the mean over seeds.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from softloc.seasons_eval import THRESHOLDS, submission_path, threshold_key

BENCHMARK_URL = "https://www.visuallocalization.net"
BENCHMARK_NAME = {"robotcar": "RobotCar Seasons (v2)", "cmu": "Extended CMU Seasons"}


def read_pose_metrics(seasons_root: Path, methods: list[str], seeds: list[int], testset: str) -> dict[str, list[dict]]:
    """Every method's pose_metrics.json (one per seed) of a test set; a missing file is an error."""
    out = {}
    for method in methods:
        out[method] = []
        for seed in seeds:
            path = seasons_root / method / f"seed{seed}" / testset / "pose_metrics.json"
            if not path.is_file():
                raise FileNotFoundError(f"{path}: no pose metrics (run the submission stage)")
            out[method].append(json.loads(path.read_text()))
    return out


def measure_table(metrics: dict[str, list[dict]], level: str, labels: dict[str, str]) -> str:
    """A markdown table of `level` (by_group | by_condition): rows methods, columns label x threshold,
    percent averaged over seeds; the best method per column in bold."""
    keys = sorted({k for runs in metrics.values() for m in runs for k in m.get(level, {})})
    columns = [(k, threshold_key(*t)) for k in keys for t in THRESHOLDS]
    values = {method: [np.mean([m[level][k][t] for m in runs]) for k, t in columns] for method, runs in metrics.items()}
    best = np.max(np.array(list(values.values())), axis=0)
    header = ["method", *[f"{k} {t.replace('m_', ' m, ').replace('deg', '°')}" for k, t in columns]]
    lines = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * len(columns)]
    for method, row in values.items():
        cells = [f"**{v:.1f}**" if round(v, 1) == round(b, 1) else f"{v:.1f}" for v, b in zip(row, best)]
        lines.append("| " + " | ".join([labels.get(method, method), *cells]) + " |")
    counts = next(iter(metrics.values()))[0][level]
    lines.append("")
    lines.append("Queries: " + ", ".join(f"{k} {counts[k]['n']}" for k in keys) + ".")
    return "\n".join(lines) + "\n"


def table2_markdown(params: dict[str, Any], seasons_root: Path, labels: dict[str, str] | None = None) -> str:
    """Table 2 for every params `testsets` entry of format `seasons` (see the module docstring)."""
    labels = labels or {}
    methods, seeds = list(params["methods"]), [int(s) for s in params.get("seeds", [0])]
    seasons = {t: c for t, c in (params.get("testsets") or {}).items() if c.get("format") == "seasons"}
    parts = ["# Table 2: RobotCar Seasons / CMU Seasons (top-1 retrieval, reference pose of the top-1 image)\n"]
    if not seasons:
        parts.append("No test set of format `seasons` in params `testsets`.\n")
    for testset, cfg in seasons.items():
        dataset = str(cfg["dataset"])
        metrics = read_pose_metrics(seasons_root, methods, seeds, testset)
        first = next(iter(metrics.values()))[0]
        parts.append(f"## {testset} ({BENCHMARK_NAME[dataset]} format)\n")
        if first.get("n_with_truth", 0):
            seed_note = f"mean of seeds {seeds}" if len(seeds) > 1 else f"seed {seeds[0]}"
            parts.append(
                f"**Local results, not benchmark results**: computed here by softloc.seasons_eval from the "
                f"{first['n_with_truth']} of {first['n_queries']} queries whose poses `{cfg.get('truth')}` gives "
                f"(the benchmark's measure: percent of queries within each position and rotation threshold; "
                f"{seed_note}; best per column in bold).\n")
            parts.append("### By reporting group\n\n" + measure_table(metrics, "by_group", labels))
            parts.append("### By condition\n\n" + measure_table(metrics, "by_condition", labels))
        prefix = "RobotCar" if dataset == "robotcar" else "CMU"
        if first.get("n_with_truth", 0) == first.get("n_queries", -1):
            parts.append("### Submission files\n\nIn the benchmark's format, for checking only: every query pose of "
                         "this set is known here, so there is nothing to upload.\n")
        else:
            parts.append(
                f"### Files to upload\n\nUpload each file at {BENCHMARK_URL} (Submission, dataset "
                f"{BENCHMARK_NAME[dataset]}); the name after `{prefix}_eval_` is the method name the benchmark "
                "shows. One line per query: `name qw qx qy qz tx ty tz` (world-to-camera, t = -R c).\n")
        parts += [f"- `{submission_path(seasons_root, m, s, testset, dataset)}`" for m in methods for s in seeds]
        parts.append("")
    return "\n".join(parts) + "\n"
