"""Figure 3: night queries where the methods disagree, with Grad-CAM of each method's match.

One figure per selected query; one row per method, ours last (as in the paper): the query, the
Grad-CAM map on the query, the Grad-CAM map on the retrieved image, the retrieved image, and the
distance between them (metres between their positions, when known, and the feature distance).
What the maps show is defined in softloc.gradcam.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from softloc.gradcam import MatchCam  # noqa: E402
from softloc.report.figures import save_figure  # noqa: E402
from softloc.report.grid import Grid  # noqa: E402
from softloc.report.page import Section  # noqa: E402

# Under reports/: query_<row>.png and selection.json (gradcam stage). Not under reports/figures/,
# which is the report stage's output folder: DVC forbids one output inside another.
FIGURE3_DIR = "figure3"
# The panels show 96 px images: 60 dpi (132 px a panel) loses nothing and keeps each committed
# figure under 1 MB (100 dpi: 2.2 MB of photo-like PNG per query).
FIGURE3_DPI = 60


@dataclass(frozen=True)
class Figure3Row:
    """One method's match of the query: its label, the retrieved image, Grad-CAM maps, distance (m)."""

    label: str
    retrieved: np.ndarray
    cams: MatchCam
    error_m: float


def select_queries(errors: pd.DataFrame, ours: str, threshold_m: float, n: int) -> list[int]:
    """The rule for Figure 3's queries: where our method and the others disagree most.

    `errors` holds the top-1 error in metres, one row per candidate query (index = query row),
    one column per method. Queries are ranked by: ours localized (error <= threshold_m) first,
    then the number of other methods that are not, then the query row; the first `n` are kept.
    """
    if ours not in errors.columns:
        raise ValueError(f"Figure 3: method {ours!r} has no retrievals (methods: {list(errors.columns)})")
    known = errors.notna().all(axis=1)
    if not known.any():
        raise ValueError("Figure 3: no candidate query has a known position (top-1 errors are NaN)")
    errors = errors[known]
    ours_right = errors[ours] <= threshold_m
    others_wrong = (errors.drop(columns=[ours]) > threshold_m).sum(axis=1)
    order = pd.DataFrame({"right": ~ours_right, "wrong": -others_wrong, "row": errors.index})
    return order.sort_values(["right", "wrong", "row"]).index[:n].tolist()


def draw_figure3(query: np.ndarray, rows: list[Figure3Row], title: str, path: Path) -> None:
    """One query's figure: a row per method (in the given order), five columns as the module says."""
    height = 1.75 * len(rows) + 0.7
    fig, axes = plt.subplots(len(rows), 4, figsize=(4 * 2.2 + 1.6, height), squeeze=False)
    for ax_row, row in zip(axes, rows):
        panels = [(query, None), (query, row.cams.query), (row.retrieved, row.cams.retrieved), (row.retrieved, None)]
        for ax, (image, cam) in zip(ax_row, panels):
            ax.imshow(image)
            if cam is not None:
                ax.imshow(cam, cmap="jet", alpha=0.5, vmin=0.0, vmax=1.0)
            ax.set_xticks([])
            ax.set_yticks([])
        ax_row[0].set_ylabel(row.label, rotation=0, ha="right", va="center", fontsize=9)
        metres = f"{row.error_m:.1f} m\n" if np.isfinite(row.error_m) else ""
        ax_row[3].text(1.05, 0.5, f"{metres}d = {row.cams.distance:.2f}", transform=ax_row[3].transAxes,
                       va="center", fontsize=9)
    for ax, name in zip(axes[0], ("query", "Grad-CAM query", "Grad-CAM retrieved", "retrieved")):
        ax.set_title(name, fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0, 0.93, 1 - 0.45 / height))
    save_figure(fig, path, dpi=FIGURE3_DPI)


def figure3_section(reports_root: Path) -> Section:
    """Figure 3's report Section from the gradcam stage's reports/figure3/: its figures and
    a grid of every method's top-1 error on each chosen query (ours last)."""
    selection = json.loads((reports_root / FIGURE3_DIR / "selection.json").read_text())
    queries = selection["queries"]
    methods = selection["rows"]     # the figures' row order, ours last
    grid = Grid("method", [[f"query {q['row']}" for q in queries]])
    for method in methods:
        grid.add(method, [f"{q['methods'][method]['error_m']:.1f} m" for q in queries])
    text = (f"{selection['condition']} queries of {selection['testset']} (seed {selection['seed']}) chosen where "
            "our method's top-1 is right and the most other methods' are wrong (params gradcam). Per method: "
            "the query, Grad-CAM of the similarity of the query's and the retrieved image's descriptors on the "
            "query and on the retrieved image (softloc.gradcam), the retrieved image, and their distance. "
            "Below: each method's top-1 error per query.")
    images = [(f"{FIGURE3_DIR}/query_{q['row']}.png", f"Grad-CAM, query {q['path']}") for q in queries]
    return Section("Figure 3: Grad-CAM of night queries", text, [grid], images, [])
