"""Table 1 and its companions as grids (markdown and HTML from one model).

- Table 1: accuracy (%) per test set, condition and threshold, and the mean over conditions; the
  mean over seeds with its standard deviation when there are several; best row per column in
  bold. Its companion (comparison_grid), a second table so that each fits a 1,400 px window: the
  mean at the headline threshold with its interval, each row's paired gain over the untrained
  network (params report.baseline), its validation top-1 before and after training (a row below the
  untrained network shows where validation and test disagree), whether early stopping kept the
  initial weights (best_step 0), and the reference method's paired difference. Differences carry
  their 95% block-bootstrap interval ("*" where it excludes 0, "within noise" where it does not).
  A row of identical methods has a short name (names.merged_name) and its members in a footnote.
- Intervals: every row's accuracy per condition at the headline threshold with its interval.
- Recall@N within the recall radius, for test sets whose summary has it.
- Test sets: data source and per-condition query / reference counts.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from softloc.config import Method, Model, Testset
from softloc.metrics import MEAN
from softloc.report.analysis import Column, Table1, key_distance
from softloc.report.grid import Grid
from softloc.report.names import cited_name, merged_name
from softloc.report.results import Results

UPPER_BOUND = "upper bound"
KEPT_INIT = "†"
KEPT_INIT_NOTE = ("† no validation gain over the initial network in every seed (†n/N: in n of N seeds): early "
                  "stopping kept the initial weights.")


def kept_initial(results: Results, methods: Mapping[str, Method]) -> dict[str, str]:
    """Trained methods whose best validation was step 0 (the initial network): method -> mark."""
    marks = {}
    for m in results.methods:
        if methods[m].loss == "none":
            continue
        kept = sum(int(results.training[(m, s)].metrics.get("best_step", -1)) == 0 for s in results.seeds)
        if kept:
            marks[m] = KEPT_INIT if kept == len(results.seeds) else f"{KEPT_INIT}{kept}/{len(results.seeds)}"
    return marks


def method_label(method: str, cfg: Method, model: Model, marks: dict[str, str]) -> str:
    """"Multi-similarity [Wang et al. 2019] (multisimilarity)", with † where early stopping kept the init."""
    mark = f" {marks[method]}" if method in marks else ""
    return f"{cited_name(cfg, model)} ({method}){mark}"


def kept_set(marks: dict[str, str]) -> set[str]:
    """Methods that kept their initial weights in every seed (mark † without a count)."""
    return {m for m, mark in marks.items() if mark == KEPT_INIT}


def row_labels(table: Table1, methods: Mapping[str, Method], model: Model, marks: dict[str, str]) -> dict[str, str]:
    """One label per row; a row of identical methods gets a short merged name (names.merged_name),
    its members are listed by `merged_notes`."""
    labels = {}
    for row, members in table.groups.items():
        labels[row] = (method_label(row, methods[row], model, marks) if len(members) == 1
                       else merged_name(members, methods, kept_set(marks)))
    return labels


def merged_notes(table: Table1, labels: dict[str, str], methods: Mapping[str, Method], model: Model,
                 marks: dict[str, str]) -> list[str]:
    """The footnote of every merged row: its name, then every member under its full name."""
    return [f"{labels[row]}: these methods retrieved the same reference for every query in every run, so they are "
            f"one row: " + "; ".join(method_label(m, methods[m], model, marks) for m in members) + "."
            for row, members in table.groups.items() if len(members) > 1]


def kept_cells(table: Table1, results: Results, methods: Mapping[str, Method]) -> dict[str, str]:
    """Per row, whether early stopping kept the initial weights (reports/train/<m>/seed<s>/metrics.json
    best_step 0): "yes" in every seed of every trained member, "n/N seeds", "no", or "untrained"."""
    cells = {}
    n = len(results.seeds)
    for row, members in table.groups.items():
        trained = [m for m in members if methods[m].loss != "none"]
        if not trained:
            cells[row] = "untrained"
            continue
        kept = min(sum(int(results.training[(m, s)].metrics.get("best_step", -1)) == 0 for s in results.seeds)
                   for m in trained)
        cells[row] = "yes" if kept == n else ("no" if kept == 0 else f"{kept}/{n} seeds")
    return cells


def column_label(column: Column, single_testset: bool) -> str:
    testset, condition = column
    if condition == MEAN:
        return "mean"
    if single_testset or condition == testset:
        return condition
    return f"{testset}: {condition}"


def threshold_label(key: str) -> str:
    """"at_05m" -> "5 m", "at_07.5m" -> "7.5 m"."""
    return f"{key_distance(key):g} m"


def _cell(mean: float, sd: float) -> str:
    if not np.isfinite(mean):
        return "–"
    return f"{mean:.1f}" if not np.isfinite(sd) else f"{mean:.1f} ±{sd:.1f}"


def _signed(x: float) -> str:
    return f"{x:+.1f}".replace("-", "−")


def paired_cell(pairs: pd.DataFrame | None, own_row: str | None, row: str, own_label: str) -> str:
    """`row`'s paired difference (percentage points) with its interval; `own_label` in the row the
    differences are taken against; "–" without intervals or without that row."""
    if pairs is None or own_row is None:
        return "–"
    if row == own_row:
        return own_label
    d = pairs.set_index("method").loc[row]
    text = f"{_signed(d['estimate'])} [{_signed(d['low'])}, {_signed(d['high'])}]"
    return f"{text} *" if d["excludes_zero"] else f"{text} within noise"


def difference_cell(table: Table1, row: str) -> str:
    """The reference's paired difference against `row` (reference minus row)."""
    pairs = table.intervals.difference if table.intervals is not None else None
    return paired_cell(pairs, table.reference, row, "reference")


def gain_cell(table: Table1, row: str) -> str:
    """`row` minus the untrained baseline row: what training gained on the test."""
    pairs = table.intervals.gain if table.intervals is not None else None
    return paired_cell(pairs, table.baseline, row, "baseline")


def validation_cell(table: Table1, row: str) -> str:
    """Validation top-1 (%) of the initial network -> of the weights early stopping kept."""
    initial, kept = table.validation.loc[row, ["initial", "kept"]]
    if not np.isfinite(initial) or not np.isfinite(kept):
        return "–"
    return f"{initial:.1f} → {kept:.1f}"


def table1_grid(table: Table1, labels: dict[str, str], single_testset: bool) -> Grid:
    """Table 1, accuracy: rows, then the upper bound; bold: the best row per column (as printed)."""
    cols = [(t, c, k) for t, c in table.columns for k in table.thresholds]
    headers = [[column_label((t, c), single_testset) for t, c, _ in cols],
               [threshold_label(k) for _, _, k in cols]]
    grid = Grid("method", headers)
    printed = table.mean[cols].round(1)
    best = printed.eq(printed.max(axis=0), axis=1)
    for row in table.groups:
        grid.add(labels[row], [_cell(table.mean.at[row, c], table.sd.at[row, c]) for c in cols],
                 best.loc[row].tolist())
    grid.add(f"({UPPER_BOUND})", [f"{table.upper_bound[c]:.1f}" for c in cols])
    return grid


def comparison_grid(table: Table1, labels: dict[str, str], kept: dict[str, str]) -> Grid:
    """Table 1, continued: per row the mean at the headline threshold with its interval, the paired
    gain over the untrained network, validation top-1 before and after training, whether early
    stopping kept the initial weights, and the reference method's paired difference."""
    headline = threshold_label(table.headline)
    diff = f"Δ mean {headline} [95%]"
    grid = Grid("method", [[f"mean {headline}", f"row − {table.baseline_method}" if table.baseline else "gain",
                            "validation top-1", "kept initial weights",
                            f"{table.reference} − row" if table.reference else "difference"],
                           ["[95%]", diff, "initial → kept", "(best step 0)", diff]])
    for row in table.groups:
        grid.add(labels[row], [mean_cell(table, row), gain_cell(table, row), validation_cell(table, row),
                               kept[row], difference_cell(table, row)])
    return grid


def mean_cell(table: Table1, row: str) -> str:
    """The row's mean over conditions at the headline threshold, with its interval when there is one."""
    mean = table.mean.at[row, ("", MEAN, table.headline)]
    if table.intervals is None:
        return _cell(mean, table.sd.at[row, ("", MEAN, table.headline)])
    r = table.intervals.accuracy.set_index(["method", "testset", "condition"]).loc[(row, "", MEAN)]
    return f"{r['estimate']:.1f} [{r['low']:.1f}, {r['high']:.1f}]"


def intervals_grid(table: Table1, labels: dict[str, str], single_testset: bool) -> Grid:
    """Each row's accuracy at the headline threshold with its 95% block-bootstrap interval."""
    acc = table.intervals.accuracy.set_index(["method", "testset", "condition"])
    grid = Grid("method", [[column_label(c, single_testset) for c in table.columns]])
    for row in table.groups:
        cells = []
        for t, c in table.columns:
            r = acc.loc[(row, t, c)]
            cells.append(f"{r['estimate']:.1f} [{r['low']:.1f}, {r['high']:.1f}]")
        grid.add(labels[row], cells)
    return grid


def recall_grid(results: Results, table: Table1, labels: dict[str, str]) -> Grid | None:
    """Recall@N (%) within the recall radius per test set that has it, mean over seeds."""
    keyed = []
    for t in results.testsets:
        recall = results.run(results.methods[0], results.seeds[0], t).summary.get("recall") or {}
        keyed += [(t, k) for k in sorted(recall)]
    if not keyed:
        return None
    radius = results.run(results.methods[0], results.seeds[0], keyed[0][0]).summary.get("recall_radius_m", "?")
    grid = Grid("method", [[t for t, _ in keyed], [f"R@{int(k[3:])} ({radius:g} m)" if isinstance(radius, float)
                                                   else f"R@{int(k[3:])}" for _, k in keyed]])
    for row in table.groups:
        cells = [f"{100 * np.mean([results.run(row, s, t).summary['recall'][k] for s in results.seeds]):.1f}"
                 for t, k in keyed]
        grid.add(labels[row], cells)
    return grid


def testsets_grid(results: Results, testsets: Mapping[str, Testset]) -> Grid:
    """Per test set: format, split source, references, and queries per condition."""
    grid = Grid("test set", [["format", "split", "references", "queries per condition",
                              "queries without position", "testset stage counts"]], align_left=True)
    for t in results.testsets:
        cfg = testsets[t]
        summary = results.run(results.methods[0], results.seeds[0], t).summary
        per_condition = ", ".join(f"{c} {n}" for c, n in sorted((summary.get("n_queries") or {}).items()))
        if not isinstance(summary.get("n_queries"), dict):
            per_condition = f"{summary.get('n_queries', '?')} (positions withheld)"
        grid.add(t, [cfg.format, cfg.split, str(summary.get("n_reference", "?")),
                     per_condition, str(summary.get("n_queries_position_unknown", 0)),
                     _flat(results.testset_counts.get(t, {})) or "–"])
    return grid


def _flat(counts: dict[str, Any], prefix: str = "") -> str:
    """reports/testsets/<t>.json in one line, its scalar leaves with dotted keys:
    "queries.images 432; reference.images 1032" (lists such as array shapes are left out)."""
    parts = []
    for key, value in counts.items():
        if isinstance(value, dict):
            inner = _flat(value, f"{prefix}{key}.")
            parts += [inner] if inner else []
        elif not isinstance(value, list):
            parts.append(f"{prefix}{key} {value}")
    return "; ".join(parts)
