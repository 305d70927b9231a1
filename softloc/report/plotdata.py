"""Data files of the DVC plots (dvc.yaml top-level `plots:`), in the shape the templates need.

DVC's top-level plots cannot loop over params `methods`, so one file holds every method (under
its params key), one row per point, and the templates in .dvc/plots/ colour by the `method` field (14 distinct colours,
black first) (and dash by DVC's
`rev`, so `dvc plots diff main <exp>` overlays two revisions on the same axes):

    reports/plots/accuracy.csv    panel, panel_index, method, d_m, accuracy   (Figure 4 top)
    reports/plots/variants.csv    the same for params report.variants        (Figure 4 bottom)
    reports/plots/train_loss.csv  method, seed, step, loss
    reports/plots/train_val.csv   method, seed, step, val_top1 (%)

Accuracy is the mean over seeds, in percent, rounded to 2 decimals so that reruns are byte-equal.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from softloc.io import write_text
from softloc.report.analysis import Column
from softloc.report.figures import UPPER_BOUND
from softloc.report.results import Results

FILES = {"plot_accuracy": "plots/accuracy.csv", "plot_variants": "plots/variants.csv",
         "plot_train_loss": "plots/train_loss.csv", "plot_train_val": "plots/train_val.csv"}


def accuracy_rows(method_curves: dict[str, pd.DataFrame], bound: pd.DataFrame | None, rows: dict[str, str],
                  columns: list[Column], titles: list[str]) -> pd.DataFrame:
    """Long table: one row per (panel, method, d); the upper bound (when given) as one more method."""
    # The upper bound first: the templates' colour range starts with black for it.
    curves = {UPPER_BOUND: bound} if bound is not None else {}
    curves.update({label: method_curves[m] for m, label in rows.items()})
    parts = []
    for index, (column, title) in enumerate(zip(columns, titles)):
        for label, frame in curves.items():
            parts.append(pd.DataFrame({"panel": title, "panel_index": index, "method": label,
                                       "d_m": frame.index.to_numpy(), "accuracy": frame[column].to_numpy()}))
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["panel", "panel_index", "method", "d_m", "accuracy"])
    out["accuracy"] = out["accuracy"].astype(float).round(2)
    return out


def training_rows(results: Results, labels: dict[str, str], field: str) -> pd.DataFrame:
    """Long table of one training curve field (loss or val_top1, the latter in %)."""
    parts = []
    for method, label in labels.items():
        for s in results.seeds:
            curves = results.training[(method, s)].curves
            if curves is None:
                continue
            valid = curves.dropna(subset=[field])
            values = valid[field] * (100.0 if field == "val_top1" else 1.0)
            parts.append(pd.DataFrame({"method": label, "seed": s, "step": valid["step"].astype(int).to_numpy(),
                                       field: values.round(4 if field == "loss" else 2).to_numpy()}))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["method", "seed", "step", field])


def write_plot_data(out_root: Path, results: Results, curves: dict[str, pd.DataFrame], bound: pd.DataFrame,
                    rows: dict[str, str], variant_rows: dict[str, str], columns: list[Column], titles: list[str],
                    method_labels: dict[str, str]) -> dict[str, Path]:
    """Write the four plot data files under `out_root` (reports/)."""
    frames = {
        "plot_accuracy": accuracy_rows(curves, bound, rows, columns, titles),
        "plot_variants": accuracy_rows(curves, None, variant_rows, columns, titles),
        "plot_train_loss": training_rows(results, method_labels, "loss"),
        "plot_train_val": training_rows(results, method_labels, "val_top1"),
    }
    paths = {}
    for key, frame in frames.items():
        paths[key] = out_root / FILES[key]
        write_text(frame.to_csv(index=False, lineterminator="\n"), paths[key])
    return paths
