"""Retrievals of the RobotCar test split for the night diagnosis (benchmarks/night_diagnosis.py).

Every source returns the same frame as the evaluate stage's retrievals.parquet (query, condition,
top1, topk, error_m, nearest_reference_m), so one analysis reads them all:
- `stored`: a method's retrievals.parquet of a finished pipeline run;
- `pixel_baseline`: nearest neighbour on 32x24 log-gray gradient images, no network at all (how
  far plain image similarity gets, per condition);
- `lite0_offtheshelf`: EfficientNet-Lite0 ImageNet trunk (blocks 0-10) + NetVLAD K 16 seeded by
  k-means on training descriptors, PCA-whitened on training images: the network issue 17 measures
  at 42.8 % night, built through the project's own train/evaluate functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

TOP_K = 20  # as the evaluate stage keeps


@dataclass(frozen=True)
class TestSplit:
    """The RobotCar test split of one pipeline run: tables, 96 px stores, positions in metres."""

    reference: pd.DataFrame
    queries: pd.DataFrame
    reference_images: np.ndarray
    query_images: np.ndarray

    @property
    def reference_xy(self) -> np.ndarray:
        return self.reference[["easting", "northing"]].to_numpy(float)

    @property
    def query_xy(self) -> np.ndarray:
        return self.queries[["easting", "northing"]].to_numpy(float)


def load_split(run: Path) -> TestSplit:
    """Read data/testsets/robotcar of the pipeline run `run` (memory-mapped, read only)."""
    root = run / "data/testsets/robotcar"
    return TestSplit(pd.read_parquet(root / "reference.parquet"), pd.read_parquet(root / "queries.parquet"),
                     np.load(root / "images/reference.npy", mmap_mode="r"),
                     np.load(root / "images/queries.npy", mmap_mode="r"))


def stored(run: Path, method: str) -> pd.DataFrame:
    """The evaluate stage's seed-0 RobotCar retrievals of `method` in the run `run`."""
    return pd.read_parquet(run / f"data/eval/{method}/seed0/robotcar/retrievals.parquet")


def retrieval_frame(split: TestSplit, topk: np.ndarray) -> pd.DataFrame:
    """(Q, k) reference rows, best first -> the evaluate stage's retrievals columns."""
    ref_xy, q_xy = split.reference_xy, split.query_xy
    error = np.linalg.norm(q_xy - ref_xy[topk[:, 0]], axis=1)
    nearest = np.sqrt(((q_xy[:, None, :] - ref_xy[None, :, :]) ** 2).sum(-1)).min(1)
    return pd.DataFrame({"query": np.arange(len(q_xy)), "condition": split.queries["condition"].to_numpy(),
                         "top1": topk[:, 0], "topk": list(topk), "error_m": error, "nearest_reference_m": nearest})


def gradient_descriptors(images: np.ndarray, factor: int = 3) -> np.ndarray:
    """uint8 (N, 72, 96, 3) -> (N, 2*24*32) L2-normalised x/y gradients of the log-gray image,
    area-downsampled by `factor` (96x72 -> 32x24). Gradients of the log remove a global gain, so
    a dark night frame is compared by its edges, not its brightness."""
    n, h, w, _ = images.shape
    gray = np.asarray(images, dtype=np.float32).mean(-1)
    small = gray.reshape(n, h // factor, factor, w // factor, factor).mean((2, 4))
    log = np.log1p(small)
    desc = np.concatenate([np.diff(log, axis=2).reshape(n, -1), np.diff(log, axis=1).reshape(n, -1)], axis=1)
    desc -= desc.mean(1, keepdims=True)
    return desc / np.maximum(np.linalg.norm(desc, axis=1, keepdims=True), 1e-12)


def pixel_baseline(split: TestSplit) -> pd.DataFrame:
    """Nearest neighbour (cosine) on gradient_descriptors of the stored 96 px images."""
    ref, qry = gradient_descriptors(split.reference_images), gradient_descriptors(split.query_images)
    topk = np.argsort(-(qry @ ref.T), axis=1, kind="stable")[:, :TOP_K]
    return retrieval_frame(split, topk)


def lite0_offtheshelf(run: Path, split: TestSplit, threads: int) -> pd.DataFrame:
    """EfficientNet-Lite0 off the shelf, as the train stage builds it for loss none (NetVLAD
    k-means init on training images, seed 0) and the evaluate stage extracts it (PCA fitted on
    training images, params `pca` of the run)."""
    import torch

    from softloc.config import Model
    from softloc.features import testset_features
    from softloc.models import build_network
    from softloc.params import load_params
    from softloc.retrieval import search_topk
    from softloc.training import distributed
    from softloc.training.data import load_train_data
    from softloc.training.device import Placement
    from softloc.training.embedding import init_clusters

    torch.set_num_threads(threads)
    params = load_params(run / "params.yaml")
    model = Model(backbone="efficientnet_lite0", init="imagenet", clusters=params.model.clusters,
                  image_max_side=params.model.image_max_side, lite_last_block=10)
    net = build_network(model, 0)
    data = load_train_data(run / "data/processed")
    cpu = torch.device("cpu")
    init_clusters(net, data, params.train, 0, Placement(world=distributed.world(), device=cpu, amp=None))
    feats = testset_features(net.eval(), split.reference_images, split.query_images, "train", data.train.images,
                             params.pca, batch_size=params.train.eval_batch_size, device=cpu, desc="lite0")
    topk, _ = search_topk(feats.reference, feats.queries, TOP_K)
    return retrieval_frame(split, topk)
