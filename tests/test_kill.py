"""A training process killed with SIGKILL mid-run, then rerun: the model file is byte-identical to
an uninterrupted run's, and nothing half-written is left where a later stage could read it.

The process trains the tiny in-memory world of test_train.py through softloc.training.train_method,
as `python -m pipeline.train` does (which needs the whole data pipeline first).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from softloc.training import resume

TESTS = Path(__file__).resolve().parent
DRIVER = f"""
import sys
sys.path.insert(0, {str(TESTS)!r})
from test_train import MODEL, TRIPLET, tiny_world, train_with
from softloc.training import train_method
from pipeline import setup_logging
setup_logging()
out = sys.argv[1]
cfg = train_with(epochs=2, max_steps_per_epoch=8, checkpoint_every_steps=3)
train_method("triplet", TRIPLET, MODEL, cfg, 0, tiny_world(length=80, traversals=2),
             f"{{out}}/models/model.pt", f"{{out}}/reports", f"{{out}}/resume")
"""


def start(out: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(TESTS.parent), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-c", DRIVER, str(out)], cwd=TESTS.parent, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(proc: subprocess.Popen) -> str:
    output, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, output[-3000:]
    return output


def leftovers(out: Path) -> list[Path]:
    """Temporary files (softloc.io.atomic_path names them .<target>.<random>.tmp)."""
    return sorted(p for p in out.rglob("*") if p.name.endswith(".tmp"))


@pytest.mark.slow
def test_sigkill_mid_training_then_rerun_gives_the_uninterrupted_model(tmp_path: Path) -> None:
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    finish(start(straight))

    proc = start(killed)
    deadline = time.monotonic() + 240
    while not list((killed / "resume").rglob(resume.STATE_FILE)):     # the first checkpoint is on disk
        assert proc.poll() is None, "the run ended before its first checkpoint"
        assert time.monotonic() < deadline
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert not (killed / "models" / "model.pt").exists(), "killed too late: the run had finished"
    assert not (killed / "reports" / "metrics.json").exists()
    assert not leftovers(killed / "models")

    output = finish(start(killed))
    assert "resumed triplet from" in output
    assert (killed / "models" / "model.pt").read_bytes() == (straight / "models" / "model.pt").read_bytes()
    assert (killed / "reports" / "metrics.json").read_bytes() == (straight / "reports" / "metrics.json").read_bytes()
    assert not list((killed / "resume").rglob(resume.STATE_FILE))   # state deleted with the model written
    assert not leftovers(killed)
