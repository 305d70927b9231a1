"""Validation during training: top-1 accuracy on the validation split, the best weights so far,
and early stopping after `train.patience` validations without improvement."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np
import torch

from softloc.metrics import accuracy_at, retrieval_errors
from softloc.retrieval import search_top1
from softloc.training.data import TrainData
from softloc.training.device import Placement
from softloc.training.embedding import embed
from softloc.training.live import RunLog
from softloc.training.state import TrainState

if TYPE_CHECKING:  # annotations only: pydantic is absent on the GPU machine (benchmarks/gpu_check.py)
    from softloc.config import Train

log = logging.getLogger(__name__)


def validate(net: torch.nn.Module, data: TrainData, train: Train, placement: Placement) -> float:
    """Top-1 accuracy within train.val_threshold_m of the validation queries against the validation reference.

    At most train.val_max_queries queries, evenly spaced over the split's rows (every condition), keep it cheap.
    """
    batch, device, amp = train.eval_batch_size, placement.device, placement.amp
    n = len(data.val_queries.images)
    queries = np.unique(np.linspace(0, n - 1, min(n, train.val_max_queries)).round().astype(np.int64))
    ref = embed(net, data.val_reference.images, None, device, batch, amp)
    qry = embed(net, data.val_queries.images, queries, device, batch, amp)
    errors = retrieval_errors(data.val_reference.xy, data.val_queries.xy[queries], search_top1(ref, qry))
    return accuracy_at(errors, train.val_threshold_m)


class Validator:
    """Validates a network into a run's state: logs the accuracy, keeps the best weights, counts
    rounds without improvement and sets state.stopped when they reach train.patience."""

    def __init__(self, data: TrainData, train: Train, placement: Placement, run_log: RunLog) -> None:
        self.data, self.train, self.placement, self.run_log = data, train, placement, run_log

    def __call__(self, net: torch.nn.Module, st: TrainState) -> float:
        """Validate `net` at st.global_step and update `st`; returns the accuracy."""
        acc = validate(net, self.data, self.train, self.placement)
        self.run_log.record(st, {"step": st.global_step, "val/top1": acc})
        st.last_val_step = st.global_step
        if acc > st.best_acc:
            st.best_acc, st.best_step, st.bad_rounds = acc, st.global_step, 0
            st.best_weights = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
        else:
            st.bad_rounds += 1
            st.stopped = st.bad_rounds >= self.train.patience
        log.info("step %d: validation top-1 within %g m = %.4f (best %.4f at step %d)", st.global_step, self.train.val_threshold_m, acc, st.best_acc, st.best_step)
        return acc
