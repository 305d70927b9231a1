"""No output is lost to a failed run: after one successful `dvc repro` of the real clean stage (its
dvc.yaml entry, its code) on a tiny world, a params typo, a wrong data.raw_root and a stage that
crashes on a corrupt input each exit non-zero and leave every output file and dvc.lock
byte-identical (dvc.yaml marks every output `persist: true`, so DVC does not delete them before
the command runs, and the stages write atomically)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from softloc.synthetic import robotcar_world as synthetic

from conftest import robotcar_world

ROOT = Path(__file__).resolve().parents[1]
OUTPUTS = ["data/interim/images.parquet", "reports/clean.json", "dvc.lock"]
RAW = "raw/world"      # the input world: written here, not by a stage, so a test can corrupt it


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """A command with the test's Python first on PATH (the stage runs `python -m pipeline.clean`)."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("PYTHONPATH", None)   # the stage imports the project copy's code, from its cwd
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)


def snapshot(project: Path) -> dict[str, bytes]:
    return {name: (project / name).read_bytes() for name in OUTPUTS}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git + DVC project with the real clean stage, its code and a tiny world, reproduced once."""
    dest = tmp_path_factory.mktemp("kept")
    for package in ("softloc", "pipeline"):
        shutil.copytree(ROOT / package, dest / package, ignore=shutil.ignore_patterns("__pycache__"))
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    (dest / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"clean": stages["clean"]}}, sort_keys=False))
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["data"]["raw_root"] = params["testsets"]["robotcar"]["images"] = RAW
    (dest / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    synthetic.write_world(robotcar_world(seed=3, route_length_m=80.0, image_width=32, image_height=24,
                                         traversals=[{"condition": "overcast", "runs": 2, "reverse": 1},
                                                     {"condition": "night", "runs": 1, "reverse": 0}]),
                          dest / RAW)
    git = ["git", "-c", "user.name=softloc tests", "-c", "user.email=tests@softloc.invalid"]
    for args in (git + ["init", "-q"], [sys.executable, "-m", "dvc", "init", "-q"],
                 [sys.executable, "-m", "dvc", "repro", "-q"]):
        done = run(args, dest)
        assert done.returncode == 0, f"{args}: {done.stdout[-3000:]}{done.stderr[-3000:]}"
    return dest


def repro_fails_keeping_outputs(project: Path) -> str:
    """`dvc repro` after a change: must fail and leave the outputs and dvc.lock as they were."""
    before = snapshot(project)
    done = run([sys.executable, "-m", "dvc", "repro"], project)
    assert done.returncode != 0, f"dvc repro succeeded:\n{done.stdout[-2000:]}"
    after = {name: (project / name).read_bytes() if (project / name).exists() else None for name in OUTPUTS}
    changed = [name for name in OUTPUTS if after[name] != before[name]]
    assert not changed, f"lost or changed by the failed run: {changed}\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
    return done.stdout + done.stderr


def edit_params(project: Path, edit) -> str:
    """Apply `edit` to params.yaml; returns the text before, to restore."""
    path = project / "params.yaml"
    text = path.read_text()
    params = yaml.safe_load(text)
    edit(params)
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return text


@pytest.mark.slow
def test_params_typo_keeps_outputs(project):
    original = edit_params(project, lambda p: p["clean"].update(max_deviation_mm=4.0))
    try:
        log = repro_fails_keeping_outputs(project)
    finally:
        (project / "params.yaml").write_text(original)
    assert "clean.max_deviation_mm" in log


@pytest.mark.slow
def test_wrong_raw_root_keeps_outputs_and_check_names_the_key(project):
    def wrong(p):
        p["data"]["raw_root"] = p["testsets"]["robotcar"]["images"] = "raw/wrold"
    original = edit_params(project, wrong)
    try:
        repro_fails_keeping_outputs(project)
        done = run([sys.executable, "-m", "pipeline.check"], project)
        assert done.returncode != 0
        assert "params.yaml data.raw_root = raw/wrold: no such file or folder" in done.stderr
    finally:
        (project / "params.yaml").write_text(original)


@pytest.mark.slow
def test_stage_crashing_on_corrupt_input_keeps_outputs(project):
    """A garbled line in the middle of the last traversal's image timestamps: clean fails there."""
    listing = sorted((project / RAW).glob("*/stereo.timestamps"))[-1]
    original = listing.read_bytes()
    lines = original.decode().splitlines()
    lines[len(lines) // 2] = "garbage line"
    listing.write_text("\n".join(lines) + "\n")
    try:
        log = repro_fails_keeping_outputs(project)
    finally:
        listing.write_bytes(original)
    assert "stereo.timestamps" in log


def test_every_dvc_output_is_persistent():
    """The property the tests above rely on, for every stage of the project's dvc.yaml."""
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    missing = []
    for name, stage in stages.items():
        body = stage.get("do", stage)
        for entry in body.get("outs", []) + body.get("metrics", []):
            path, options = (entry, {}) if isinstance(entry, str) else next(iter(entry.items()))
            if not (options or {}).get("persist"):
                missing.append(f"{name}: {path}")
    assert not missing, f"outputs DVC deletes before the stage runs: {missing}"


def test_fresh_outputs_drops_an_earlier_runs_files_only_when_the_stage_succeeds(tmp_path):
    from pipeline import fresh_outputs
    from softloc.io import write_text

    out = tmp_path / "figure3"
    write_text("old", out / "query_7.png")
    write_text("old", out / "sub" / "gone.json")
    for path in (out / "query_7.png", out / "sub" / "gone.json"):
        os.utime(path, (path.stat().st_mtime - 60,) * 2)   # written by a run a minute ago
    with pytest.raises(RuntimeError):
        with fresh_outputs(out):
            write_text("new", out / "query_3.png")
            raise RuntimeError("the stage fails")
    assert (out / "query_7.png").read_text() == "old"      # a failed stage removes nothing
    with fresh_outputs(out):
        write_text("new", out / "query_3.png")
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == ["query_3.png"]
