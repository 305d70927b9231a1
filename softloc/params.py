"""Reading params.yaml, the single home of every pipeline knob."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml


def load_params(path: str | os.PathLike = "params.yaml") -> dict[str, Any]:
    """Load params.yaml as a plain dict; a missing file is an error naming it."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: params file not found (run from the project root)")
    with open(path) as f:
        return yaml.safe_load(f)
