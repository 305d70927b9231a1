"""reports/metrics.json: the pipeline's one DVC metrics file, compact enough to read in
`dvc exp show` and `dvc metrics diff` (the details stay in the report's tables, files and plots).

Per method (the params `methods` key), mean over seeds:

    mean          top-1 localized (%) within evaluate.headline_m, mean over the conditions of
                  the test sets of report.table1 (Table 1's mean column)
    night         the same for the night condition (when a Table 1 test set has one)
    recall1       recall@1 (%) within evaluate.recall_radius_m, mean over those test sets
    kept_initial  training kept the initial network (best validation at step 0): a bool with one
                  seed, the share of seeds with several; absent for an untrained method
    best_step     the step whose weights training kept (mean over seeds); absent when untrained

kept_initial says when a "gain" is the initial network kept by early stopping. Methods that
retrieved identical references share Table 1's row, and so its numbers. The keys are in no other
metrics file, so DVC prints them without the file path.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from softloc.config import Method
from softloc.report.analysis import Table1
from softloc.report.results import Results

NIGHT = "night"


def compact_metrics(results: Results, table: Table1, methods: Mapping[str, Method]) -> dict[str, Any]:
    """{method: {"mean", "night", "recall1", "kept_initial", "best_step"}}, as the docstring says."""
    out: dict[str, Any] = {}
    night = [c for c in table.columns if c[1] == NIGHT]
    for row, members in table.groups.items():
        values: dict[str, Any] = {"mean": round(float(table.mean.at[row, ("", "mean", table.headline)]), 2)}
        if len(night) == 1:
            values[NIGHT] = round(float(table.mean.at[row, (*night[0], table.headline)]), 2)
        recall = recall_at_1(results, row)
        if recall is not None:
            values["recall1"] = recall
        for m in members:
            out[m] = {**values, **training_facts(results, m, methods[m])}
    return {m: out[m] for m in results.methods}


def recall_at_1(results: Results, method: str) -> float | None:
    """Recall@1 (%) of `method`, mean over the localized test sets and seeds (None: none has it)."""
    values = [results.run(method, s, t).summary["recall"]["at_01"]
              for t in results.localized_testsets() for s in results.seeds
              if "at_01" in (results.run(method, s, t).summary.get("recall") or {})]
    return round(100.0 * float(np.mean(values)), 2) if values else None


def training_facts(results: Results, method: str, cfg: Method) -> dict[str, Any]:
    """kept_initial and best_step of a trained method over its seeds; {} for an untrained one."""
    if cfg.loss == "none":
        return {}
    steps = [int(results.training[(method, s)].metrics.get("best_step", -1)) for s in results.seeds]
    if min(steps) < 0:
        raise ValueError(f"reports/train/{method}: a seed's metrics.json has no best_step; rerun its train stage")
    kept = [step == 0 for step in steps]
    return {"kept_initial": kept[0] if len(kept) == 1 else round(float(np.mean(kept)), 2),
            "best_step": steps[0] if len(steps) == 1 else round(float(np.mean(steps)), 1)}
