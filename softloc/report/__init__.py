"""The paper's Table 1 and Figures 1 and 4 from the evaluate stage's outputs, and an HTML index.

    reports/table1.md                        accuracy per condition and mean at each threshold
    reports/figures/accuracy_curves.png      Figure 4 top: accuracy over d, every method
    reports/figures/influence_variants.png   Figure 4 bottom: the soft loss's variants
    reports/figures/influence_functions.png  Figure 1: g+ / g- and the scores s+ / s-
    reports/index.html                       all of the above with the params that made them
"""

from __future__ import annotations

import html
import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
import yaml  # noqa: E402

from softloc.io import atomic_path, write_text  # noqa: E402
from softloc.losses import build_loss  # noqa: E402
from softloc.losses.soft import SoftContrastiveLoss, influence  # noqa: E402
from softloc.metrics import MEAN, threshold_key  # noqa: E402

log = logging.getLogger(__name__)

UPPER_BOUND = "upper bound"
FIGURES = {
    "curves": "figures/accuracy_curves.png",
    "variants": "figures/influence_variants.png",
    "influence": "figures/influence_functions.png",
}


@dataclass(frozen=True)
class Evaluation:
    """One method's evaluate outputs: metrics.json and curves.csv."""

    metrics: dict[str, Any]
    curves: pd.DataFrame


def read_evaluations(eval_root: Path, methods: list[str]) -> dict[str, Evaluation]:
    """Read reports/eval/<method>/{metrics.json,curves.csv} of every method; a missing file is an error."""
    evaluations = {}
    for method in methods:
        metrics_path, curves_path = eval_root / method / "metrics.json", eval_root / method / "curves.csv"
        for path in (metrics_path, curves_path):
            if not path.is_file():
                raise FileNotFoundError(f"{path}: no evaluation of method {method!r} (run evaluate@{method})")
        curves = pd.read_csv(curves_path)
        missing = {"d_m", "accuracy", "upper_bound"} - set(curves.columns)
        if missing:
            raise ValueError(f"{curves_path}: missing columns {sorted(missing)}")
        evaluations[method] = Evaluation(json.loads(metrics_path.read_text()), curves)
        log.info("read %s and %s", metrics_path, curves_path)
    return evaluations


def method_label(name: str, method_cfg: dict[str, Any], model_cfg: dict[str, Any]) -> str:
    """A table label naming the loss; the off-the-shelf row names the network's initialisation."""
    loss = method_cfg.get("loss")
    if loss in (None, "none"):
        return f"{name} (off-the-shelf, {model_cfg.get('backbone', '?')} init {model_cfg.get('init', '?')})"
    details = [str(method_cfg[k]) for k in ("form", "influence", "combine") if k in method_cfg]
    if loss == name and not details:
        return name
    return f"{name} ({', '.join([loss, *details])})"


def legend_label(name: str, method_cfg: dict[str, Any], model_cfg: dict[str, Any]) -> str:
    """A short figure label: the method's key; the off-the-shelf one names the initialisation."""
    if method_cfg.get("loss") in (None, "none"):
        return f"{name} (init {model_cfg.get('init', '?')})"
    return name


def variant_labels(params: dict[str, Any], variants: list[str]) -> dict[str, str]:
    """Figure 4 (bottom) labels: each soft method's influence function and combination."""
    labels = {}
    for name in variants:
        loss = build_loss(params["methods"][name])
        labels[name] = f"{name}: {loss.influence}, {loss.combine}" if isinstance(loss, SoftContrastiveLoss) else name
    return labels


def conditions_of(evaluations: dict[str, Evaluation]) -> list[str]:
    """Query conditions present in any evaluation, sorted."""
    found = {c for e in evaluations.values() for row in e.metrics["accuracy"].values() for c in row if c != MEAN}
    return sorted(found)


def summary_table(evaluations: dict[str, Evaluation], thresholds_m: list[float]) -> pd.DataFrame:
    """Accuracy (fraction) with rows: upper bound, then each method; columns (condition|mean, threshold key)."""
    conditions = conditions_of(evaluations)
    columns = pd.MultiIndex.from_tuples([(c, threshold_key(d)) for c in [*conditions, MEAN] for d in thresholds_m])
    first = next(iter(evaluations.values()))
    rows = {UPPER_BOUND: first.metrics["upper_bound"]}
    rows.update({m: e.metrics["accuracy"] for m, e in evaluations.items()})
    return pd.DataFrame(
        [[row.get(key, {}).get(c, np.nan) for c, key in columns] for row in rows.values()],
        index=list(rows), columns=columns, dtype=float,
    )


def best_cells(table: pd.DataFrame) -> pd.DataFrame:
    """Boolean mask of the best method per column, compared as printed (percent, one decimal); the
    upper bound row is not a method; ties are all best."""
    methods = (100 * table.drop(index=UPPER_BOUND)).round(1)
    mask = pd.DataFrame(False, index=table.index, columns=table.columns)
    mask.loc[methods.index] = methods.eq(methods.max(axis=0), axis=1) & methods.notna()
    return mask


def table1_markdown(table: pd.DataFrame, labels: dict[str, str]) -> str:
    """Table 1 as markdown: accuracy in percent, best method per column in bold."""
    best = best_cells(table)
    header = ["method", *[f"{c} {key.removesuffix('m')} m" for c, key in table.columns]]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" + "---:|" * len(table.columns)]
    for row in table.index:
        cells = [_percent(v, bold) for v, bold in zip(table.loc[row], best.loc[row])]
        name = f"*{UPPER_BOUND}*" if row == UPPER_BOUND else labels.get(row, row)
        lines.append("| " + " | ".join([name, *cells]) + " |")
    return "\n".join(lines) + "\n"


def table1_html(table: pd.DataFrame, labels: dict[str, str]) -> str:
    """Table 1 as an HTML table with a two-level header (condition, threshold)."""
    best = best_cells(table)
    groups = list(dict.fromkeys(c for c, _ in table.columns))
    top = "".join(f'<th colspan="{sum(c == g for c, _ in table.columns)}">{html.escape(g)}</th>' for g in groups)
    sub = "".join(f"<th>{html.escape(key.removesuffix('m'))} m</th>" for _, key in table.columns)
    body = []
    for row in table.index:
        name = html.escape(UPPER_BOUND if row == UPPER_BOUND else labels.get(row, row))
        cells = "".join(f"<td>{_percent(v, b, html_bold=True)}</td>" for v, b in zip(table.loc[row], best.loc[row]))
        body.append(f"<tr><th>{'<i>' + name + '</i>' if row == UPPER_BOUND else name}</th>{cells}</tr>")
    return (f'<table class="t1"><thead><tr><th rowspan="2">method</th>{top}</tr><tr>{sub}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>")


def plot_accuracy_curves(evaluations: dict[str, Evaluation], methods: list[str], labels: dict[str, str],
                         path: Path, title: str) -> None:
    """Accuracy over d, one panel per condition plus the mean, one line per method, upper bound dashed."""
    panels = [*conditions_of(evaluations), MEAN]
    # 4 columns, or 3 when that leaves fewer empty cells (5 panels: 3 + 2 rather than 4 + 1).
    ncols = min(len(panels), min((4, 3), key=lambda c: (-len(panels)) % c))
    nrows = math.ceil(len(panels) / ncols)
    legend_cols = ncols
    legend_inches = 0.25 * math.ceil((len(methods) + 1) / legend_cols) + 0.2
    height = 3.0 * nrows + 0.6 + legend_inches
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.6 * ncols, height), squeeze=False, sharey=True)
    bound = next(iter(evaluations.values())).curves
    colors = plt.get_cmap("tab10" if len(methods) <= 10 else "tab20").colors
    for ax, panel in zip(axes.flat, panels):
        suffix = "" if panel == MEAN else f"_{panel}"
        ax.plot(bound["d_m"], 100 * bound[f"upper_bound{suffix}"], "k--", lw=1.2, label=UPPER_BOUND)
        for method, color in zip(methods, colors):
            curves = evaluations[method].curves
            if f"accuracy{suffix}" in curves:
                ax.plot(curves["d_m"], 100 * curves[f"accuracy{suffix}"], lw=1.6, color=color, label=labels[method])
        ax.set_title("mean over conditions" if panel == MEAN else panel)
        ax.grid(alpha=0.3)
        ax.set_ylim(0, 102)
    for ax in axes.flat[len(panels):]:
        ax.axis("off")
    for i, ax in enumerate(axes.flat[:len(panels)]):
        if i + ncols >= len(panels):  # lowest panel of its column
            ax.set_xlabel("distance threshold d (m)")
        else:
            ax.tick_params(labelbottom=False)
    for ax in axes[:, 0]:
        ax.set_ylabel("localized queries (%)")
    if not methods:
        axes.flat[0].text(0.5, 0.5, "none of report.variants\nis in params methods", ha="center",
                          transform=axes.flat[0].transAxes)
    handles, names = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=legend_cols, fontsize=9, frameon=False)
    fig.suptitle(title)
    fig.tight_layout(rect=(0, legend_inches / height, 1, 1))
    _save_figure(fig, path)


def influence_loss(params: dict[str, Any]) -> tuple[SoftContrastiveLoss, str]:
    """The soft loss whose influence functions Figure 1 draws: `report.influence_method`, else the
    first soft_contrastive method of params, else the loss's defaults; with a caption saying which."""
    methods = params["methods"]
    wanted = params["report"]["influence_method"]
    soft = [m for m, cfg in methods.items() if cfg.get("loss") == "soft_contrastive"]
    name = wanted if wanted in soft else (soft[0] if soft else None)
    if name is None:
        return SoftContrastiveLoss(), "soft_contrastive defaults (no soft method in params)"
    return build_loss(methods[name]), f"method {name}"


def plot_influence_functions(loss: SoftContrastiveLoss, source: str, path: Path) -> None:
    """Figure 1: g+ and g- over geometric distance, and s+ = g+ D, s- = g- D over (y, D)."""
    gamma, tau = loss.gamma, loss.tau
    y = np.linspace(0.0, 3.0 * tau, 301)
    d_feat = np.linspace(0.0, 2.0, 201)  # L2-normalised features: distance in [0, 2]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.3))
    ax = axes[0]
    for kind, style in (("sigmoid", "-"), ("linear", ":"), ("tanh", "-.")):
        g_plus, g_minus = (g.numpy() for g in influence(torch.from_numpy(y), kind, tau, gamma))
        width = 2.2 if kind == loss.influence else 1.0
        ax.plot(y, g_plus, style, color="tab:blue", lw=width, label=f"g+ {kind}")
        ax.plot(y, g_minus, style, color="tab:red", lw=width, label=f"g- {kind}")
    ax.axvline(tau, color="grey", lw=0.8)
    ax.text(tau, 1.02, f" tau = {tau:g} m", color="grey", va="bottom")
    ax.set(xlabel="geometric distance y to the anchor (m)", ylabel="influence weight", ylim=(-0.02, 1.12),
           title=f"influence functions (gamma = {gamma:g} / m)")
    ax.legend(fontsize=8, ncol=2, loc="center right")
    ax.grid(alpha=0.3)
    g_plus, g_minus = (g.numpy() for g in influence(torch.from_numpy(y), loss.influence, tau, gamma))
    for ax, g, name, cmap in ((axes[1], g_plus, "s+ = g+(y) D  (pull)", "Blues"),
                              (axes[2], g_minus, "s- = g-(y) D  (push)", "Reds")):
        score = g[None, :] * d_feat[:, None]
        image = ax.contourf(y, d_feat, score, levels=20, cmap=cmap)
        ax.contour(y, d_feat, score, levels=[0.25, 0.5, 1.0, 1.5], colors="k", linewidths=0.6)
        ax.axvline(tau, color="grey", lw=0.8, ls="--")
        ax.set(xlabel="geometric distance y to the anchor (m)", ylabel="feature distance D = ||f - a||",
               title=f"{name}, {loss.influence}")
        fig.colorbar(image, ax=ax, label="score")
    fig.suptitle(f"Soft assignment (Figure 1): {source}")
    fig.tight_layout()
    _save_figure(fig, path)


def index_html(table_html: str, params: dict[str, Any], labels: dict[str, str], variants: list[str]) -> str:
    """The report page: Table 1, the figures by relative path, and the params that made them."""
    style = ("body{font-family:sans-serif;max-width:1200px;margin:2em auto;padding:0 1em}"
             "table.t1{border-collapse:collapse;font-size:90%}"
             ".t1 td,.t1 th{border:1px solid #bbb;padding:3px 6px;text-align:right}"
             ".t1 tbody th{text-align:left}img{max-width:100%}pre{background:#f4f4f4;padding:1em}")
    methods = "".join(f"<li><code>{html.escape(m)}</code>: {html.escape(label)}</li>" for m, label in labels.items())
    params_yaml = yaml.safe_dump(params, sort_keys=False, default_flow_style=None)
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>softloc report</title><style>{style}</style></head>
<body>
<h1>softloc: localization accuracy</h1>
<p>A query is localized when its top-1 retrieved reference lies within d metres. Accuracy in percent
per query condition and the mean over conditions; the upper bound counts a query whose nearest
reference by position lies within d. Best method per column in bold.</p>
<h2>Table 1</h2>
{table_html}
<h2>Methods</h2><ul>{methods}</ul>
<h2>Figure 4 (top): accuracy over d</h2>
<img src="{FIGURES['curves']}" alt="accuracy curves">
<h2>Figure 4 (bottom): influence functions and combination</h2>
<p>Methods compared: {html.escape(', '.join(variants) or 'none present in params')}</p>
<img src="{FIGURES['variants']}" alt="influence variants">
<h2>Figure 1: soft assignment</h2>
<img src="{FIGURES['influence']}" alt="influence functions">
<h2>Params</h2>
<pre>{html.escape(params_yaml)}</pre>
</body></html>
"""


KEPT_INIT_MARK = " †"
KEPT_INIT_NOTE = ("† no validation gain over the initial network: early stopping kept the initial weights, "
                  "so the row equals the off-the-shelf network.")


def kept_initial_weights(train_root: Path | None, methods: dict[str, Any]) -> list[str]:
    """Trained methods whose best validation was the initial network (train metrics best_step 0)."""
    if train_root is None:
        return []
    kept = []
    for name, cfg in methods.items():
        path = train_root / name / "metrics.json"
        if cfg.get("loss") not in (None, "none") and path.is_file():
            if int(json.loads(path.read_text()).get("best_step", -1)) == 0:
                kept.append(name)
    return kept


def build_report(params: dict[str, Any], eval_root: Path, out_root: Path,
                 train_root: Path | None = None) -> dict[str, Path]:
    """Write Table 1, the three figures and index.html under `out_root`; returns their paths.

    With `train_root` (reports/train), rows of methods that never beat their initial network in
    validation are marked, since early stopping then reports the initial network itself.
    """
    methods = list(params["methods"])
    if not methods:
        raise ValueError("params.yaml `methods` is empty: nothing to report")
    thresholds = list(params["evaluate"]["thresholds_m"])
    evaluations = read_evaluations(eval_root, methods)
    labels = {m: method_label(m, params["methods"][m], params.get("model", {})) for m in methods}
    kept_init = kept_initial_weights(train_root, params["methods"])
    labels.update({m: labels[m] + KEPT_INIT_MARK for m in kept_init})
    note = f"\n{KEPT_INIT_NOTE}\n" if kept_init else ""
    variants = [m for m in params["report"]["variants"] if m in evaluations]
    table = summary_table(evaluations, thresholds)
    outputs = {"table": out_root / "table1.md", "index": out_root / "index.html"}
    outputs.update({k: out_root / v for k, v in FIGURES.items()})
    write_text("# Table 1: localization accuracy (%)\n\nTop-1 retrieved reference within d metres, per "
               "query condition and the mean over conditions; best method per column in **bold**.\n\n"
               + table1_markdown(table, labels) + note, outputs["table"])
    short = {m: legend_label(m, params["methods"][m], params.get("model", {})) for m in methods}
    plot_accuracy_curves(evaluations, methods, short, outputs["curves"], "Accuracy over the distance threshold")
    plot_accuracy_curves(evaluations, variants, variant_labels(params, variants), outputs["variants"],
                         "Soft contrastive loss: influence functions and combination")
    loss, source = influence_loss(params)
    plot_influence_functions(loss, source, outputs["influence"])
    write_text(index_html(table1_html(table, labels) + (f"<p>{html.escape(KEPT_INIT_NOTE)}</p>" if kept_init else ""),
                          params, labels, variants), outputs["index"])
    return outputs


def _percent(value: float, bold: bool, html_bold: bool = False) -> str:
    if not np.isfinite(value):
        return "–"
    text = f"{100 * value:.1f}"
    if not bold:
        return text
    return f"<b>{text}</b>" if html_bold else f"**{text}**"


def _save_figure(fig: plt.Figure, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    log.info("wrote %s", path)
