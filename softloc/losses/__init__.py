"""Losses over tuples of images: the soft contrastive loss and the paper's baselines.

Each loss is one file: its hyperparameters (a `LossParams` dataclass, defaults included) and its
nn.Module, registered under one name. Every module of this package is imported here, so a new
loss is its file plus a params.yaml `methods` entry. `build_loss(method)` builds one from a
validated `methods` entry, and every loss maps a `TupleBatch` to a scalar (mean over tuples).
"""

import importlib
import pkgutil

from softloc.losses.registry import (BASE_KEYS, LOSSES, LossParams, LossSpec, MethodEntry, TupleBatch, build_loss,
                                     loss_params)

__all__ = ["BASE_KEYS", "LOSSES", "LossParams", "LossSpec", "MethodEntry", "TupleBatch", "build_loss", "loss_params"]

for _module in pkgutil.iter_modules(__path__):   # registration: each loss file registers itself
    importlib.import_module(f"{__name__}.{_module.name}")
