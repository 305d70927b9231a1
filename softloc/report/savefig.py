"""Writing a matplotlib figure as a PNG atomically (the figure modules of Table 2 and Figures 2-3)."""

from __future__ import annotations

import logging
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from softloc.io import atomic_path  # noqa: E402

log = logging.getLogger(__name__)


def save_figure(fig: plt.Figure, path: Path, dpi: int = 110) -> None:
    """Save `fig` to `path` (PNG) through a temporary file, then close it."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")
    plt.close(fig)
    log.info("wrote %s", path)
