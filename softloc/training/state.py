"""A run's state between steps (counters, best weights, mining cache, log history) and its resume
checkpoints: the key that ties a checkpoint to its run, writing the whole state, loading it back."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from softloc.training import resume
from softloc.training.mining import MiningCache

if TYPE_CHECKING:  # annotations only: pydantic is absent on the GPU machine (benchmarks/gpu_check.py)
    from softloc.config import Method, Model, Train

log = logging.getLogger(__name__)


@dataclass
class TrainState:
    """What a checkpoint holds besides weights and optimizer: counters, best, cache, history."""

    epoch: int = 0
    step_in_epoch: int = 0
    global_step: int = 0
    best_acc: float = -1.0
    best_step: int = 0
    best_weights: dict[str, torch.Tensor] | None = None
    bad_rounds: int = 0
    last_val_step: int = -1
    stopped: bool = False
    seconds: float = 0.0
    images_seen: int = 0
    cache: MiningCache | None = None
    history: list[dict[str, float]] = field(default_factory=list)


RESUME_CLASSES = {"TrainState": TrainState, "MiningCache": MiningCache}


def run_key(method: Method, model: Model, train: Train, seeds: tuple[int, int], fingerprint: str,
            aggregator: dict[str, Any] | None = None) -> str:
    """Hash of the params, seeds (training, network), data and code that shape a run: a checkpoint
    resumes only the run it belongs to. `aggregator`: what the model file records of the network's
    aggregator (softloc.models.aggregators.aggregator_record: its hyperparameters).

    Code: the source of every softloc/pipeline module imported so far (resume.code_fingerprint),
    so an edit between a kill and the rerun starts the run afresh instead of mixing versions.
    """
    blob = json.dumps({"method": method.model_dump(), "model": model.model_dump(), "train": train.model_dump(),
                       "seeds": list(seeds), "data": fingerprint, "code": resume.code_fingerprint(),
                       "aggregator": aggregator or {}}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


class Checkpoints:
    """The resume state of one run in `<root>/<name>/<key>/`: written by rank 0 alone, read back
    by every process; `model_path` (set before the first save) names the model file the run writes."""

    def __init__(self, root: str | os.PathLike, name: str, key: str, is_main: bool) -> None:
        self.name, self.is_main = name, is_main
        self.root = Path(root)
        self.dir = self.root / name / key
        self.model_path: Path | None = None

    def save(self, net: torch.nn.Module, optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler, state: TrainState) -> None:
        """Write the whole run state atomically (tensors and plain containers)."""
        if not self.is_main:
            return
        payload = {
            "net": net.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scaler": scaler.state_dict(),
            "state": state,
            "torch_rng": torch.get_rng_state(),
        }
        resume.save_state(self.dir, self.dir.name, payload, self.model_path)

    def restore(self, net: torch.nn.Module, optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler, device: torch.device) -> TrainState | None:
        """Load this exact run's state into `net`, `optimizer`, `scaler` and torch's RNG and return
        its TrainState, or None when there is none; first sweep stale states of other runs."""
        if self.is_main:
            resume.discard_stale(self.root, keep=self.dir)
        payload = resume.load_state(self.dir, self.dir.name, RESUME_CLASSES, map_location=device)
        if payload is None:
            return None
        net.load_state_dict(payload["net"])
        optimizer.load_state_dict(payload["optimizer"])
        scaler.load_state_dict(payload["scaler"])
        state = payload["state"]
        torch.set_rng_state(payload["torch_rng"].cpu())
        log.info("resumed %s from %s at epoch %d step %d", self.name, self.dir / resume.STATE_FILE, state.epoch, state.global_step)
        return state

    def discard(self) -> None:
        """Delete the run's state (its model file is written)."""
        shutil.rmtree(self.dir, ignore_errors=True)


def run_summary(name: str, init: str, backbone: str, st: TrainState, val_threshold_m: float) -> dict[str, Any]:
    """Run facts for the model file's info and metrics.json."""
    return {
        "method": name,
        "init": init,
        "backbone": backbone,
        "epochs": st.epoch + (1 if st.step_in_epoch else 0),
        "steps": st.global_step,
        "early_stopped": st.stopped,
        "best_val_top1": st.best_acc,
        "best_step": st.best_step,
        "val_threshold_m": val_threshold_m,
    }


def telemetry(st: TrainState, device: torch.device) -> dict[str, Any]:
    """Wall-clock figures of the run: printed and kept, but never in a tracked output
    (they differ on every run, so they would make DVC rerun everything downstream)."""
    return {"train_seconds": round(st.seconds, 2), "images_seen": st.images_seen,
            "images_per_s": round(st.images_seen / st.seconds, 1) if st.seconds else 0.0,
            "device": str(device)}
