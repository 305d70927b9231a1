"""The report stage: the paper's Table 1 (with seeds and intervals), Figures 1 and 4, training
curves, DVC plot data and one HTML page, from every (method, seed, test set) evaluation.

    reports/table1.md            Table 1, intervals, recall@N, test sets, provenance
    reports/index.html           the same with every figure and the params; checks its own freshness
    reports/figures/*.png        softloc.report.figures
    reports/plots/*.csv          data of the DVC plots (softloc.report.plotdata)
    reports/report_inputs.json   every file read with its SHA-256 (`python -m softloc.report --check`)
    reports/metrics.json         the one DVC metric, compact: per method mean, night, recall@1,
                                 kept_initial, best_step (softloc.report.dvc_metrics)

Table 1 holds the test sets of params report.table1 (the paper: RobotCar and Pittsburgh); the
Seasons sets have Table 2. Figures 2 and 3 and the image lists come from their own stages.

Modules: results (reading the layout), analysis (seed statistics, intervals), table1 (tables),
table2, figure2, figure3, lists, figures, plotdata, page (markdown and HTML), provenance (git,
paper settings, freshness), names.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Mapping

from softloc.config import Params, Testset
from softloc.io import read_parquet, write_json, write_text
from softloc.report import figures
from softloc.report.analysis import Table1, build_table1
from softloc.report.dvc_metrics import compact_metrics
from softloc.report.figure2 import figure2_section
from softloc.report.figure3 import FIGURE3_DIR, figure3_section
from softloc.report.lists import lists_section, read_testsets
from softloc.report.names import paper_name, references
from softloc.report.page import Section, html_page, markdown_page, params_text, provenance_lines
from softloc.report.plotdata import write_plot_data
from softloc.report.provenance import MANIFEST, git_state, paper_differences, write_manifest_text
from softloc.report.results import Inputs, Results, read_results
from softloc.report.table1 import (KEPT_INIT_NOTE, column_label, comparison_grid, intervals_grid, kept_cells,
                                   kept_initial, merged_notes, recall_grid, row_labels, table1_grid, testsets_grid,
                                   threshold_label)
from softloc.report.table2 import table2_sections
from softloc.report.verdict import ranking_sentence
from softloc.schemas import SPLIT_IMAGES

log = logging.getLogger(__name__)

TITLE = "softloc: localization accuracy"
CHECK_COMMAND = "python -m softloc.report --check"
FIGURES = {
    "curves": "figures/accuracy_curves.png",
    "variants": "figures/influence_variants.png",
    "influence": "figures/influence_functions.png",
    "training": "figures/training_curves.png",
    "blocks": "figures/block_length.png",
}


def build_report(params: Params, root: Path = Path(".")) -> dict[str, Path]:
    """Read every run under `root` (the project; `params` is its params.yaml, which the page also
    shows as written), write the report under root/reports; returns the paths written."""
    out = root / "reports"
    inputs = Inputs(root)
    results = read_results(root, list(params.methods), list(params.seeds), list(params.report.table1), inputs)
    table = build_table1(results, params.evaluate.headline_m, params.report)
    marks = kept_initial(results, params.methods)
    labels = row_labels(table, params.methods, params.model, marks)
    single = len(results.localized_testsets()) == 1
    titles = [column_label(c, single) if c[1] != "mean" else "mean over conditions" for c in table.columns]
    short = {m: paper_name(params.methods[m], params.model) + (f" {marks[m]}" if m in marks else "")
             for m in results.methods}
    row_short = {row: short[row] if len(members) == 1 else labels[row] for row, members in table.groups.items()}
    footnotes = merged_notes(table, labels, params.methods, params.model, marks)
    variants = {m: short[m] for m in params.report.variants if m in params.methods}

    paths = {k: out / v for k, v in FIGURES.items()}
    curves, bound = figures.accuracy_curves(results, table.columns)
    figures.plot_accuracy_curves(curves, bound, results.methods, row_short, table.columns, titles, table.reference,
                                 paths["curves"], "Accuracy over the distance threshold (Figure 4, top)")
    figures.plot_accuracy_curves(curves, bound, results.methods, variants, table.columns, titles, table.reference,
                                 paths["variants"],
                                 "Soft contrastive loss: influence functions and combination (Figure 4, bottom)")
    figures.plot_influence_functions(*figures.influence_loss(params.methods, params.report.influence_method),
                                     paths["influence"])
    figures.plot_training_curves(results, short, table.reference, paths["training"])
    figures.plot_block_length(table.block_lengths, table.block_m, paths["blocks"])
    # DVC plots: one line per method under its params key, a label that stays the same across
    # revisions, so `dvc plots diff` pairs the lines of a method even when its rank or † changes.
    keys = {m: m for m in results.methods}
    paths.update(write_plot_data(out, results, curves, bound, keys, {m: m for m in variants}, table.columns, titles,
                                 keys))

    sections = [Section("The paper's ranking", ranking_sentence(table, list(params.report.ranking), params.report.bootstrap),
                        [], [], [])]
    sections += report_sections(results, table, labels, marks, single, params.testsets, params.report.variants,
                                kept_cells(table, results, params.methods), footnotes)
    sections += table2_sections(list(params.methods), list(params.seeds), params.testsets, out / "seasons", short)
    train = read_parquet(inputs.path("data/processed/train_images.parquet"), SPLIT_IMAGES)
    sections.append(figure2_section(train, read_testsets(list(params.testsets), root / "data/testsets"), out))
    sections.append(figure3_section(out))
    sections.append(lists_section(out / "lists", out))
    for stage_output in ("seasons", FIGURE3_DIR, "lists"):   # what the later stages wrote, for --check
        for path in sorted((out / stage_output).rglob("*")):
            if path.is_file():
                inputs.path(path.relative_to(root))
    git = git_state(root)
    provenance = provenance_lines(git, params.data.raw_root, params.seeds, paper_differences(params))
    manifest = write_manifest_text(inputs.hashes)
    paths["table"], paths["index"], paths["manifest"] = out / "table1.md", out / "index.html", root / MANIFEST
    paths["metrics"] = out / "metrics.json"
    write_json(compact_metrics(results, table, params.methods), paths["metrics"])
    cited = references(params.methods)
    write_text(markdown_page(TITLE, git, provenance, sections, cited, CHECK_COMMAND), paths["table"])
    write_text(html_page(TITLE, git, provenance, sections, cited, params_text(root / "params.yaml"), manifest,
                         CHECK_COMMAND), paths["index"])
    write_text(manifest, paths["manifest"])
    return paths


def report_sections(results: Results, table: Table1, labels: dict[str, str], marks: dict[str, str], single: bool,
                    testsets: Mapping[str, Testset], variants: list[str], kept: dict[str, str],
                    footnotes: list[str]) -> list[Section]:
    """The page's sections in order. Table 1 is two tables (accuracy; then intervals, gains and
    validation), each narrow enough for a 1,400 px window; `footnotes` list each merged row's methods
    under the tables and figures that name the row."""
    headline = threshold_label(table.headline)
    seeds = (f"mean ± standard deviation over {table.n_seeds} seeds" if table.n_seeds > 1
             else "one seed")
    notes = [KEPT_INIT_NOTE] if marks else []
    notes += footnotes
    sections = [Section(
        "Table 1: localization accuracy (%)",
        f"A query is localized when its top-1 retrieved reference lies within d metres. Per test set and query "
        f"condition, and the mean over all conditions (a single-condition test set counts as one condition); "
        f"{seeds}; best row per column in bold; the upper bound counts queries whose nearest reference lies "
        f"within d. The intervals, gains and validation are in the next table.",
        [table1_grid(table, labels, single)], [], notes)]
    explained = []
    if table.intervals is not None and table.baseline:
        explained.append(f"Gain: the row minus the untrained network ({table.baseline_method}), paired block "
                         f"bootstrap over the same queries and seeds: what training gained on the test.")
    explained.append(f"Validation top-1: at {headline} on the validation split, the initial network (step 0) and "
                     f"the weights early stopping kept (whitened descriptors, as the test, mean over seeds); a row that validated "
                     f"above its initial network yet tests below the untrained one is where validation and test "
                     f"disagree. Kept initial weights: the training's best validation was step 0 "
                     f"(reports/train/<method>/seed<s>/metrics.json best_step), so the model is the initial network.")
    if table.intervals is not None and table.reference:
        explained.append(f"Last column: {table.reference} minus the row, paired block bootstrap over the same "
                         f"queries and seeds; * the 95% interval excludes 0, \"within noise\" it does not.")
    sections.append(Section(
        f"Table 1 (continued): intervals, gains and validation at {headline}",
        f"Mean accuracy over conditions at {headline} ({seeds}) with its 95% block-bootstrap interval, and what "
        f"training changed. " + " ".join(explained), [comparison_grid(table, labels, kept)], [], list(footnotes)))
    if table.intervals is not None:
        blocks = "; ".join(f"{t}: {table.block_m[t]:.1f} m (query spacing {b.spacing_m:.2f} m, correlation "
                           f"insignificant after {b.m_hat} spacings)" for t, b in table.block_lengths.items())
        sections.append(Section(
            f"95% intervals at {headline}",
            f"Accuracy at {headline} with its 95% BCa interval from a block bootstrap over queries "
            f"({table.intervals.n_resamples} resamples): stretches of road (square cells of the block length, "
            f"every query of every condition in a cell together) are resampled, since neighbouring queries are "
            f"not independent. Block length per test set, Politis and White's automatic choice from the "
            f"correlogram of per-query correctness along the road (figure): {blocks}. The intervals hold the "
            f"seeds fixed; the spread over seeds is Table 1's ±.",
            [intervals_grid(table, labels, single)], [(FIGURES["blocks"], "block length")], []))
    recall = recall_grid(results, table, labels)
    if recall is not None:
        sections.append(Section("Recall@N (%)", "Share of queries with at least one of the N best-ranked "
                                "references within the recall radius, mean over seeds.", [recall], [], []))
    sections += [
        Section("Test sets", "Where the queries and references come from, and how many there are.",
                [testsets_grid(results, testsets)], [], []),
        Section("Figure 4 (top): accuracy over d", "Every method, mean over seeds; line style and colour "
                "together identify a method; the thick line is the reference method; each panel's y axis "
                "zooms to its curves (the upper bound may leave the panel).", [],
                [(FIGURES["curves"], "accuracy curves")], list(footnotes)),
        Section("Figure 4 (bottom): influence functions and combination",
                f"Methods: {', '.join(variants)} (those in params).", [],
                [(FIGURES["variants"], "influence variants")], []),
        Section("Training curves", "Training loss (each run divided by its first logged loss, so losses of "
                "different scales share one axis) and validation top-1 over steps, every method and seed.", [],
                [(FIGURES["training"], "training curves")], []),
        Section("Figure 1: soft assignment", "The influence functions g+ / g- and the scores they give.", [],
                [(FIGURES["influence"], "influence functions")], []),
    ]
    return sections
