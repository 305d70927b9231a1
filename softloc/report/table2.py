"""Table 2: top-1 retrieval on RobotCar Seasons / CMU Seasons, the long-term visual localization
benchmark's measure (percent of queries within (0.25 m, 2 deg), (0.5 m, 5 deg), (5 m, 10 deg)).

The benchmark keeps the query poses hidden, so for real data the table lists the submission
files to upload (the submission stage writes them) and where. Where query poses are known (the
embedded synthetic set, or the public part of a real set named by `truth`), it shows the measure
computed locally, labelled as such: per reporting group (RobotCar day / night, CMU urban /
suburban / park) and per condition, each method, the mean over seeds. One report Section per
Seasons test set (grids render as markdown and HTML).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping

import numpy as np

from softloc.config import Testset
from softloc.report.grid import Grid
from softloc.report.page import Section
from softloc.seasons_eval import THRESHOLDS, seasons_testsets, submission_path, threshold_key

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


def measure_grid(metrics: dict[str, list[dict]], level: str, labels: dict[str, str]) -> Grid:
    """Rows methods, columns (group or condition, threshold) of `level` (by_group | by_condition):
    percent averaged over seeds, the best method per column (as printed) in bold."""
    keys = sorted({k for runs in metrics.values() for m in runs for k in m.get(level, {})})
    columns = [(k, threshold_key(*t)) for k in keys for t in THRESHOLDS]
    counts = next(iter(metrics.values()))[0][level]
    grid = Grid("method", [[f"{k} ({counts[k]['n']} queries)" for k, _ in columns],
                           [f"{m:g} m, {d:g}°" for k in keys for m, d in THRESHOLDS]])
    values = np.array([[np.mean([m[level][k][t] for m in runs]) for k, t in columns] for runs in metrics.values()])
    shown = np.round(values, 1)
    for method, row, printed in zip(metrics, values, shown):
        grid.add(labels.get(method, method), [f"{v:.1f}" for v in row], list(printed == shown.max(axis=0)))
    return grid


def table2_sections(methods: list[str], seeds: list[int], testsets: Mapping[str, Testset], seasons_root: Path,
                    labels: dict[str, str] | None = None) -> list[Section]:
    """Table 2's sections, one per `testsets` entry of format `seasons` (none: no section), each
    over `methods` x `seeds` (params order)."""
    labels = labels or {}
    sections = []
    for testset, cfg in seasons_testsets(testsets).items():
        dataset = cfg.dataset
        metrics = read_pose_metrics(seasons_root, methods, seeds, testset)
        first = next(iter(metrics.values()))[0]
        files = Grid("method", [["seed", "submission file (benchmark format)"]], align_left=True)
        for m in methods:
            for s in seeds:
                files.add(labels.get(m, m), [str(s), str(submission_path(seasons_root, m, s, testset, dataset))])
        title = f"Table 2: {testset} ({BENCHMARK_NAME[dataset]} format)"
        upload = (f"Upload each file at {BENCHMARK_URL} (Submission, dataset {BENCHMARK_NAME[dataset]}); the "
                  "name after _eval_ is the method name the benchmark shows. One line per query: name qw qx qy "
                  "qz tx ty tz (world-to-camera rotation, translation t = -R c).")
        if not first.get("n_with_truth", 0):
            sections.append(Section(title, "Top-1 retrieval: each query gets the pose of its top-1 reference "
                                    "image (same camera). The query poses are the benchmark's hidden truth: "
                                    + upload, [files], [], []))
            continue
        seed_note = f"mean of seeds {seeds}" if len(seeds) > 1 else f"seed {seeds[0]}"
        local_only = first["n_with_truth"] == first["n_queries"]
        text = (f"LOCAL RESULTS, NOT BENCHMARK RESULTS: the benchmark's measure (percent of queries within both "
                f"the position and the rotation threshold of their true pose) computed here by "
                f"softloc.seasons_eval on the {first['n_with_truth']} of {first['n_queries']} queries whose poses "
                f"{cfg.truth} gives; top-1 retrieval within each camera, the query takes its top-1 "
                f"reference's pose; {seed_note}; best per column in bold. First by the benchmark's reporting "
                f"group, then by condition.")
        note = ("The submission files are in the benchmark's format for checking only: every query pose of this "
                "set is known here, nothing to upload." if local_only else upload)
        sections.append(Section(title, text, [measure_grid(metrics, "by_group", labels),
                                              measure_grid(metrics, "by_condition", labels), files], [], [note]))
    return sections
