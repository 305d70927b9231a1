"""Test-set formats behind one seam (softloc.datasets.seam): a module per format, by name.

params.yaml `testsets.<name>.format` names the module; `get(format)` returns it. To add a
dataset, write softloc/datasets/<format>.py with `read_split(cfg)` (reference and query tables,
counts of every drop), `load_image(path)`, `store_loader(cfg, max_side)` (what the image store
decodes with), `CONFIG` (a pydantic model of its params keys) and `COLOUR` (colour files: grey
ones are dropped and counted by drop_grayscale), and add its name to FORMATS. Every image path a
format reads must stay inside its image root (softloc.datasets.paths.check_inside).
`cfg` is the validated `testsets.<name>` entry: the model softloc.config.testset_model(format)
builds from the base keys and CONFIG.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from softloc.datasets.seam import TestSplit, drop_grayscale, testset_table

FORMATS = ("robotcar", "pittsburgh", "vgbench", "seasons")

__all__ = ["FORMATS", "TestSplit", "drop_grayscale", "get", "testset_table"]


def get(name: str) -> ModuleType:
    """The format module `name` (one of FORMATS); an unknown name is an error listing them."""
    if name not in FORMATS:
        raise ValueError(f"unknown test-set format {name!r}; known formats: {', '.join(FORMATS)}")
    return importlib.import_module(f"softloc.datasets.{name}")
