"""Validation during training: top-1 accuracy on the validation split, measured on the descriptors
the test reads (PCA-whitened), the best weights so far, and early stopping after `train.patience`
validations without improvement."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np
import torch

from softloc.features import Whitening
from softloc.metrics import accuracy_at, retrieval_errors
from softloc.pca import fit_pca, fit_rows
from softloc.retrieval import search_top1
from softloc.training.data import TrainData
from softloc.training.device import Placement
from softloc.training.embedding import Sources, embed
from softloc.training.live import RunLog
from softloc.training.state import TrainState

if TYPE_CHECKING:  # annotations only: pydantic is absent on the GPU machine (benchmarks/gpu_check.py)
    from softloc.config import Pca, Train

log = logging.getLogger(__name__)


def validate(net: torch.nn.Module, data: TrainData, sources: Sources, train: Train, pca: Pca | None, placement: Placement) -> float:
    """Top-1 accuracy within train.val_threshold_m of the validation queries against the validation reference.

    At most train.val_max_queries queries, evenly spaced over the split's rows (every condition).
    With `pca` (params `pca`), the descriptors are those the test reads: PCA-whitened, the PCA
    fitted on a seeded subset of `pca.fit_images` training images as the evaluate stage fits it for
    RobotCar (`pca_fit: train`), so early stopping keeps the weights the test would rank best.
    Without it, the network's raw descriptors.
    """
    n = len(sources.val_queries.store)
    queries = np.unique(np.linspace(0, n - 1, min(n, train.val_max_queries)).round().astype(np.int64))
    return accuracy_at(query_errors(net, data, sources, train, pca, placement, queries), train.val_threshold_m)


def query_errors(net: torch.nn.Module, data: TrainData, sources: Sources, train: Train, pca: Pca | None,
                 placement: Placement, queries: np.ndarray) -> np.ndarray:
    """Metres from each validation query of `queries` (rows) to its top-1 retrieved reference, on the
    descriptors `validate` measures (whitened with `pca`, raw without)."""
    batch, device, amp = train.eval_batch_size, placement.device, placement.amp
    ref = embed(net, sources.val_reference, None, device, batch, amp)
    qry = embed(net, sources.val_queries, queries, device, batch, amp)
    if pca is not None:
        fit = embed(net, sources.train, fit_rows(len(sources.train.store), pca.fit_images, pca.seed), device, batch, amp)
        whitening = Whitening(fit_pca(fit, dim=pca.dim, eps=pca.eps))
        with torch.inference_mode():
            ref, qry = (whitening(torch.from_numpy(f)).numpy() for f in (ref, qry))
    return retrieval_errors(data.val_reference.xy, data.val_queries.xy[queries], search_top1(ref, qry))


class Validator:
    """Validates a network into a run's state: logs the accuracy, keeps the best weights, counts
    rounds without improvement and sets state.stopped when they reach train.patience."""

    def __init__(self, data: TrainData, sources: Sources, train: Train, pca: Pca | None, placement: Placement, run_log: RunLog) -> None:
        self.data, self.sources, self.train, self.pca, self.placement, self.run_log = data, sources, train, pca, placement, run_log

    def __call__(self, net: torch.nn.Module, st: TrainState) -> float:
        """Validate `net` at st.global_step and update `st`; returns the accuracy."""
        acc = validate(net, self.data, self.sources, self.train, self.pca, self.placement)
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
