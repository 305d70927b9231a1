"""benchmarks/gpu_check.py's sizes (the device run's and the tiny CPU run's) and its world: a
straight street in a memory-mapped store, with params.yaml's sections under the check's sizes."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import torch
from scipy.spatial import cKDTree

from softloc.imagestore import open_store
from softloc.losses import LOSSES
from softloc.losses.registry import BASE_KEYS
from softloc.training import Split, TrainData

TUPLE_RADIUS_M = 25.0  # neighbour lists reach this far (params tuples.max_radius_m)


@dataclass(frozen=True)
class Sizes:
    """Everything that differs between the device run and the tiny CPU run."""

    backbone: str
    small_channels: tuple[int, ...]
    clusters: int
    max_side: int
    n_close: int
    n_far: int
    tuples: int  # tuples per step (params train.batch_tuples)
    big_tuples: int  # the larger batch tried once
    warmup_steps: int
    steps: int
    route_m: int  # the store's world: a straight street of this length ...
    runs: int  # ... driven this many times, one frame per metre
    cache_size: int
    refresh_steps: int
    eval_batch: int
    extract_images: int
    queries: int
    references: int
    dim: int
    compile_backend: str
    compile_reserve_s: float  # torch.compile is skipped when less than this is left


FULL = Sizes("vgg16", (), 64, 240, 12, 12, 4, 8, 3, 20, 1000, 8, 1000, 250, 256, 8192, 10_000, 100_000, 256, "inductor", 200.0)
TINY = Sizes("small", (8, 16, 16, 16), 4, 32, 2, 2, 2, 4, 1, 3, 60, 4, 60, 4, 32, 240, 200, 2000, 32, "eager", 5.0)


def build_world(sizes: Sizes, tmp: Path) -> TrainData:
    """Random images of a `route_m` street driven `runs` times, as a memory-mapped store on disk.

    Anchors are the first run's frames; neighbour lists hold every image within TUPLE_RADIUS_M.
    """
    rng = np.random.default_rng(0)
    n = sizes.route_m * sizes.runs
    x = np.tile(np.arange(sizes.route_m, dtype=np.float64), sizes.runs) + rng.uniform(-0.3, 0.3, n)
    xy = np.c_[x, rng.normal(0.0, 1.0, n)]
    height, width = sizes.max_side * 3 // 4, sizes.max_side
    store = np.lib.format.open_memmap(tmp / "train_images.npy", mode="w+", dtype=np.uint8, shape=(n, height, width, 3))
    for start in range(0, n, 1024):
        stop = min(n, start + 1024)
        store[start:stop] = rng.integers(0, 256, size=(stop - start, height, width, 3), dtype=np.uint8)
    store.flush()
    del store
    images = open_store(tmp / "train_images.npy")
    tree = cKDTree(xy)
    anchors = []
    for a, nbr in zip(range(sizes.route_m), tree.query_ball_point(xy[: sizes.route_m], TUPLE_RADIUS_M)):
        nbr = np.array(sorted(set(nbr) - {a}), dtype=np.int64)
        d = np.hypot(*(xy[nbr] - xy[a]).T).astype(np.float32)
        anchors.append({"anchor": a, "neighbours": nbr, "distance_m": d, "yaw_diff_deg": np.zeros(len(nbr), np.float32)})
    val = Split(images[:64], xy[:64])
    return TrainData(Split(images, xy), np.zeros(n), pd.DataFrame(anchors), val, val, "gpu_check")


class Section(SimpleNamespace):
    """A params section as attributes, as softloc.training reads softloc.config's models (their
    model_dump too): pydantic is not on the GPU machine, so params.yaml is read without the schema."""

    def model_dump(self, exclude_unset: bool = False) -> dict[str, Any]:
        return {k: v.model_dump() if isinstance(v, Section) else v for k, v in vars(self).items()}


def method_section(entry: dict[str, Any]) -> Section:
    """A params.yaml `methods` entry with its left-out hyperparameters at the loss's defaults."""
    hyper = LOSSES[entry["loss"]].params(**{k: v for k, v in entry.items() if k not in BASE_KEYS})
    return Section(**{"n_extra": 0, **entry, **asdict(hyper)})


def configs(sizes: Sizes, device: torch.device, params: dict[str, Any]) -> tuple[Section, Section, Section]:
    """(method, model, train) sections: params.yaml's, with the check's sizes on top (seed 0)."""
    # config.Model's defaults of the optional keys params.yaml leaves unset (no pydantic here)
    model = {**params["model"], "backbone": sizes.backbone, "init": "random", "clusters": sizes.clusters,
             "image_max_side": sizes.max_side, "lite_last_block": 10, "train_from_block": None}  # the whole trunk trains
    if sizes.small_channels:
        model["small_channels"] = list(sizes.small_channels)
    train = {**params["train"], "device": device.type, "amp": "bf16", "batch_tuples": sizes.tuples,
             "n_close": sizes.n_close, "n_far": sizes.n_far, "eval_batch_size": sizes.eval_batch,
             "checkpoint_every_steps": 0,
             "mining": Section(**{**params["train"]["mining"], "cache_size": sizes.cache_size, "refresh_steps": sizes.refresh_steps})}
    return method_section(params["methods"]["soft"]), Section(**model), Section(**train)
