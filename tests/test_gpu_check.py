"""The device check (benchmarks/gpu_check.sh) runs end to end in its --cpu --tiny mode, also where
faiss, utm, dvc, dvclive and pydantic are missing, as on the GPU machine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ABSENT_ON_DEVICE = ("faiss", "utm", "dvc", "dvclive", "pydantic")


def run_check(out: Path, extra_path: Path | None = None, args: tuple[str, ...] = ()) -> dict:
    """Run the shell entry point with this interpreter; returns the written gpu_check.json."""
    env = {**os.environ, "PYTHON": sys.executable, "OUT": str(out), "PYTHONUNBUFFERED": "1"}
    if extra_path is not None:
        env["PYTHONPATH"] = str(extra_path)
    result = subprocess.run(["bash", str(ROOT / "benchmarks" / "gpu_check.sh"), "--cpu", "--tiny", *args], cwd=ROOT / "tests",
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "| section | variant |" in result.stdout  # the table is printed last
    return json.loads((out / "gpu_check.json").read_text())


def variants(report: dict, section: str) -> list[str]:
    return [r["variant"] for r in report["rows"] if r["section"] == section]


def test_tiny_check_without_the_packages_the_gpu_machine_lacks(tmp_path: Path) -> None:
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    for name in ABSENT_ON_DEVICE:  # found before site-packages: importing any of them fails
        (blocked / f"{name}.py").write_text(f"raise ImportError('{name} is not installed on the GPU machine')\n")
    report = run_check(tmp_path / "out", blocked)
    assert (tmp_path / "out" / "gpu_check.md").is_file()
    assert not [r for r in report["rows"] if r["value"] in ("FAILED", "skipped")]
    train = variants(report, "train")
    for expected in ("synthetic, eager NCHW", "synthetic, eager channels_last", "compiled (eager)",
                     "data path eager, made at each step", "data path eager, fed (next batch prepared ahead)",
                     "data path compiled, fed (next batch prepared ahead)", "mining cache refresh"):
        assert any(expected in v for v in train), (expected, train)
    assert any("bare forward" in v for v in variants(report, "extract"))
    assert any("extract_features" in v for v in variants(report, "extract"))
    search = {r["variant"]: r for r in report["rows"] if r["section"] == "search"}
    assert search["faiss-cpu"]["value"] == "faiss not installed"
    resident = next(r for v, r in search.items() if "data resident" in v and "top-1" in v)
    assert resident["note"].startswith("100.00%")  # exact search agrees with float64 brute force


@pytest.mark.slow
def test_tiny_check_compares_with_faiss_when_installed(tmp_path: Path) -> None:
    report = run_check(tmp_path)
    faiss_row = next(r for r in report["rows"] if r["variant"].startswith("faiss (softloc.retrieval"))
    assert faiss_row["note"].startswith("100.00% same top-1")


def test_tuples_per_step_sets_the_batch_and_the_larger_batch(tmp_path: Path) -> None:
    report = run_check(tmp_path, args=("--tuples", "3"))
    assert report["header"]["config"]["tuples"] == 3 and report["header"]["config"]["big_tuples"] == 6
    train = variants(report, "train")
    assert any(v.endswith("3x5 img") for v in train) and any(v.endswith("6x5 img") for v in train)
    assert "3 tuples" in next(r["vs"] for r in report["rows"] if r["variant"] == "host: tuple sampling + hard negatives")
