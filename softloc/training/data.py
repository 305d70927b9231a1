"""What training reads: the index stage's training and validation tables and their image stores."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from softloc import schemas
from softloc.imagestore import open_store
from softloc.io import read_parquet


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
