"""The training loop of one method: Adam over the feed's tuple batches, the learning rate decayed
every epoch, validation, checkpoints and logs at their steps, to the end or to early stopping."""

from __future__ import annotations

import math
import os
import time
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from tqdm import tqdm

from softloc.losses import TupleBatch, build_loss
from softloc.models import build_network, save_model
from softloc.models.aggregators import aggregator_record, method_network
from softloc.models.trained_part import freeze_lower_trunk, trainable_parameters
from softloc.models.trunk_memo import MEMO_ROOT
from softloc.training import distributed
from softloc.training.data import TrainData
from softloc.training.device import place, training_forward
from softloc.training.embedding import init_clusters, split_sources
from softloc.training.feed import EpochPlan, TupleFeed, refresh_cache, refresh_due, tuple_spec
from softloc.training.live import RunLog
from softloc.training.prefetch import StepBatch
from softloc.training.state import Checkpoints, TrainState, run_key, run_summary
from softloc.training.validation import Validator

if TYPE_CHECKING:  # annotations only: pydantic is absent on the GPU machine (benchmarks/gpu_check.py)
    from softloc.config import Aggregators, Method, Model, Pca, Train


class Trainer:
    """One method's run: network, loss and optimizer, stepped over the feed's batches; the state,
    its checkpoints, validation and logs are collaborators.

    `seed` draws every choice of training; `network_seed` (default `seed`) the initial weights.
    A method without a loss (`loss: none`) gets no feed or optimizer: it is validated as initialised.
    The network is params `model`'s with the method's `aggregator` if it names one, the
    aggregator's hyperparameters from params `aggregators` (None: the published defaults).
    The trunk below `model.train_from_block` is frozen (softloc.models.trained_part): Adam gets the
    trainable parameters only, and each step, validation and mining-cache refresh reads the frozen
    part's output, computed once per image and shared by every run (softloc.models.trunk_memo, in
    `trunk_root`), and runs the trained part alone. `pca` (params `pca`) makes validation measure
    the test's whitened descriptors (softloc.training.validation).
    """

    def __init__(self, name: str, method: Method, model: Model, train: Train, seed: int, data: TrainData,
                 report_dir: str | os.PathLike, resume_root: str | os.PathLike, network_seed: int | None = None, *,
                 aggregators: Aggregators | None = None, pca: Pca | None = None, trunk_root: str | os.PathLike = MEMO_ROOT) -> None:
        model = method_network(model, method)
        self.name, self.model, self.train, self.seed, self.data = name, model, train, seed, data
        self.network_seed = seed if network_seed is None else network_seed
        self.init = model.init  # the summary's and model file's init ("checkpoint": an imported network)
        self.placement = place(train)
        world, device = self.placement.world, self.placement.device
        torch.manual_seed(seed)
        self.net = build_network(model, self.network_seed, aggregators).to(device)
        self.loss_fn = build_loss(method)
        key = run_key(method, model, train, (seed, self.network_seed), data.fingerprint, aggregator_record(self.net.pool))
        self.checkpoints = Checkpoints(resume_root, name, key, world.is_main)
        self.state = TrainState()
        self.run_log = RunLog(report_dir, world.is_main)
        self.sources = split_sources(self.net, model, data, train.eval_batch_size, self.placement, trunk_root)
        self.validate = Validator(data, self.sources, train, pca, self.placement, self.run_log)
        if self.loss_fn is None:
            return
        self.loss_fn = self.loss_fn.to(device)
        if train.batch_tuples % world.size:
            raise ValueError(f"train.batch_tuples {train.batch_tuples} must be a multiple of train.nproc_per_node ({world.size}): "
                             "each process runs an equal share of the global batch")
        self.feed = TupleFeed(data, tuple_spec(method, train), seed, train.batch_tuples, self.placement)
        freeze_lower_trunk(self.net.backbone, model)
        self.optimizer = torch.optim.Adam(trainable_parameters(self.net), lr=train.lr)
        self.scaler = torch.amp.GradScaler(device.type, enabled=self.placement.amp == torch.float16)
        self.step_net = self.net  # the training forward (device.training_forward), set when the run starts
        self.cached = False  # whether the feed reads the frozen lower trunk's output (set when the run starts)

    def save_checkpoint(self) -> None:
        """Write the whole run state to the resume directory (rank 0 alone under torchrun)."""
        self.checkpoints.save(self.net, self.optimizer, self.scaler, self.state)

    def try_resume(self) -> bool:
        """Load the resume state of this exact run if one exists; sweep stale states of other runs."""
        state = self.checkpoints.restore(self.net, self.optimizer, self.scaler, self.placement.device)
        if state is not None:
            self.state = state
        return state is not None

    def train_step(self, batch: StepBatch) -> float:
        """Forward, loss, backward and Adam step on a device StepBatch; returns the loss."""
        spec, amp = self.feed.spec, self.placement.amp
        b, m = batch.positions.shape[:2]
        x = batch.images.permute(0, 3, 1, 2) if self.cached else self.net.preprocess(batch.images)
        with torch.autocast(self.placement.device.type, dtype=amp or torch.float32, enabled=amp is not None):
            features = self.step_net(x)
        features = distributed.gather_features(features.float())  # every process's share, in rank order
        loss = self.loss_fn(TupleBatch(features.view(b, m, -1), batch.positions, spec.n_close, spec.n_far, spec.n_extra))
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return float(loss.detach())

    def run(self) -> dict[str, Any]:
        """Train to the end (or resume a killed run and finish it); returns the run summary."""
        train = self.train
        if not self.try_resume():
            init_clusters(self.net, self.data, train, self.seed, self.placement)
        self.step_net = training_forward(self.trained_part(), self.placement, train.compile)
        self.run_log.open(self.state.history)
        st = self.state
        if not st.history:
            self.validate(self.net, st)
        plan = self.feed.plan(train.epochs, train.max_steps_per_epoch)
        while st.epoch < train.epochs and not st.stopped:
            self.run_epoch(plan)
            if st.stopped:
                break
            if st.last_val_step != st.global_step:
                self.validate(self.net, st)
            st.epoch += 1
            st.step_in_epoch = 0
            self.save_checkpoint()
        return self.summary()

    def trained_part(self) -> torch.nn.Module:
        """The module a step runs: the whole network, or with a frozen lower trunk the trained part
        alone, the feed then reading the frozen part's cached output instead of the images."""
        if self.model.train_from_block is None:
            return self.net
        self.feed.store = self.sources.train.store
        self.cached = True
        return self.sources.train.part

    def run_epoch(self, plan: EpochPlan) -> None:
        """The steps left of the current epoch: mining-cache refreshes, steps, validations, checkpoints."""
        st, train, b = self.state, self.train, self.train.batch_tuples
        order, n_steps = plan.orders[st.epoch], plan.steps[st.epoch]
        refresh = train.mining.refresh_steps
        lr = train.lr * train.lr_decay ** st.epoch
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        bar = tqdm(total=n_steps, initial=st.step_in_epoch, desc=f"{self.name} epoch {st.epoch + 1}/{train.epochs}", unit="step",
                   disable=not self.placement.world.is_main)
        while st.step_in_epoch < n_steps and not st.stopped:
            s = st.step_in_epoch
            start = time.perf_counter()
            if self.feed.spec.n_hard > 0 and refresh_due(s, refresh):
                window = plan.schedule[st.global_step * b : (st.global_step + min(refresh, n_steps - s)) * b]
                st.cache = refresh_cache(self.net, self.sources.train, window, np.random.default_rng([self.seed, st.global_step, 1]), train, self.placement)
            batch = self.feed.step_batch(order, st.epoch, s, n_steps, st.cache)
            loss = self.train_step(batch)
            seconds = time.perf_counter() - start
            if not math.isfinite(loss):
                raise FloatingPointError(f"{self.name}: loss is {loss} at step {st.global_step} (lower train.lr?)")
            st.step_in_epoch += 1
            st.global_step += 1
            st.seconds += seconds
            st.images_seen += batch.rows.size
            self.run_log.record(st, {"step": st.global_step, "train/loss": loss, "train/lr": lr})
            bar.set_postfix(loss=f"{loss:.4f}", img_s=f"{batch.rows.size / seconds:.0f}")
            bar.update()
            if train.val_every_steps and st.global_step % train.val_every_steps == 0:
                self.validate(self.net, st)
            if train.checkpoint_every_steps and st.global_step % train.checkpoint_every_steps == 0:
                self.save_checkpoint()
        bar.close()

    def summary(self) -> dict[str, Any]:
        """Run facts for the model file's info and metrics.json."""
        return run_summary(self.name, self.init, self.model.backbone, self.state, self.train.val_threshold_m)

    def finish(self, model_path: str | os.PathLike) -> dict[str, Any]:
        """Write the best weights to the model file, close the logs with metrics.json; delete the resume state."""
        st = self.state
        if self.loss_fn is not None:
            self.feed.close()
        if st.best_weights is not None:
            self.net.load_state_dict(st.best_weights)
        summary = self.summary()
        if not self.placement.world.is_main:
            return summary
        save_model(model_path, self.net.cpu(), self.model, self.network_seed, summary, init=self.init)
        self.run_log.finish(st, summary)
        self.checkpoints.discard()
        return summary
