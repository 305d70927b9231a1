"""Losses over tuples of images: the soft contrastive loss and the paper's baselines.

Each loss is one file: its hyperparameters (a `LossParams` dataclass, defaults included) and its
nn.Module, registered under one name. `build_loss(method)` builds one from a validated params.yaml
`methods` entry, and every loss maps a `TupleBatch` to a scalar (mean over tuples).
"""

from softloc.losses import logratio, multisimilarity, no_loss, soft, triplet  # noqa: F401  (registration)
from softloc.losses.registry import (BASE_KEYS, LOSSES, LossParams, LossSpec, MethodEntry, TupleBatch, build_loss,
                                     loss_params)

__all__ = ["BASE_KEYS", "LOSSES", "LossParams", "LossSpec", "MethodEntry", "TupleBatch", "build_loss", "loss_params"]
