"""Table 1's numbers: mean and spread over seeds, bootstrap intervals, identical rows merged.

Columns are (test set, condition) for every test set with query positions, then the mean over
all of them (the paper's mean: unweighted over conditions; a single-condition test set such as
Pittsburgh is one more column). Methods whose runs retrieved exactly the same references
(early stopping kept the initial network) are one row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from softloc.config import Bootstrap, Report
from softloc.metrics import MEAN
from softloc.report.results import Results, correct_at, identical_groups
from softloc.stats import BlockLength, Intervals, Outcomes, bootstrap_accuracy, choose_block_length, grid_blocks

Column = tuple[str, str]   # (test set, condition); ("", "mean") for the mean over all


@dataclass(frozen=True)
class Table1:
    """Accuracy in percent: `mean`/`sd` indexed by row (a group's first method), columns
    MultiIndex (test set, condition, threshold key). sd is NaN with one seed."""

    columns: list[Column]
    thresholds: list[str]
    groups: dict[str, list[str]]          # row method -> every method of the row, params order
    mean: pd.DataFrame
    sd: pd.DataFrame
    upper_bound: pd.Series
    intervals: Intervals | None           # at the headline threshold, rows' methods
    reference: str | None                 # the row every other is compared with
    baseline: str | None                  # the untrained network's row: each row's gain over it
    baseline_method: str | None           # params report.baseline (the row may be named for an identical method)
    headline: str
    block_lengths: dict[str, BlockLength]  # test set -> Politis-White choice and its correlogram
    block_m: dict[str, float]             # test set -> block length used (params report.bootstrap.block_m or chosen)
    n_seeds: int
    validation: pd.DataFrame              # row -> "initial", "kept": validation top-1 (%), mean over seeds
    outcomes: tuple[Outcomes, ...] = ()   # per test set: the queries' blocks and each row's correctness


def accuracy_columns(results: Results) -> list[Column]:
    """(test set, condition) of every localized test set, then the overall mean."""
    return [(t, c) for t in results.localized_testsets() for c in results.conditions(t)] + [("", MEAN)]


def seed_table(results: Results, method: str, seed: int, columns: list[Column], keys: list[str],
               field: str = "accuracy") -> pd.Series:
    """One run's accuracy (or upper bound) in percent per (test set, condition, threshold key);
    the mean column is the unweighted mean over every condition column."""
    values = {}
    for key in keys:
        per_condition = []
        for t, c in columns[:-1]:
            value = 100.0 * float(results.run(method, seed, t).summary[field][key][c])
            values[(t, c, key)] = value
            per_condition.append(value)
        values[("", MEAN, key)] = float(np.mean(per_condition))
    return pd.Series(values)


def build_table1(results: Results, headline_m: float, report: Report) -> Table1:
    """Seed means and spreads of every row, the upper bound, and the bootstrap intervals at
    `headline_m` (params evaluate.headline_m); `report` says the reference and baseline rows."""
    columns = accuracy_columns(results)
    first = results.run(results.methods[0], results.seeds[0], columns[0][0]).summary["accuracy"]
    keys = sorted(first, key=key_distance)
    headline = next((k for k in keys if key_distance(k) == headline_m), None)
    if headline is None:
        raise ValueError(f"evaluate.headline_m {headline_m:g}: no such threshold in the summaries ({keys})")
    groups = {g[0]: g for g in identical_groups(results)}
    per_seed = {m: pd.DataFrame([seed_table(results, m, s, columns, keys) for s in results.seeds])
                for m in groups}
    mean = pd.DataFrame({m: t.mean(axis=0) for m, t in per_seed.items()}).T
    sd = pd.DataFrame({m: t.std(axis=0, ddof=1) if len(t) > 1 else t.iloc[0] * np.nan
                       for m, t in per_seed.items()}).T
    bound = seed_table(results, results.methods[0], results.seeds[0], columns, keys, field="upper_bound")
    reference = reference_row(groups, report.reference)
    baseline = reference_row(groups, report.baseline)
    intervals, chosen, used, outcomes = None, {}, {}, []
    if len(columns) > 1:
        intervals, chosen, used, outcomes = bootstrap_rows(results, list(groups), reference, baseline,
                                                           report.bootstrap, headline_m)
    return Table1(columns, keys, groups, mean, sd, bound, intervals, reference, baseline,
                  report.baseline if baseline else None, headline,
                  chosen, used, len(results.seeds), validation_table(results, list(groups)), tuple(outcomes))


def validation_table(results: Results, rows: list[str]) -> pd.DataFrame:
    """Per row, mean over seeds: validation top-1 (%) of the initial network (step 0) and of the
    weights early stopping kept (its best step). What training changed on the validation split,
    beside what it changed on the test: the two can disagree. NaN where a run logged none."""
    table = {}
    for row in rows:
        initial, kept = [], []
        for seed in results.seeds:
            run = results.training[(row, seed)]
            curves = None if run.curves is None else run.curves.dropna(subset=["val_top1"])
            val = pd.Series(dtype=float) if curves is None else curves.set_index("step")["val_top1"]
            initial.append(100.0 * float(val.get(0, np.nan)))
            kept.append(100.0 * float(val.get(int(run.metrics.get("best_step", -1)), np.nan)))
        table[row] = {"initial": float(np.mean(initial)), "kept": float(np.mean(kept))}
    return pd.DataFrame.from_dict(table, orient="index", columns=["initial", "kept"])


def key_distance(key: str) -> float:
    """The distance of a summary threshold key: "at_05m" -> 5.0, "at_07.5m" -> 7.5."""
    return float(key.removeprefix("at_").removesuffix("m"))


def reference_row(groups: dict[str, list[str]], method: str | None) -> str | None:
    """The row holding `method` (the reference or the baseline; None when params has no such method)."""
    return next((row for row, members in groups.items() if method in members), None)


def bootstrap_rows(results: Results, rows: list[str], reference: str | None, baseline: str | None,
                   cfg: Bootstrap, headline_m: float
                   ) -> tuple[Intervals, dict[str, BlockLength], dict[str, float], list[Outcomes]]:
    """Block-bootstrap intervals at the headline threshold for every row, the reference row's
    paired difference against every other row and every row's paired gain over the baseline row
    (softloc.stats, as params report.bootstrap says); with the block lengths. The block length is
    chosen from the reference and baseline rows' correctness (every row's when params names
    neither), so that a change to another method does not move the blocks, and with them every
    other row's interval. The per-test-set outcomes come back too (softloc.report.verdict reuses them)."""
    anchors = [r for r in dict.fromkeys((reference, baseline)) if r in rows] or rows
    outcomes, blocks, used = [], {}, {}
    for t in results.localized_testsets():
        correct = {m: np.stack([correct_at(results.run(m, s, t), headline_m) for s in results.seeds])
                   for m in rows}
        retrievals = results.run(rows[0], results.seeds[0], t).retrievals
        known = np.isfinite(retrievals["error_m"].to_numpy(np.float64))
        queries = results.queries[t].iloc[retrievals["query"].to_numpy()[known]]
        east, north = queries["easting"].to_numpy(), queries["northing"].to_numpy()
        conditions = retrievals["condition"].to_numpy(str)[known]
        blocks[t] = choose_block_length(east, north, conditions, np.concatenate([correct[r] for r in anchors]))
        used[t] = cfg.block_m if cfg.block_m is not None else blocks[t].block_m
        outcomes.append(Outcomes(t, grid_blocks(east, north, used[t]), conditions, correct))
    intervals = bootstrap_accuracy(outcomes, reference, confidence=cfg.confidence,
                                   n_resamples=cfg.resamples, seed=cfg.seed, baseline=baseline)
    return intervals, blocks, used, outcomes
