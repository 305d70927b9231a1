"""The final model file: weights, the model params that rebuild the network, and run info.

The file's `model_cfg` records params `model` as set (the keys params.yaml gives) plus the seed
of the initial weights, and for an aggregator other than NetVLAD its name and hyperparameters
(`aggregator`, `aggregators: {<name>: {...}}`, params' layout; a NetVLAD model's record is as it
was before aggregators existed); load_model rebuilds the network from it. `state_sha256` is a checksum of
the weights (state_checksum): load_model recomputes it, so a file corrupted on disk or in the DVC
cache (which `dvc checkout` does not verify) is an error naming it, never a silently wrong model.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from softloc.io import atomic_path
from softloc.models.aggregators import NetVLAD, aggregator_record
from softloc.models.network import LocalizationNet, build_network

if TYPE_CHECKING:  # annotations only: pydantic is absent on the GPU machine (benchmarks/gpu_check.py)
    from softloc.config import Model

log = logging.getLogger(__name__)
FORMAT = "softloc-model-2"
_FORMATS_WITHOUT_CHECKSUM = ("softloc-model-1",)


def state_checksum(state: dict[str, torch.Tensor]) -> str:
    """sha256 (hex) over each tensor's name, dtype, shape and bytes, in the state dict's key order.

    Deterministic: the same weights give the same checksum (and model file) on every run.
    """
    digest = hashlib.sha256()
    for name, tensor in state.items():
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"{name}\0{tensor.dtype}\0{tuple(tensor.shape)}\0{tensor.numel()}\0".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def model_record(model: Model, seed: int, init: str | None = None, pool: torch.nn.Module | None = None) -> dict[str, Any]:
    """What the model file stores of the network's params: `model`'s keys as set, the `seed` of
    its initial weights, `init` in place of model.init when given (an imported checkpoint), and
    the aggregator `pool` of the network unless NetVLAD (aggregators.aggregator_record). A NetVLAD
    record leaves out model.aggregator, so it is what it was before aggregators existed."""
    record = {**model.model_dump(exclude_unset=True), "seed": seed}
    if record.get("aggregator") == NetVLAD.name:
        del record["aggregator"]
    if init is not None and init != model.init:
        record["init"] = init
    if pool is not None:
        named = getattr(model, "aggregator", NetVLAD.name)
        if pool.name != named:
            raise ValueError(f"the network's aggregator is {pool.name!r}, its model params say {named!r}")
        record.update(aggregator_record(pool))
    return record


def save_model(path: str | os.PathLike, net: LocalizationNet, model: Model, seed: int, info: dict[str, Any],
               init: str | None = None) -> None:
    """Write weights + the model record (model_record(model, seed, init)) + info (init, method,
    epochs, best accuracy...) atomically.

    info must be JSON-like (numpy scalars are turned into Python numbers), so the file loads
    with torch.load(weights_only=True) and nothing in it executes code.
    """
    state = {k: v.detach().cpu() for k, v in net.state_dict().items()}
    payload = {"format": FORMAT, "model_cfg": _plain(model_record(model, seed, init, net.pool), path), "state_dict": state,
               "state_sha256": state_checksum(state), "info": _plain(info, path)}
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        torch.save(payload, f)   # a file object: torch names the archive "archive", not after the random temp name
    log.info("wrote %s", path)


def load_model(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[LocalizationNet, dict[str, Any]]:
    """Rebuild the network from the file's model_cfg, load its weights on `device`, eval mode.

    The network is rebuilt with random init (the stored weights replace it), so loading an
    ImageNet-initialised model does not need the ImageNet weights file. The weights must match
    the file's checksum; a file written before the checksum existed is an error saying to rerun
    its train stage.
    """
    from softloc.config import Aggregators, Model  # here, not at module level: the GPU machine has no pydantic

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no model file (run the train stage first)")
    try:
        payload = torch.load(path, map_location=device, weights_only=True)
    except Exception as err:  # torch raises several types for a file that is no readable archive
        raise ValueError(f"{path}: not a readable model file ({type(err).__name__}: {err}); rerun its train stage") from err
    if isinstance(payload, dict) and payload.get("format") in _FORMATS_WITHOUT_CHECKSUM:
        raise ValueError(f"{path}: a model file without a checksum (format {payload['format']!r}, written before "
                         "softloc verified model files); rerun its train stage (dvc repro train@<method>-<seed>)")
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{path}: not a softloc model file (expected format {FORMAT!r})")
    if state_checksum(payload["state_dict"]) != payload.get("state_sha256"):
        raise ValueError(f"{path}: the weights do not match the file's checksum (state_sha256): the file is "
                         "corrupted; rerun its train stage (dvc repro -f train@<method>-<seed>)")
    record = payload["model_cfg"]
    model = Model.model_validate({**{k: v for k, v in record.items() if k not in ("seed", "aggregators")}, "init": "random"})
    net = build_network(model, record.get("seed", 0), Aggregators.model_validate(record.get("aggregators", {})))
    net.load_state_dict(payload["state_dict"], strict=True)
    log.info("read %s", path)
    return net.to(device).eval(), payload["info"]


def _plain(obj: dict[str, Any], path: str | os.PathLike) -> dict[str, Any]:
    """A JSON round trip of `obj`: plain dicts, lists, strings, numbers, booleans and None."""

    def number(value: Any) -> Any:
        if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
            return value.item()
        raise TypeError(f"{path}: cannot store {type(value).__name__} {value!r} (model_cfg/info must be JSON-like)")

    return json.loads(json.dumps(obj, default=number))
