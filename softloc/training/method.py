"""Train one method of params `methods` (or initialise it: `loss: none`; or import a published
pytorch-NetVlad checkpoint) and write its model file, dvclive logs and telemetry."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from softloc.io import write_json
from softloc.models.trunk_memo import MEMO_ROOT
from softloc.training.data import TrainData
from softloc.training.embedding import init_clusters
from softloc.training.loop import Trainer
from softloc.training.state import telemetry

if TYPE_CHECKING:  # annotations only: pydantic is absent on the GPU machine (benchmarks/gpu_check.py)
    from softloc.config import Aggregators, Method, Model, Pca, Train


def train_method(name: str, method: Method, model: Model, train: Train, seed: int, data: TrainData,
                 model_path: str | os.PathLike, report_dir: str | os.PathLike, resume_root: str | os.PathLike,
                 telemetry_path: str | os.PathLike | None = None, network_seed: int | None = None, *,
                 aggregators: Aggregators | None = None, pca: Pca | None = None,
                 trunk_root: str | os.PathLike = MEMO_ROOT) -> dict[str, Any]:
    """Train (or, for `loss: none`, initialise) method `name` and write its model file and reports.

    `seed` draws every choice of training, `network_seed` (default `seed`) the initial weights.
    The network is params `model`'s with the method's own `aggregator` if it names one, that
    aggregator's hyperparameters from params `aggregators` (None: the published defaults);
    `pca` (params `pca`) whitens validation's descriptors as the test does; `trunk_root` holds the
    frozen lower trunk's memoised outputs (softloc.models.trunk_memo).
    Returns the run summary (also in the model file and metrics.json). Its wall-clock figures go
    to `telemetry_path` (JSON) when given: never into the tracked outputs.

    A method with `checkpoint: <path>` (a `loss: none` entry) imports that pytorch-NetVlad
    checkpoint instead (softloc.models.netvlad_import): validated and saved as is."""
    if getattr(method, "checkpoint", None):
        return import_method(name, method, model, train, seed, data, model_path, report_dir, resume_root, telemetry_path, pca)
    trainer = Trainer(name, method, model, train, seed, data, report_dir, resume_root, network_seed,
                      aggregators=aggregators, pca=pca, trunk_root=trunk_root)
    trainer.checkpoints.model_path = Path(model_path)
    if trainer.loss_fn is None:
        init_clusters(trainer.net, data, train, seed, trainer.placement)
        trainer.run_log.open(trainer.state.history)
        trainer.validate(trainer.net, trainer.state)
    else:
        trainer.run()
    summary = trainer.finish(model_path)
    if telemetry_path is not None and trainer.placement.world.is_main:
        write_json(telemetry(trainer.state, trainer.placement.device), telemetry_path)
    return summary


def import_method(name: str, method: Method, model: Model, train: Train, seed: int, data: TrainData,
                  model_path: str | os.PathLike, report_dir: str | os.PathLike, resume_root: str | os.PathLike,
                  telemetry_path: str | os.PathLike | None = None, pca: Pca | None = None) -> dict[str, Any]:
    """A pytorch-NetVlad checkpoint as the method's network (its architecture, params `model`'s
    image size): validated like an off-the-shelf network and written as the model file."""
    from softloc.models.netvlad_import import import_netvlad

    net, imported = import_netvlad(method.checkpoint, model)
    trainer = Trainer(name, method, imported, train, seed, data, report_dir, resume_root, pca=pca)
    trainer.net.load_state_dict(net.state_dict())
    trainer.init = "checkpoint"   # the summary's init; load_model rebuilds with random
    trainer.run_log.open(trainer.state.history)
    trainer.validate(trainer.net, trainer.state)
    summary = trainer.finish(model_path)
    if telemetry_path is not None:
        write_json(telemetry(trainer.state, trainer.placement.device), telemetry_path)
    return summary
