"""The report's figures (PNG, no timestamps in their metadata: a rerun gives the same bytes).

    figures/accuracy_curves.png     Figure 4 top: accuracy over d, one panel per condition + mean
    figures/influence_variants.png  Figure 4 bottom: the soft loss's influence functions / combination
    figures/influence_functions.png Figure 1: g+ / g- and the scores s+ / s-
    figures/training_curves.png     loss and validation top-1 over steps, every method and seed
    figures/block_length.png        correlogram of correctness along the road, and the block length

Thirteen methods stay apart by colour AND line style: method i (params order) gets colour i mod
10 of tab10 and dash i mod 4, a pair no other of the first twenty methods shares; the reference
method is drawn thicker, the upper bound black dashed. Every panel's y axis zooms to its methods'
curves (night and Pittsburgh sit near 0 and get their own range), training losses are each divided
by their first logged value (losses of different scales share an axis), and a figure is saved
with its canvas grown to hold every legend (bbox "tight": deterministic, so reruns stay identical).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

from softloc.config import Method  # noqa: E402
from softloc.io import atomic_path  # noqa: E402
from softloc.losses import build_loss  # noqa: E402
from softloc.losses.soft import SoftContrastiveLoss, influence  # noqa: E402
from softloc.metrics import MEAN  # noqa: E402
from softloc.report.analysis import Column  # noqa: E402
from softloc.report.results import Results  # noqa: E402
from softloc.stats import BlockLength  # noqa: E402

DASHES = ["-", "--", ":", "-."]
UPPER_BOUND = "upper bound"


def line_style(index: int, reference: bool) -> dict[str, Any]:
    """Colour and dash of the `index`-th method (params order); unique for the first 20."""
    return {"color": plt.get_cmap("tab10").colors[index % 10], "linestyle": DASHES[index % 4],
            "lw": 2.6 if reference else 1.5, "zorder": 3 if reference else 2}


def accuracy_curves(results: Results, columns: list[Column]) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """Accuracy (%) over d per column for every method (mean over seeds; the mean column averages
    every condition column), and the upper bound (the same for every method)."""
    def frame(curves: dict[str, pd.DataFrame], prefix: str) -> pd.DataFrame:
        out = pd.DataFrame({(t, c): curves[t][prefix + c].to_numpy() for t, c in columns[:-1]},
                           index=next(iter(curves.values()))["d_m"].to_numpy())
        out[("", MEAN)] = out.mean(axis=1)
        return out

    testsets = sorted({t for t, _ in columns[:-1]})
    per_method = {}
    for m in results.methods:
        seeds = [frame({t: results.run(m, s, t).curves for t in testsets}, "") for s in results.seeds]
        per_method[m] = sum(seeds) / len(seeds)
    bound = frame({t: results.run(results.methods[0], results.seeds[0], t).curves for t in testsets}, "upper_bound_")
    return per_method, bound


def plot_accuracy_curves(curves: dict[str, pd.DataFrame], bound: pd.DataFrame, methods: list[str],
                         rows: dict[str, str], columns: list[Column], titles: list[str], reference: str | None,
                         path: Path, title: str) -> None:
    """Accuracy over d, one panel per column, one line per row (`rows`: method -> legend label;
    `curves`, `bound`: from `accuracy_curves`; `methods`: params order, for the line styles)."""
    ncols = min(len(columns), min((4, 3), key=lambda c: (-len(columns)) % c))
    nrows = math.ceil(len(columns) / ncols)
    legend_cols = 2 if ncols >= 3 else 1
    legend_inches = 0.2 * math.ceil((len(rows) + 1) / legend_cols) + 0.2
    height = 2.9 * nrows + 0.6 + legend_inches
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.6 * ncols, height), squeeze=False)
    for ax, column, panel_title in zip(axes.flat, columns, titles):
        ax.plot(bound.index, bound[column], color="k", linestyle=(0, (4, 2)), lw=1.2, label=UPPER_BOUND)
        for method, label in rows.items():
            style = line_style(methods.index(method), method == reference)
            ax.plot(curves[method].index, curves[method][column], label=label, **style)
        ax.set_title(panel_title, fontsize=10)
        ax.grid(alpha=0.3)
        ax.set_ylim(0, zoomed_top([curves[m][column].to_numpy() for m in rows]))
    for ax in axes.flat[len(columns):]:
        ax.axis("off")
    for i, ax in enumerate(axes.flat[:len(columns)]):
        if i + ncols >= len(columns):
            ax.set_xlabel("distance threshold d (m)")
    for ax in axes[:, 0]:
        ax.set_ylabel("localized queries (%)")
    if not rows:
        axes.flat[0].text(0.5, 0.5, "no method to draw", ha="center", transform=axes.flat[0].transAxes)
    handles, names = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=legend_cols, fontsize=8, frameon=False,
               handlelength=3.5)
    fig.suptitle(title)
    fig.tight_layout(rect=(0, legend_inches / height, 1, 1))
    save_figure(fig, path)


def zoomed_top(series: list[np.ndarray], floor: float = 5.0) -> float:
    """The y axis top (percent) that shows `series` whole: 10 % above their maximum, at least
    `floor`, at most 100 (0-100 when there is nothing to draw)."""
    values = [v[np.isfinite(v)] for v in series]
    values = [v for v in values if len(v)]
    if not values:
        return 100.0
    return float(min(100.0, max(floor, 1.1 * max(float(v.max()) for v in values))))


def plot_training_curves(results: Results, labels: dict[str, str], reference: str | None, path: Path) -> None:
    """Training loss, each run divided by its first logged loss (log-ratio's 30-90 beside triplet's
    0-1 would flatten every other curve), and validation top-1 over steps: every method (its style
    as in the accuracy figure), every seed (one label per method); the validation axis zooms to its
    data."""
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.2 + 0.24 * math.ceil(len(labels) / 2)))
    drawn, shown = False, []
    for method, label in labels.items():
        style = line_style(results.methods.index(method), method == reference)
        for i, s in enumerate(results.seeds):
            curves = results.training[(method, s)].curves
            if curves is None:
                continue
            name = label if i == 0 else None
            loss = curves.dropna(subset=["loss"])
            val = curves.dropna(subset=["val_top1"])
            if len(loss):
                first = float(loss["loss"].iloc[0])
                axes[0].plot(loss["step"], loss["loss"] / (first if first != 0 else 1.0), label=name, **style)
            axes[1].plot(val["step"], 100 * val["val_top1"], label=name, marker=".", **style)
            shown.append(100 * val["val_top1"].to_numpy(np.float64))
            drawn = True
    axes[0].set(xlabel="step", ylabel="training loss / its first value", title="training loss (each run normalised)")
    axes[1].set(xlabel="step", ylabel="validation top-1 localized (%)", ylim=(0, zoomed_top(shown)),
                title="validation")
    for ax in axes:
        ax.grid(alpha=0.3)
    if not drawn:
        axes[0].text(0.5, 0.5, "no training curves", ha="center", transform=axes[0].transAxes)
    handles, names = axes[1].get_legend_handles_labels()
    legend_inches = 0.24 * math.ceil(len(names) / 2) + 0.3
    fig.legend(handles, names, loc="lower center", ncol=2, fontsize=8, frameon=False, handlelength=3.5)
    fig.tight_layout(rect=(0, legend_inches / fig.get_figheight(), 1, 1))
    save_figure(fig, path)


def plot_block_length(blocks: dict[str, BlockLength], used: dict[str, float], path: Path) -> None:
    """Per test set: the pooled correlogram of correctness over distance along the road, the
    significance band of Politis and White's rule, and the block length used."""
    fig, axes = plt.subplots(1, max(len(blocks), 1), figsize=(5 * max(len(blocks), 1), 3.4), squeeze=False)
    for ax, (t, b) in zip(axes.flat, blocks.items()):
        lag_m = b.lags * b.spacing_m
        ax.plot(lag_m, b.rho, color="tab:blue", lw=1.4, label="correlation of correctness")
        ax.axhspan(-b.significance, b.significance, color="grey", alpha=0.2, label="insignificant")
        ax.axvline(used[t], color="tab:red", lw=1.5, label=f"block length {used[t]:.1f} m")
        ax.set(xlabel="distance along the road (m)", ylabel="correlation", title=t, ylim=(-0.2, 1.0),
               xlim=(0, min(lag_m[-1], max(4 * used[t], 20 * b.spacing_m))))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)


def influence_loss(methods: Mapping[str, Method], wanted: str) -> tuple[SoftContrastiveLoss, str]:
    """The soft loss whose influence functions Figure 1 draws: method `wanted` (params
    report.influence_method), else the first soft_contrastive method of `methods`, else the loss's
    defaults; with a caption saying which."""
    soft = [m for m, cfg in methods.items() if cfg.loss == "soft_contrastive"]
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
    save_figure(fig, path)


def save_figure(fig: plt.Figure, path: Path, dpi: int = 100) -> None:
    """PNG without the Software/date metadata, written atomically; the canvas grows to hold every
    artist (a legend below the panels is never cut off)."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png", metadata={"Software": None}, pil_kwargs={"compress_level": 3},
                    bbox_inches="tight", pad_inches=0.15)
    plt.close(fig)
