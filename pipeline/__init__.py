"""Thin pipeline entry points: `python -m pipeline.<stage>`, and what they all share."""

from __future__ import annotations

import argparse
import contextlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

import yaml

from softloc.config import Params, ParamsError
from softloc.params import load_params

LOG_FORMAT = "%(asctime)s %(name)s %(levelname)s %(message)s"


def stage_params(path: str = "params.yaml", inputs: Sequence[str] = ()) -> Params:
    """params.yaml checked against its schema, and the input paths of params keys `inputs`
    ("data.raw_root") checked to exist, before the stage does any work; a problem ends the stage
    with its one-line message (the key, the value, what is allowed or missing) and no traceback.
    (DVC keeps the outputs of a failed stage: every output is `persist: true` in dvc.yaml.)"""
    try:
        params = load_params(path)
    except ParamsError as err:
        raise SystemExit(str(err)) from None
    check_inputs(params, inputs, path)
    return params


def input_paths(params: Params) -> dict[str, str]:
    """Every params key whose value is an input path, dotted ("testsets.robotcar.split") -> path.
    An empty optional path (a test set without `truth`, a random init's `weights`) is no input."""
    paths = {"data.raw_root": params.data.raw_root}
    for name, cfg in params.testsets.items():
        for key in ("split", "images", "truth"):
            value = getattr(cfg, key, "")
            if value:
                paths[f"testsets.{name}.{key}"] = value
    if params.model.init == "imagenet" and params.model.weights:
        paths["model.weights"] = params.model.weights
    return paths


def check_inputs(params: Params, keys: Iterable[str], source: str = "params.yaml",
                 produced: Iterable[str] = ()) -> None:
    """Exit with one line naming the params key, its value and what is missing when a path of
    `keys` does not exist (paths in `produced`, which a DVC stage writes, are skipped)."""
    paths = input_paths(params)
    written = {Path(p) for p in produced}
    for key in keys:
        if key not in paths:
            continue
        path = Path(paths[key])
        if path in written or any(parent in written for parent in path.parents):
            continue
        if not path.exists():
            raise SystemExit(f"{source} {key} = {paths[key]}: no such file or folder")


def stage_outputs(dvc_yaml: Path) -> list[str]:
    """The literal output paths of dvc.yaml's stages (templated ones, with `${`, are left out:
    none of them is an input path of params)."""
    stages: dict[str, Any] = (yaml.safe_load(dvc_yaml.read_text()) or {}).get("stages", {})
    out = []
    for stage in stages.values():
        body = stage.get("do", stage)
        for entry in body.get("outs", []) + body.get("metrics", []):
            path = entry if isinstance(entry, str) else next(iter(entry))
            if "${" not in path:
                out.append(path)
    return out


@contextlib.contextmanager
def fresh_outputs(*folders: str | Path) -> Iterator[None]:
    """Folder outputs that the stage writes whole: once it succeeds, every file under them that
    this run did not write is removed (and then empty folders). DVC does not empty a persistent
    output before the stage, so without this a file of an earlier run (a test set or a Figure 3
    query no longer chosen) would stay in the output and its hash. Every write replaces its file
    (softloc.io), so a file not written by this run is older than its start (1 s of slack for
    coarse file clocks). A stage that fails removes nothing."""
    start = time.time() - 1.0
    yield
    for folder in map(Path, folders):
        for path in sorted(folder.rglob("*"), reverse=True) if folder.is_dir() else []:
            if path.is_file() and path.stat().st_mtime < start:
                logging.getLogger(__name__).info("removing %s: an earlier run's, not written by this one", path)
                path.unlink()
            elif path.is_dir() and not any(path.iterdir()):
                path.rmdir()


def setup_logging() -> None:
    """One log format for every stage (timestamps show where the time of a `dvc repro` goes)."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    # faiss logs which SIMD loader it picked at import; that says nothing about the run
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)


def folder_stage(doc: str, kinds: Mapping[str, tuple[Any, str]],
                 argv: list[str] | None = None) -> tuple[str, Params, Path]:
    """Entry of a stage that writes one folder of a kind:
    `python -m pipeline.<stage> <kind> [--params P] [--out DIR]`.

    `kinds` maps each kind to (what writes it, its default output folder). Returns the kind, the
    checked params and the output folder, with logging set up."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=sorted(kinds))
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--out", help="folder to write (default: the kind's folder under data/raw)")
    args = parser.parse_args(argv)
    setup_logging()
    return args.kind, stage_params(args.params), Path(args.out or kinds[args.kind][1])


@dataclass(frozen=True)
class Run:
    """One cell of the (method, seed, test set) matrix and the paths of its outputs."""

    method: str
    seed: int
    testset: str | None = None

    @property
    def model_dir(self) -> Path:
        return Path("models") / self.method / f"seed{self.seed}"

    @property
    def train_report_dir(self) -> Path:
        return Path("reports/train") / self.method / f"seed{self.seed}"

    @property
    def features_dir(self) -> Path:
        return Path("data/features") / self.method / f"seed{self.seed}" / str(self.testset)

    @property
    def eval_data_dir(self) -> Path:
        return Path("data/eval") / self.method / f"seed{self.seed}" / str(self.testset)

    @property
    def eval_report_dir(self) -> Path:
        return Path("reports/eval") / self.method / f"seed{self.seed}" / str(self.testset)


def testset_dir(name: str) -> Path:
    """Where the testset stage writes test set `name`: its tables and image stores."""
    return Path("data/testsets") / name


def run_stage(doc: str, with_testset: bool) -> tuple[Run, Params]:
    """Entry of a matrix stage: `python -m pipeline.<stage> <method> <seed> [<testset>]`.

    With `with_testset` the stage takes an optional test set (Run.testset None: every test set).
    A method, seed or test set that params.yaml does not list is an error naming what it lists.
    """
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("method", help="a key of params.yaml `methods`")
    parser.add_argument("seed", type=int, help="one of params.yaml `seeds`")
    if with_testset:
        parser.add_argument("testset", nargs="?", help="a key of params.yaml `testsets` (default: every one)")
    args = parser.parse_args()
    setup_logging()
    params = stage_params()
    listed = {"method": params.methods, "seed": params.seeds}
    if getattr(args, "testset", None) is not None:
        listed["testset"] = params.testsets
    for axis, values in listed.items():
        if getattr(args, axis) not in values:
            raise SystemExit(f"unknown {axis} {getattr(args, axis)!r}; params.yaml lists {sorted(values)}")
    return Run(args.method, args.seed, getattr(args, "testset", None)), params
