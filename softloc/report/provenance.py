"""Where a report comes from, and whether it is still current.

- The git commit of the sources the report was made from (the newest commit that changed anything
  but the pipeline's outputs dvc.lock and reports/), its commit date (never the wall clock), and
  the tracked files that differed from it. Committing the report does not change either, so a
  forced rerun writes byte-identical files.
- The params that differ from the paper's settings.
- Staleness: the report records the SHA-256 of every file it read in reports/report_inputs.json
  (and embeds the same list in index.html). `python -m softloc.report --check` compares them with
  the files now on disk and exits 1 naming each that changed; index.html does the same check in
  the browser when it is served over http (a page opened as file:// cannot read the files beside
  it, so there it says how to check instead).
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from softloc.config import Params
from softloc.report.results import sha256

MANIFEST = "reports/report_inputs.json"
OUTPUT_PATHS = ("dvc.lock", "reports")   # written by `dvc repro` itself: not a "dirty" source


@dataclass(frozen=True)
class GitState:
    """The commit a report was made at; commit "" when the project is not a git checkout."""

    commit: str                # newest commit changing anything but dvc.lock and reports/
    date: str                  # its committer date (ISO 8601)
    changed: list[str]         # tracked files differing from the commit, outputs excluded

    @property
    def dirty(self) -> bool:
        return bool(self.changed)

    def describe(self) -> str:
        if not self.commit:
            return "an unknown commit (not a git checkout)"
        text = f"source commit {self.commit[:12]} ({self.date})"
        if self.dirty:
            text += f", DIRTY: uncommitted changes to {', '.join(self.changed)}"
        return text


def git_state(root: Path) -> GitState:
    """The newest commit that changed anything but the pipeline's outputs (so committing a
    report and its dvc.lock does not change the commit the report names, and a rerun after that
    commit writes the same bytes), its commit date, and the uncommitted tracked changes."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True,
                              text=True).stdout.strip()
    excludes = [f":(exclude){p}" for p in OUTPUT_PATHS]
    try:
        commit = git("log", "-1", "--format=%H", "--", ".", *excludes)
    except (subprocess.CalledProcessError, FileNotFoundError):
        return GitState("", "", [])
    if not commit:
        return GitState("", "", [])
    date = git("show", "-s", "--format=%cI", commit)
    changed = sorted(git("diff", "--name-only", "HEAD", "--", ".", *excludes).splitlines())
    return GitState(commit, date, changed)


# The paper's settings (Section 5 and the authors' released code) for the params that have one:
# dotted params key -> (value, where it is stated).
PAPER_SETTINGS: dict[str, tuple[Any, str]] = {
    "model.backbone": ("vgg16", "Sec. 5: VGG-16 cut at conv5 + NetVLAD"),
    "model.init": ("imagenet", "Sec. 5: ImageNet weights"),
    "model.aggregator": ("netvlad", "Sec. 5: NetVLAD pooling"),
    "model.clusters": (64, "NetVLAD K = 64"),
    "model.image_max_side": (240, "Sec. 5: longest side 240 px"),
    "train.lr": (1.0e-6, "Sec. 5 (released code: 5e-6)"),
    "train.lr_decay": (0.5, "released code: halved every epoch"),
    "train.epochs": (5, "released code: at most 5"),
    "train.max_steps_per_epoch": (None, "one anchor per metre of route, no cap"),
    "train.n_close": (12, "Sec. 5: 12 close images"),
    "train.n_far": (12, "Sec. 5: 12 far images"),
    "train.max_yaw_deg": (30, "Sec. 5: yaw difference <= 30 deg"),
    "train.mining.cache_size": (1000, "Sec. 5: cache of 1000"),
    "train.mining.refresh_steps": (250, "Sec. 5: refreshed every 250 steps"),
    "train.mining.hard_fraction": (0.5, "Sec. 5: half of the far images mined"),
    "tuples.anchor_spacing_m": (1.0, "Sec. 5: one anchor per metre"),
    "pca.dim": (256, "Sec. 5: PCA whitening to 256"),
    "pca.fit_images": (5000, "PCA fitted on 5000 RobotCar images"),
    "methods.soft.gamma": (0.8, "released code"),
    "methods.soft.tau": (15.0, "released code"),
    "methods.soft.ms_mining": (True, "released code: MS pair mining on"),
}


def paper_differences(params: Params) -> list[tuple[str, Any, Any, str]]:
    """(key, ours, paper's, source) for every params key that differs from the paper's setting;
    keys params.yaml does not set are skipped (a default is no choice of ours)."""
    out = []
    for key, (paper, where) in PAPER_SETTINGS.items():
        node: Any = params
        for part in key.split("."):
            if isinstance(node, BaseModel) and part in node.model_fields_set:
                node = getattr(node, part)
            elif isinstance(node, dict) and part in node:
                node = node[part]
            else:
                break
        else:
            if node != paper:
                out.append((key, node, paper, where))
    return out


def write_manifest_text(hashes: dict[str, str]) -> str:
    """reports/report_inputs.json: every input with its SHA-256, sorted."""
    return json.dumps({"inputs": dict(sorted(hashes.items()))}, indent=1) + "\n"


def check_inputs(root: Path, manifest: Path | None = None) -> tuple[list[str], list[str]]:
    """(changed, absent): inputs whose content differs from when the report was written, and
    inputs not on disk (data/ files of a fresh clone before `dvc pull` / `dvc repro`: they cannot be
    checked). The report is stale when `changed` is not empty. A missing manifest is an error."""
    manifest = manifest or root / MANIFEST
    if not manifest.is_file():
        raise FileNotFoundError(f"{manifest}: no report manifest (run `dvc repro report` first)")
    recorded = json.loads(manifest.read_text())["inputs"]
    changed, absent = [], []
    for relative, digest in recorded.items():
        path = root / relative
        if not path.is_file():
            absent.append(relative)
        elif sha256(path) != digest:
            changed.append(relative)
    return changed, absent
