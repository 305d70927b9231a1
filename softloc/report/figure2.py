"""Figure 2: where the training images and every test set's references and queries lie, and the
table of set sizes (images per split and condition), from the pipeline's own tables.

    figures/figure2_locations.png  a panel for the training images and one per test set:
                                   references grey, queries coloured by condition (a test set
                                   near the training images shows them faintly for context);
                                   metres, UTM or the set's local frame
    the sizes grid                 set, split, condition, images (and a total per split), in the
                                   report Section `figure2_section` returns
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from softloc.report.figures import save_figure  # noqa: E402
from softloc.report.grid import Grid  # noqa: E402
from softloc.report.page import Section  # noqa: E402

TRAINING = "training"
CONTEXT_KM = 20.0   # a test set's panel shows the training images when their boxes are this close


def set_sizes(train: pd.DataFrame, testsets: dict[str, tuple[pd.DataFrame, pd.DataFrame]]) -> pd.DataFrame:
    """Images per (set, split, condition): training images, then each test set's reference and queries."""
    parts = [(TRAINING, "train", train)]
    parts += [(name, split, table) for name, (ref, queries) in testsets.items()
              for split, table in (("reference", ref), ("queries", queries))]
    rows = [(name, split, str(condition), int(n)) for name, split, table in parts
            for condition, n in table["condition"].value_counts().sort_index().items()]
    return pd.DataFrame(rows, columns=["set", "split", "condition", "images"])


def sizes_grid(sizes: pd.DataFrame) -> Grid:
    """The set sizes as a report grid: a row per (set, split, condition), a bold total per split."""
    grid = Grid("set", [["split", "condition", "images"]], align_left=True)
    for (name, split), group in sizes.groupby(["set", "split"], sort=False):
        for r in group.itertuples():
            grid.add(name, [split, r.condition, str(r.images)])
        grid.add(name, [split, "total", str(group["images"].sum())], [False, True, True])
    return grid


def draw_locations(train: pd.DataFrame, testsets: dict[str, tuple[pd.DataFrame, pd.DataFrame]], path: Path) -> None:
    """The locations figure (see the module docstring)."""
    panels = [TRAINING, *testsets]
    ncols = min(len(panels), 3)
    nrows = math.ceil(len(panels) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.2 * ncols, 4.6 * nrows), squeeze=False)
    _scatter(axes.flat[0], train, "tab:blue", f"training images ({len(train)})", size=2)
    axes.flat[0].set_title(f"{TRAINING}: {len(train)} images")
    for ax, (name, (ref, queries)) in zip(list(axes.flat)[1:], testsets.items()):
        if near_training(train, ref):
            _scatter(ax, train, "0.85", "training images", size=1)
        _scatter(ax, ref, "0.35", f"reference ({len(ref)})", size=4)
        known = queries[queries["easting"].notna()]
        colours = plt.get_cmap("tab10").colors
        for colour, (condition, group) in zip(colours * 3, known.groupby("condition", sort=True)):
            _scatter(ax, group, colour, f"{condition} ({len(group)})", size=3)
        hidden = len(queries) - len(known)
        ax.set_title(f"{name}: {len(ref)} references, {len(queries)} queries"
                     + (f"\n({hidden} query positions unknown)" if hidden else ""))
        frame = ref["utm_zone"].iloc[0] if len(ref) else ""
        ax.set_xlabel(f"easting (m, UTM {frame})" if frame else "x (m, local frame)")
        ax.set_ylabel(f"northing (m, UTM {frame})" if frame else "y (m, local frame)")
    axes.flat[0].set_xlabel("easting (m)")
    axes.flat[0].set_ylabel("northing (m)")
    for ax in list(axes.flat)[:len(panels)]:
        ax.set_aspect("equal", adjustable="datalim")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, markerscale=3, loc="best")
        ax.ticklabel_format(useOffset=False, style="plain")
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.suptitle("Figure 2: training and test image locations")
    fig.tight_layout()
    save_figure(fig, path)


def figure2_section(train: pd.DataFrame, testsets: dict[str, tuple[pd.DataFrame, pd.DataFrame]],
                    out_root: Path) -> Section:
    """Draw out_root/figures/figure2_locations.png and return Figure 2's report Section (the
    figure and the sizes grid). `train` is data/processed/train_images.parquet, `testsets` maps
    each test set name to its (reference, queries) tables from data/testsets/<name>/."""
    image = "figures/figure2_locations.png"
    draw_locations(train, testsets, out_root / image)
    text = ("Where the training images and each test set's references and queries lie (metres: UTM, or the "
            "set's own local frame), and how many images each split holds per condition.")
    return Section("Figure 2: training and test images", text, [sizes_grid(set_sizes(train, testsets))],
                   [(image, "training and test image locations")], [])


def _scatter(ax: plt.Axes, table: pd.DataFrame, colour, label: str, size: float) -> None:
    ax.scatter(table["easting"], table["northing"], s=size, color=colour, label=label, linewidths=0)


def near_training(train: pd.DataFrame, reference: pd.DataFrame) -> bool:
    """Whether a test set lies near the training images (boxes within CONTEXT_KM, compared in
    latitude/longitude, so sets in another UTM zone or a local frame never count)."""
    lat, lon = reference["latitude"].to_numpy(float), reference["longitude"].to_numpy(float)
    if not len(train) or not len(lat) or not (np.isfinite(lat).all() and np.isfinite(lon).all()):
        return False
    km_lat = 111.2
    km_lon = km_lat * math.cos(math.radians(float(np.mean(lat))))
    gap_lat = max(lat.min() - train["latitude"].max(), train["latitude"].min() - lat.max()) * km_lat
    gap_lon = max(lon.min() - train["longitude"].max(), train["longitude"].min() - lon.max()) * km_lon
    return max(gap_lat, gap_lon) < CONTEXT_KM
