"""Losses over tuples of images: the soft contrastive loss and the paper's baselines.

Each loss is an nn.Module registered under one name; `build_loss(method_cfg)` builds one from a
params.yaml `methods` entry, and every loss maps a `TupleBatch` to a scalar (mean over tuples).
"""

from softloc.losses import logratio, multisimilarity, soft, triplet  # noqa: F401  (registration)
from softloc.losses.registry import LOSSES, SAMPLING_KEYS, TupleBatch, build_loss, loss_hyperparameters

__all__ = ["LOSSES", "SAMPLING_KEYS", "TupleBatch", "build_loss", "loss_hyperparameters"]
