"""Import a pytorch-NetVlad checkpoint (VGG-16 + NetVLAD, e.g. the published Pittsburgh 30k model)
as a softloc network, for methods `{loss: none, checkpoint: <path>}` (the paper's rows
"Off-the-shelf [16]" and "Triplet trained on Pittsburgh [16]").

The file is torch.save of {'epoch', 'state_dict', 'recalls', 'best_score', 'optimizer',
'parallel'} (or a bare state dict) of a module with
- `encoder`: VGG-16's features up to conv5_3 without its ReLU (torchvision indices 0-28, keys
  `encoder.<i>.weight/bias`), exactly our vgg16 backbone (softloc.models.backbones);
- `pool`: NetVLAD with `pool.centroids` (K, 512), `pool.conv.weight` (K, 512, 1, 1) (the soft
  assignment) and `pool.conv.bias` only when trained with vladv2 (absent: zero bias).
Multi-GPU runs save `encoder.module.<i>` / `pool.module.*`; the `module.` level is dropped.
Its NetVLAD computes what ours does (input L2-normalised per descriptor, softmax assignment,
residual sums, intra- then global L2 normalisation), so the descriptors are the same.

The file is read with torch.load(weights_only=True), numpy scalars allowed (the checkpoint's
recalls): nothing in it executes code.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from softloc.models.backbones import VGG16_KEPT_LAYERS
from softloc.models.network import LocalizationNet, build_network

if TYPE_CHECKING:  # annotations only: pydantic is absent on the GPU machine (benchmarks/gpu_check.py)
    from softloc.config import Model

CHANNELS = 512   # VGG-16 conv5_3
_ENCODER_KEY = re.compile(r"^encoder\.(\d+)\.(weight|bias)$")


def read_checkpoint(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The checkpoint's state dict (its 'state_dict' entry, or the file itself), `module.` levels dropped."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no NetVLAD checkpoint file (methods.<m>.checkpoint names it; softloc never downloads)")
    allowed = [np.dtype, np._core.multiarray.scalar, *{type(np.dtype(t)) for t in ("f8", "f4", "i8", "i4")}]
    try:
        with torch.serialization.safe_globals(allowed):
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # pickle, zip and torch errors alike: the file is not what it should be
        raise ValueError(f"{path}: not a loadable pytorch-NetVlad checkpoint ({type(err).__name__}: {err})") from err
    state = payload.get("state_dict", payload) if isinstance(payload, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path}: expected a state dict or a dict with 'state_dict' (pytorch-NetVlad's checkpoint)")
    return {key.replace(".module.", ".").removeprefix("module."): value for key, value in state.items()}


def import_netvlad(path: str | os.PathLike, model: Model) -> tuple[LocalizationNet, Model]:
    """(network, its model params) from a pytorch-NetVlad checkpoint.

    The model params are `model` (params.yaml `model`: image size and the rest) with the
    checkpoint's architecture: backbone vgg16 and its cluster count K (random init: the
    checkpoint's weights replace it).
    """
    state = read_checkpoint(path)
    for key in ("pool.centroids", "pool.conv.weight"):
        if key not in state:
            raise ValueError(f"{path}: no {key!r}; keys start with {sorted({k.split('.')[0] for k in state})} "
                             "(expected pytorch-NetVlad's encoder.* and pool.*)")
    centroids = state["pool.centroids"]
    if centroids.ndim != 2 or centroids.shape[1] != CHANNELS:
        raise ValueError(f"{path}: pool.centroids has shape {tuple(centroids.shape)}, expected (K, {CHANNELS}) "
                         "(VGG-16 conv5_3 features)")
    clusters = int(centroids.shape[0])
    mapped = {"pool.centroids": centroids, "pool.assign.weight": state["pool.conv.weight"],
              "pool.assign.bias": state.get("pool.conv.bias", torch.zeros(clusters))}
    layers = set()
    for key, value in state.items():
        match = _ENCODER_KEY.match(key)
        if match:
            layers.add(int(match.group(1)))
            mapped[f"backbone.{match.group(1)}.{match.group(2)}"] = value
        elif not key.startswith("pool."):
            raise ValueError(f"{path}: unexpected key {key!r} (expected encoder.<i>.weight/bias and pool.*)")
    if layers and max(layers) >= VGG16_KEPT_LAYERS:
        raise ValueError(f"{path}: encoder layer {max(layers)} lies beyond conv5_3 (index {VGG16_KEPT_LAYERS - 1}); "
                         "pytorch-NetVlad's VGG-16 encoder ends there")
    imported = model.model_copy(update={"backbone": "vgg16", "aggregator": "netvlad", "clusters": clusters, "init": "random",
                                        "weights": ""})
    net = build_network(imported, 0)
    try:
        net.load_state_dict(mapped, strict=True)
    except RuntimeError as err:
        raise ValueError(f"{path}: does not fit VGG-16 conv5_3 + NetVLAD with {clusters} clusters ({err})") from err
    return net.eval(), imported
