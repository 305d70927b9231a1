"""The training loop of one method: NetVLAD init, tuples with hard negatives, Adam, validation, resume.

One call of `train_method` takes the network of params `model` from its initialisation (NetVLAD
clusters by k-means on conv descriptors of training images) to the best-validating weights:

- `loss: none` (off-the-shelf): the initialised network is validated and saved as is.
- otherwise Adam at `train.lr`, multiplied by `train.lr_decay` (0.5) every epoch as the
  authors' release does; `train.epochs` epochs of one anchor per metre of route (capped at
  `train.max_steps_per_epoch` steps of `train.batch_tuples` tuples); top-1 accuracy within
  `train.val_threshold_m` on the validation split at step 0, after every epoch and every
  `train.val_every_steps` steps (0: epochs only); early stop after `train.patience` validations
  without improvement; the best weights are the result.

Resume: every `train.checkpoint_every_steps` steps and at every epoch end the whole state
(weights, optimizer, grad scaler, counters, mining cache, best weights, log history, torch RNG)
is written atomically to `<resume_root>/<method>/<key>/state.pt`, where key hashes the params, data
and code (every softloc/pipeline source the process imported) that shape the run; the file holds
tensors and plain containers only and loads with weights_only=True (softloc.resume). Tuple
sampling draws from numpy generators seeded by (seed, epoch, step), so a rerun after a kill
continues from the last checkpoint and ends with the weights an uninterrupted run ends with.
The state is deleted once the model file is written; states of other keys, and of runs whose
model file exists (finished, or restored from DVC's run cache), are swept at every run start.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from softloc import distributed, resume, schemas
from softloc.features import iter_batches
from softloc.imagestore import open_store
from softloc.io import read_parquet, write_json
from softloc.losses import TupleBatch, build_loss
from softloc.metrics import accuracy_at, retrieval_errors
from softloc.mining import MiningCache, TupleSampler, TupleSpec
from softloc.models import build_network, preprocess, save_model
from softloc.prefetch import Prefetcher, StepBatch, host_batch, read_images
from softloc.retrieval import search_top1

log = logging.getLogger(__name__)

DESCRIPTORS_PER_IMAGE = 100  # k-means input per image, as Pytorch-NetVlad's cluster init


@dataclass
class Split:
    """One split's image store (N, H, W, 3) and positions (N, 2) metres."""

    images: np.ndarray
    xy: np.ndarray


@dataclass
class TrainData:
    """Everything training reads: training images with heading, anchors, validation splits."""

    train: Split
    yaw_deg: np.ndarray
    anchors: pd.DataFrame
    val_reference: Split
    val_queries: Split
    fingerprint: str
    traversal: np.ndarray | None = None  # (N,) int code of each training image's traversal


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


def load_train_data(processed: str | os.PathLike = "data/processed") -> TrainData:
    """Read the index stage's training/validation parquet files and the image stores."""
    processed = Path(processed)
    digest = hashlib.sha256()
    frames = {}
    for name in ("train_images", "val_reference", "val_queries"):
        path = processed / f"{name}.parquet"
        frames[name] = read_parquet(path, schemas.SPLIT_IMAGES)
        digest.update(path.read_bytes())
    anchors_path = processed / "train_anchors.parquet"
    anchors = read_parquet(anchors_path, schemas.TRAIN_ANCHORS)
    digest.update(anchors_path.read_bytes())
    splits = {}
    for name, frame in frames.items():
        store = open_store(processed / "images" / f"{name}.npy")
        if len(store) != len(frame):
            raise ValueError(f"{processed}/images/{name}.npy holds {len(store)} images, {name}.parquet {len(frame)} rows (rerun the imagestore stage)")
        digest.update(repr(store.shape).encode())
        splits[name] = Split(store, frame[["easting", "northing"]].to_numpy(np.float64))
    return TrainData(
        train=splits["train_images"],
        yaw_deg=frames["train_images"]["yaw"].to_numpy(np.float64),
        anchors=anchors,
        val_reference=splits["val_reference"],
        val_queries=splits["val_queries"],
        fingerprint=digest.hexdigest(),
        traversal=pd.factorize(frames["train_images"]["traversal"], sort=True)[0].astype(np.int64),
    )


def pick_device(name: str) -> torch.device:
    """`auto`: CUDA when available, else CPU; `cpu`/`cuda` force one."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name not in ("cpu", "cuda"):
        raise ValueError(f"train.device must be auto, cpu or cuda, got {name!r}")
    return torch.device(name)


def amp_dtype(train_cfg: dict[str, Any], device: torch.device) -> torch.dtype | None:
    """Autocast dtype on CUDA (`train.amp`: bf16 | fp16 | off); None (full precision) on CPU."""
    amp = train_cfg.get("amp", "bf16")
    if device.type != "cuda" or amp == "off":
        return None
    if amp not in ("bf16", "fp16"):
        raise ValueError(f"train.amp must be bf16, fp16 or off, got {amp!r}")
    return torch.bfloat16 if amp == "bf16" else torch.float16


def tuple_spec(method_cfg: dict[str, Any], train_cfg: dict[str, Any]) -> TupleSpec:
    """The method's radii (r1, r2, n_extra) with the tuple sizes and mining share of `train`."""
    n_far = int(train_cfg["n_far"])
    return TupleSpec(
        r1=float(method_cfg["r1"]),
        r2=float(method_cfg["r2"]),
        n_close=int(train_cfg["n_close"]),
        n_far=n_far,
        n_extra=int(method_cfg.get("n_extra", 0)),
        n_hard=round(float(train_cfg["mining"]["hard_fraction"]) * n_far),
        max_yaw_deg=float(train_cfg["max_yaw_deg"]),
        close_other_traversals=close_from(train_cfg) == "other_traversals",
    )


CLOSE_FROM = ("other_traversals", "any_traversal")


def close_from(train_cfg: dict[str, Any]) -> str:
    """`train.close_from`: other_traversals (close images never from the anchor's traversal) | any_traversal."""
    value = train_cfg["close_from"]
    if value not in CLOSE_FROM:
        raise ValueError(f"train.close_from must be one of {CLOSE_FROM}, got {value!r}")
    return value


def load_batch(images: np.ndarray, rows: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 (rows.size, H, W, 3) images of `rows` from a store, read in file order, on `device`."""
    return read_images(images, rows, pin=device.type == "cuda").to(device, non_blocking=True)


@torch.no_grad()
def embed(net: torch.nn.Module, images: np.ndarray, rows: np.ndarray | None, device: torch.device, batch_size: int, amp: torch.dtype | None) -> np.ndarray:
    """(n, dim) float32 descriptors of store images `rows` (all when None), network in eval mode.

    The next batch is read (and pinned) in a background thread while the network runs; the
    descriptors stay on the device until one copy at the end (no synchronisation per batch).
    Under torchrun each process embeds its share of the rows and the shares are all-gathered.
    """
    was_training = net.training
    net.eval()
    rows = np.arange(len(images)) if rows is None else np.asarray(rows)
    out = [torch.zeros((0, net.dim), device=device)]
    for batch in iter_batches(images, rows[distributed.world().share(len(rows))], batch_size, pin=device.type == "cuda"):
        x = preprocess(batch.to(device, non_blocking=True))
        with torch.autocast(device.type, dtype=amp or torch.float32, enabled=amp is not None):
            out.append(net(x).float())
    net.train(was_training)
    return distributed.gather_rows(torch.cat(out), distributed.share_counts(len(rows))).cpu().numpy()


def validate(net: torch.nn.Module, data: TrainData, train_cfg: dict[str, Any], device: torch.device, amp: torch.dtype | None) -> float:
    """Top-1 accuracy within train.val_threshold_m of the validation queries against the validation reference.

    At most train.val_max_queries queries, evenly spaced over the split's rows (every condition), keep it cheap.
    """
    batch = int(train_cfg["eval_batch_size"])
    n = len(data.val_queries.images)
    queries = np.unique(np.linspace(0, n - 1, min(n, int(train_cfg["val_max_queries"]))).round().astype(np.int64))
    ref = embed(net, data.val_reference.images, None, device, batch, amp)
    qry = embed(net, data.val_queries.images, queries, device, batch, amp)
    errors = retrieval_errors(data.val_reference.xy, data.val_queries.xy[queries], search_top1(ref, qry))
    return accuracy_at(errors, float(train_cfg["val_threshold_m"]))


@torch.no_grad()
def init_clusters(net: torch.nn.Module, data: TrainData, train_cfg: dict[str, Any], device: torch.device, amp: torch.dtype | None) -> None:
    """NetVLAD init: k-means on up to DESCRIPTORS_PER_IMAGE conv descriptors of `train.init_images` random training images."""
    seed = int(train_cfg["seed"])
    rng = np.random.default_rng([seed, 0x1417])
    n = min(int(train_cfg["init_images"]), len(data.train.images))
    rows = np.sort(rng.choice(len(data.train.images), n, replace=False))
    net.eval()
    parts = []
    for start in range(0, n, int(train_cfg["eval_batch_size"])):
        x = preprocess(load_batch(data.train.images, rows[start : start + int(train_cfg["eval_batch_size"])], device))
        with torch.autocast(device.type, dtype=amp or torch.float32, enabled=amp is not None):
            desc = net.backbone(x).float().flatten(2).transpose(1, 2)  # (b, h*w, C)
        take = min(DESCRIPTORS_PER_IMAGE, desc.shape[1])
        pick = torch.from_numpy(np.stack([rng.choice(desc.shape[1], take, replace=False) for _ in range(len(desc))])).to(device)
        parts.append(torch.gather(desc, 1, pick[..., None].expand(-1, -1, desc.shape[2])).reshape(-1, desc.shape[2]).cpu())
    net.init_clusters(torch.cat(parts), seed=seed)
    net.train()


def refresh_cache(net: torch.nn.Module, data: TrainData, anchors: np.ndarray, rng: np.random.Generator, train_cfg: dict[str, Any], device: torch.device, amp: torch.dtype | None) -> MiningCache:
    """Features of `train.mining.cache_size` random training images and of the coming `anchors`."""
    n = len(data.train.images)
    rows = np.sort(rng.choice(n, min(int(train_cfg["mining"]["cache_size"]), n), replace=False))
    batch = int(train_cfg["eval_batch_size"])
    anchor_rows = np.unique(anchors)
    return MiningCache(
        rows=rows,
        features=embed(net, data.train.images, rows, device, batch, amp),
        anchor_rows=anchor_rows,
        anchor_features=embed(net, data.train.images, anchor_rows, device, batch, amp),
    )


def refresh_due(step_in_epoch: int, refresh_steps: int) -> bool:
    """Whether the mining cache is refreshed before this step: at each epoch start and every
    `train.mining.refresh_steps` steps within the epoch, as the authors' release counts (its
    counter restarts each epoch; it counts anchors, 250, where we count steps). The cache then
    never serves the hard negatives of an epoch from the network of the one before."""
    return step_in_epoch % refresh_steps == 0


def run_key(method_cfg: dict[str, Any], model_cfg: dict[str, Any], train_cfg: dict[str, Any], fingerprint: str) -> str:
    """Hash of the params, data and code that shape a run: a checkpoint resumes only the run it belongs to.

    Code: the source of every softloc/pipeline module imported so far (resume.code_fingerprint),
    so an edit between a kill and the rerun starts the run afresh instead of mixing versions.
    """
    blob = json.dumps({"method": method_cfg, "model": model_cfg, "train": train_cfg, "data": fingerprint,
                       "code": resume.code_fingerprint()}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


class Trainer:
    """The state of one method's training: network, optimizer, sampler, loss, logs."""

    def __init__(self, method: str, method_cfg: dict[str, Any], model_cfg: dict[str, Any], train_cfg: dict[str, Any], data: TrainData, report_dir: str | os.PathLike, resume_root: str | os.PathLike) -> None:
        self.method, self.method_cfg, self.model_cfg, self.train_cfg, self.data = method, method_cfg, model_cfg, train_cfg, data
        self.report_dir = Path(report_dir)
        self.world = distributed.world()
        self.device = pick_device(train_cfg["device"])
        if self.device.type == "cuda" and self.world.size > 1:
            self.device = torch.device("cuda", self.world.local_rank)
            torch.cuda.set_device(self.device)
        self.amp = amp_dtype(train_cfg, self.device)
        self.seed = int(train_cfg["seed"])
        torch.manual_seed(self.seed)
        self.net = build_network(model_cfg).to(self.device)
        self.loss_fn = build_loss(method_cfg)
        self.resume_root = Path(resume_root)
        self.model_path: Path | None = None  # set by train_method: a resume state names its model file
        self.resume_dir = self.resume_root / method / run_key(method_cfg, model_cfg, train_cfg, data.fingerprint)
        self.state = TrainState()
        self.live: Any = None
        if self.loss_fn is None:
            return
        self.loss_fn = self.loss_fn.to(self.device)
        if int(train_cfg["batch_tuples"]) % self.world.size:
            raise ValueError(f"train.batch_tuples {train_cfg['batch_tuples']} must be a multiple of train.nproc_per_node ({self.world.size}): "
                             "each process runs an equal share of the global batch")
        self.spec = tuple_spec(method_cfg, train_cfg)
        self.sampler = TupleSampler(data.train.xy, data.yaw_deg, data.anchors, self.spec, data.traversal)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=float(train_cfg["lr"]))
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp == torch.float16)
        # the training forward (training_forward: DDP under torchrun, compiled on request); self.net
        # (eager, plain state-dict keys) validates, embeds and is saved
        self.step_net = self.net
        self.feed = Prefetcher(self.device)

    def training_forward(self) -> torch.nn.Module:
        """The module train_step runs: self.net, in DDP under torchrun (rank 0's weights are
        broadcast when it is built: call after init or resume), torch.compile'd when train.compile."""
        net: torch.nn.Module = self.net
        if self.world.size > 1:
            from torch.nn.parallel import DistributedDataParallel

            if self.device.type == "cuda":
                net = torch.nn.SyncBatchNorm.convert_sync_batchnorm(net)  # BN statistics over the global batch
            elif any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in net.modules()):
                log.warning("BatchNorm on CPU with %d processes: statistics are per process (SyncBatchNorm needs CUDA)", self.world.size)
            net = DistributedDataParallel(net, device_ids=[self.device.index] if self.device.type == "cuda" else None)
        return torch.compile(net) if self.train_cfg.get("compile", False) else net

    # -- checkpoints -------------------------------------------------------------------------

    def save_checkpoint(self) -> None:
        """Write the whole run state atomically to the resume directory (tensors and plain containers;
        rank 0 alone under torchrun)."""
        if not self.world.is_main:
            return
        payload = {
            "net": self.net.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
            "state": self.state,
            "torch_rng": torch.get_rng_state(),
        }
        resume.save_state(self.resume_dir, self.resume_dir.name, payload, self.model_path)

    def try_resume(self) -> bool:
        """Load the resume state of this exact run if one exists; sweep stale states of other runs."""
        if self.world.is_main:
            resume.discard_stale(self.resume_root, keep=self.resume_dir)
        payload = resume.load_state(self.resume_dir, self.resume_dir.name, RESUME_CLASSES, map_location=self.device)
        if payload is None:
            return False
        self.net.load_state_dict(payload["net"])
        self.optimizer.load_state_dict(payload["optimizer"])
        self.scaler.load_state_dict(payload["scaler"])
        self.state = payload["state"]
        torch.set_rng_state(payload["torch_rng"].cpu())
        log.info("resumed %s from %s at epoch %d step %d", self.method, self.resume_dir / resume.STATE_FILE, self.state.epoch, self.state.global_step)
        return True

    # -- the loop ----------------------------------------------------------------------------

    def build_tuples(self, anchors: np.ndarray, rng: np.random.Generator, cache: MiningCache | None) -> np.ndarray:
        """(B, M) tuple rows for `anchors`, the hard negatives picked from the mining `cache`."""
        hard = None
        if self.spec.n_hard > 0:
            hard = cache.hardest_first(anchors)
        return self.sampler.sample(anchors, rng, hard)

    def host_batch(self, order: np.ndarray, epoch: int, step: int, cache: MiningCache | None) -> StepBatch:
        """Step `step` of `epoch` (anchors from the epoch's `order`): its tuples, images and positions in host memory."""
        b = int(self.train_cfg["batch_tuples"])
        rows = self.build_tuples(order[step * b : (step + 1) * b], np.random.default_rng([self.seed, epoch, step]), cache)
        batch = host_batch(self.data.train.images, self.data.train.xy, rows, pin=self.device.type == "cuda")
        if self.world.size > 1:  # every process draws the global batch and reads the images of its share
            mine = rows[self.world.share(len(rows))]
            batch.images = read_images(self.data.train.images, mine, pin=self.device.type == "cuda")
        return batch

    def step_batch(self, order: np.ndarray, step: int, n_steps: int) -> StepBatch:
        """This epoch's step `step` on the device (prepared while the previous step ran); starts preparing the next.

        The feed key names the mining cache a batch was sampled from: a batch prepared before a
        cache refresh is not used after it.
        """
        st = self.state
        batch = self.feed.take((st.epoch, step, id(st.cache)), lambda: self.host_batch(order, st.epoch, step, st.cache))
        if step + 1 < n_steps:
            epoch, cache = st.epoch, st.cache  # bound now: the worker must not see later changes
            self.feed.submit((epoch, step + 1, id(cache)), lambda: self.host_batch(order, epoch, step + 1, cache))
        return batch

    def train_step(self, batch: StepBatch) -> float:
        """Forward, loss, backward and Adam step on a device StepBatch; returns the loss."""
        b, m = batch.positions.shape[:2]
        x = preprocess(batch.images)
        with torch.autocast(self.device.type, dtype=self.amp or torch.float32, enabled=self.amp is not None):
            features = self.step_net(x)
        features = distributed.gather_features(features.float())  # every process's share, in rank order
        tuples = TupleBatch(features.view(b, m, -1), batch.positions, self.spec.n_close, self.spec.n_far, self.spec.n_extra)
        loss = self.loss_fn(tuples)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return float(loss.detach())

    def validate_and_track(self) -> float:
        """Validate, keep the best weights, count rounds without improvement for early stopping."""
        st = self.state
        acc = validate(self.net, self.data, self.train_cfg, self.device, self.amp)
        self.record({"step": st.global_step, "val/top1": acc})
        st.last_val_step = st.global_step
        if acc > st.best_acc:
            st.best_acc, st.best_step, st.bad_rounds = acc, st.global_step, 0
            st.best_weights = {k: v.detach().cpu().clone() for k, v in self.net.state_dict().items()}
        else:
            st.bad_rounds += 1
            st.stopped = st.bad_rounds >= int(self.train_cfg["patience"])
        log.info("step %d: validation top-1 within %g m = %.4f (best %.4f at step %d)", st.global_step, float(self.train_cfg["val_threshold_m"]), acc, st.best_acc, st.best_step)
        return acc

    def run(self) -> dict[str, Any]:
        """Train to the end (or resume a killed run and finish it); returns the run summary."""
        cfg = self.train_cfg
        if not self.try_resume():
            init_clusters(self.net, self.data, cfg, self.device, self.amp)
        self.step_net = self.training_forward()
        self.open_log()
        st = self.state
        if not st.history:
            self.validate_and_track()
        b = int(cfg["batch_tuples"])
        refresh = int(cfg["mining"]["refresh_steps"])
        val_every, ckpt_every = int(cfg["val_every_steps"]), int(cfg["checkpoint_every_steps"])
        orders = [self.sampler.epoch_order(np.random.default_rng([self.seed, e])) for e in range(int(cfg["epochs"]))]
        steps = [min(len(o) // b, int(cfg["max_steps_per_epoch"])) for o in orders]
        if min(steps) == 0:
            raise ValueError(f"{len(orders[0])} anchors give no step of {b} tuples")
        schedule = np.concatenate([o[: n * b] for o, n in zip(orders, steps)])  # anchors of every step, in order
        while st.epoch < int(cfg["epochs"]) and not st.stopped:
            order, n_steps = orders[st.epoch], steps[st.epoch]
            lr = float(cfg["lr"]) * float(cfg["lr_decay"]) ** st.epoch
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            bar = tqdm(total=n_steps, initial=st.step_in_epoch, desc=f"{self.method} epoch {st.epoch + 1}/{cfg['epochs']}", unit="step",
                       disable=not self.world.is_main)
            while st.step_in_epoch < n_steps and not st.stopped:
                s = st.step_in_epoch
                start = time.perf_counter()
                if self.spec.n_hard > 0 and refresh_due(s, refresh):
                    window = schedule[st.global_step * b : (st.global_step + min(refresh, n_steps - s)) * b]
                    st.cache = refresh_cache(self.net, self.data, window, np.random.default_rng([self.seed, st.global_step, 1]), cfg, self.device, self.amp)
                batch = self.step_batch(order, s, n_steps)
                loss = self.train_step(batch)
                seconds = time.perf_counter() - start
                if not math.isfinite(loss):
                    raise FloatingPointError(f"{self.method}: loss is {loss} at step {st.global_step} (lower train.lr?)")
                st.step_in_epoch += 1
                st.global_step += 1
                st.seconds += seconds
                st.images_seen += batch.rows.size
                self.record({"step": st.global_step, "train/loss": loss, "train/lr": lr})
                bar.set_postfix(loss=f"{loss:.4f}", img_s=f"{batch.rows.size / seconds:.0f}")
                bar.update()
                if val_every and st.global_step % val_every == 0:
                    self.validate_and_track()
                if ckpt_every and st.global_step % ckpt_every == 0:
                    self.save_checkpoint()
            bar.close()
            if st.stopped:
                break
            if st.last_val_step != st.global_step:
                self.validate_and_track()
            st.epoch += 1
            st.step_in_epoch = 0
            self.save_checkpoint()
        return self.summary()

    def summary(self) -> dict[str, Any]:
        """Run facts for the model file's info and metrics.json."""
        st = self.state
        return {
            "method": self.method,
            "init": self.model_cfg.get("init", "random"),
            "backbone": self.model_cfg["backbone"],
            "epochs": st.epoch + (1 if st.step_in_epoch else 0),
            "steps": st.global_step,
            "early_stopped": st.stopped,
            "best_val_top1": st.best_acc,
            "best_step": st.best_step,
            "val_threshold_m": float(self.train_cfg["val_threshold_m"]),
        }

    def telemetry(self) -> dict[str, Any]:
        """Wall-clock figures of the run: printed and kept, but never in a tracked output
        (they differ on every run, so they would make DVC rerun everything downstream)."""
        st = self.state
        return {"train_seconds": round(st.seconds, 2), "images_seen": st.images_seen,
                "images_per_s": round(st.images_seen / st.seconds, 1) if st.seconds else 0.0,
                "device": str(self.device)}

    def open_log(self) -> None:
        """Start the dvclive logs afresh and replay the history of a resumed run into them (rank 0 alone)."""
        if not self.world.is_main:
            return
        from dvclive import Live

        self.live = Live(dir=str(self.report_dir), save_dvc_exp=False, dvcyaml=False, report=None)
        for entry in self.state.history:
            self._log(entry)

    def record(self, entry: dict[str, float]) -> None:
        """Append one step's figures to the history (kept in checkpoints) and the dvclive logs."""
        self.state.history.append(entry)
        if self.live is not None:
            self._log(entry)

    def _log(self, entry: dict[str, float]) -> None:
        self.live.step = int(entry["step"])
        for name, value in entry.items():
            if name != "step":
                self.live.log_metric(name, float(value))

    def finish(self, model_path: str | os.PathLike) -> dict[str, Any]:
        """Write the best weights to the model file, close the logs with metrics.json; delete the resume state."""
        st = self.state
        if self.loss_fn is not None:
            self.feed.close()
        if st.best_weights is not None:
            self.net.load_state_dict(st.best_weights)
        summary = self.summary()
        if not self.world.is_main:
            return summary
        save_model(model_path, self.net.cpu(), self.model_cfg, summary)
        if self.live is None:
            self.open_log()
        self.live.summary.update({k: v for k, v in summary.items() if k not in ("method", "init", "backbone")})
        self.live.end()
        shutil.rmtree(self.resume_dir, ignore_errors=True)
        return summary


def train_method(method: str, method_cfg: dict[str, Any], model_cfg: dict[str, Any], train_cfg: dict[str, Any], data: TrainData, model_path: str | os.PathLike, report_dir: str | os.PathLike, resume_root: str | os.PathLike, telemetry_path: str | os.PathLike | None = None) -> dict[str, Any]:
    """Train (or, for `loss: none`, initialise) one method and write its model file and reports.

    Returns the run summary (also in the model file and metrics.json). Its wall-clock figures go
    to `telemetry_path` (JSON) when given: never into the tracked outputs.

    A method with `checkpoint: <path>` (and `loss: none`) imports that pytorch-NetVlad checkpoint
    instead (softloc.models.netvlad_import): validated and saved as is."""
    if method_cfg.get("checkpoint"):
        return import_method(method, method_cfg, model_cfg, train_cfg, data, model_path, report_dir, resume_root,
                             telemetry_path)
    trainer = Trainer(method, method_cfg, model_cfg, train_cfg, data, report_dir, resume_root)
    trainer.model_path = Path(model_path)
    if trainer.loss_fn is None:
        init_clusters(trainer.net, data, train_cfg, trainer.device, trainer.amp)
        trainer.open_log()
        trainer.validate_and_track()
    else:
        trainer.run()
    summary = trainer.finish(model_path)
    if telemetry_path is not None and trainer.world.is_main:
        write_json(trainer.telemetry(), telemetry_path)
    return summary


def import_method(method: str, method_cfg: dict[str, Any], model_cfg: dict[str, Any], train_cfg: dict[str, Any], data: TrainData, model_path: str | os.PathLike, report_dir: str | os.PathLike, resume_root: str | os.PathLike, telemetry_path: str | os.PathLike | None = None) -> dict[str, Any]:
    """A pytorch-NetVlad checkpoint as the method's network (its architecture, params `model`'s
    image size): validated like an off-the-shelf network and written as the model file."""
    from softloc.models.netvlad_import import import_netvlad

    if method_cfg.get("loss") not in (None, "none"):
        raise ValueError(f"method {method}: checkpoint {method_cfg['checkpoint']} is imported as is and needs "
                         f"loss: none (got loss: {method_cfg.get('loss')})")
    net, imported_cfg = import_netvlad(method_cfg["checkpoint"], model_cfg)
    trainer = Trainer(method, method_cfg, imported_cfg, train_cfg, data, report_dir, resume_root)
    trainer.net.load_state_dict(net.state_dict())
    trainer.model_cfg = {**imported_cfg, "init": "checkpoint"}   # the summary's init; load_model rebuilds with random
    trainer.open_log()
    trainer.validate_and_track()
    summary = trainer.finish(model_path)
    if telemetry_path is not None:
        write_json(trainer.telemetry(), telemetry_path)
    return summary
