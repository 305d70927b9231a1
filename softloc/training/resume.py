"""Resume state of a training run that cannot mix versions or run code when loaded.

A run's state lives in `<resume root>/<method>/<key>/` where the key hashes everything that
shapes the run: params, data and the source of every softloc/pipeline module the process has
imported (`code_fingerprint`, the code DVC hashes for the stage). So a run killed before an edit
of, say, softloc/losses/soft.py never resumes into the edited code: its key differs, and its
state is discarded with a log line.

The state file holds only tensors and plain containers (`to_plain`) and is read with
torch.load(weights_only=True), so a resume file cannot execute code; a file that needs more is
discarded, never unpickled.

Stale states are swept (`discard_stale`) whenever a run starts: those of the same run with
another key, and those whose run is complete because its model file exists. The latter covers
a run that DVC restored from its run cache without running it (DVC runs no command then, so the
next training process of any method removes that state).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from softloc.io import atomic_path

log = logging.getLogger(__name__)

STATE_FILE = "state.pt"
OWNER_FILE = "model_path"   # the model file the run will write; present = the run is complete
FORMAT = "softloc-resume-1"
CODE_PACKAGES = ("softloc", "pipeline")


def code_fingerprint(packages: tuple[str, ...] = CODE_PACKAGES) -> str:
    """sha256 over the source files of every module of `packages` this process has imported.

    Paths are taken relative to the folder holding the packages, so the fingerprint names code,
    not where the checkout lies. `python -m pipeline.train` counts as pipeline/train.py.
    """
    root = Path(__file__).resolve().parents[2]
    files = {}
    for name, module in list(sys.modules.items()):
        spec = getattr(module, "__spec__", None)
        name = getattr(spec, "name", None) or name
        path = getattr(module, "__file__", None)
        if name.split(".")[0] in packages and path and os.path.isfile(path):
            resolved = Path(path).resolve()
            label = resolved.relative_to(root).as_posix() if resolved.is_relative_to(root) else str(resolved)
            files[label] = resolved
    digest = hashlib.sha256()
    for label in sorted(files):
        digest.update(label.encode() + b"\0" + files[label].read_bytes() + b"\0")
    return digest.hexdigest()


def to_plain(value: Any) -> Any:
    """`value` as tensors and plain containers: dataclasses become dicts (tagged with their class
    name), numpy arrays tensors, numpy scalars Python numbers."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: to_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"__dataclass__": type(value).__name__, **fields}
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(to_plain(v) for v in value)
    if isinstance(value, np.ndarray):
        return {"__ndarray__": torch.from_numpy(np.ascontiguousarray(value))}
    if isinstance(value, np.generic):
        return value.item()
    return value


def from_plain(value: Any, classes: dict[str, type]) -> Any:
    """Inverse of `to_plain`: tagged dicts back to the dataclasses of `classes` and numpy arrays."""
    if isinstance(value, dict):
        if "__ndarray__" in value:
            return value["__ndarray__"].numpy()
        fields = {k: from_plain(v, classes) for k, v in value.items() if k != "__dataclass__"}
        if "__dataclass__" in value:
            return classes[value["__dataclass__"]](**fields)
        return fields
    if isinstance(value, list):
        return [from_plain(v, classes) for v in value]
    return value


def save_state(run_dir: Path, key: str, payload: dict[str, Any], model_path: str | os.PathLike | None) -> None:
    """Write `payload` (made plain) atomically as `run_dir`/state.pt, with the owner's model path."""
    with atomic_path(run_dir / STATE_FILE) as tmp, open(tmp, "wb") as f:
        torch.save({"format": FORMAT, "key": key, **to_plain(payload)}, f)
    if model_path is not None:
        with atomic_path(run_dir / OWNER_FILE) as tmp:
            tmp.write_text(os.fspath(model_path))


def load_state(run_dir: Path, key: str, classes: dict[str, type], map_location: Any = None) -> dict[str, Any] | None:
    """The state saved in `run_dir` for run `key`, or None (no state; or one that is not plain
    tensors and containers, or of another key or format: discarded with a log line)."""
    path = run_dir / STATE_FILE
    if not path.is_file():
        return None
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # weights_only refuses anything that would need code to load
        log.warning("discarding resume state %s: not tensors and plain containers (%s)", path, err)
        shutil.rmtree(run_dir, ignore_errors=True)
        return None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT or payload.get("key") != key:
        log.warning("discarding resume state %s: format or run key differ from this run's", path)
        shutil.rmtree(run_dir, ignore_errors=True)
        return None
    return {k: from_plain(v, classes) for k, v in payload.items() if k not in ("format", "key")}


def discard_stale(root: Path, keep: Path) -> None:
    """Remove the stale run states under `root`, never `keep` (this run's) nor anything outside root.

    Stale: a state of this run with another key (params, data or code changed), or any state
    whose model file exists (its run finished, or DVC restored it from the run cache).
    """
    root, keep = Path(root).resolve(), Path(keep).resolve()
    if not keep.is_relative_to(root) or keep == root:
        raise ValueError(f"resume directory {keep} lies outside its root {root} (a method name with '..' or '/'?)")
    if not root.is_dir():
        return
    runs = {p.parent for name in (STATE_FILE, OWNER_FILE) for p in root.rglob(name)}
    if keep.parent.is_dir():
        runs |= {p for p in keep.parent.iterdir() if p.is_dir()}
    for run in sorted(runs):
        if run == keep:
            continue
        owner = run / OWNER_FILE
        if run.parent == keep.parent:
            why = "another run key: params, data or code changed since it was written"
        elif owner.is_file() and Path(owner.read_text()).is_file():
            why = f"its run is complete: {owner.read_text()} exists (finished, or restored from DVC's run cache)"
        else:
            continue
        log.info("removing stale resume state %s (%s)", run, why)
        shutil.rmtree(run, ignore_errors=True)
