"""Resume state that cannot mix versions (softloc.training.resume and .state, Trainer.save_checkpoint/try_resume):
the key covers the code, the file loads with weights_only=True, stale states are swept."""

from __future__ import annotations

import logging
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from softloc.training import Trainer, resume
from softloc.training.mining import MiningCache
from softloc.training.state import TrainState

sys.path.insert(0, str(Path(__file__).parent))
from test_train import MODEL, TRAIN, TRIPLET, tiny_world  # noqa: E402


@pytest.fixture(scope="module")
def world():
    return tiny_world(length=60, traversals=2)


def trainer(world, method: str, root: Path, model_path: Path) -> Trainer:
    t = Trainer(method, TRIPLET, MODEL, TRAIN, 0, world, root / "reports", root / "resume")
    t.checkpoints.model_path = model_path
    return t


def test_code_fingerprint_follows_the_source_of_imported_project_modules(tmp_path: Path, monkeypatch) -> None:
    source = tmp_path / "probe.py"
    source.write_text("X = 1\n")
    module = types.ModuleType("softloc._probe")
    module.__file__ = str(source)
    monkeypatch.setitem(sys.modules, "softloc._probe", module)
    before = resume.code_fingerprint()
    source.write_text("X = 2\n")
    assert resume.code_fingerprint() != before
    monkeypatch.delitem(sys.modules, "softloc._probe")
    outside = types.ModuleType("elsewhere")
    outside.__file__ = str(source)
    monkeypatch.setitem(sys.modules, "elsewhere", outside)
    before = resume.code_fingerprint()
    source.write_text("X = 3\n")                  # not project code: no part of the key
    assert resume.code_fingerprint() == before


def test_state_is_plain_and_round_trips(tmp_path: Path) -> None:
    cache = MiningCache(rows=np.arange(5), features=np.ones((5, 3), np.float32), anchor_rows=np.arange(2),
                        anchor_features=np.zeros((2, 3), np.float32))
    state = TrainState(epoch=1, global_step=7, best_acc=np.float64(0.5), best_weights={"w": torch.ones(2)},
                       cache=cache, history=[{"step": 1, "val/top1": np.float32(0.25)}])
    resume.save_state(tmp_path / "run", "k1", {"state": state, "rng": torch.get_rng_state()}, tmp_path / "model.pt")
    raw = torch.load(tmp_path / "run" / resume.STATE_FILE, weights_only=True)   # nothing to unpickle but data
    assert raw["key"] == "k1"
    back = resume.load_state(tmp_path / "run", "k1", {"TrainState": TrainState, "MiningCache": MiningCache})["state"]
    assert isinstance(back, TrainState) and isinstance(back.cache, MiningCache)
    assert back.epoch == 1 and back.global_step == 7 and back.best_acc == 0.5
    np.testing.assert_array_equal(back.cache.features, cache.features)
    assert torch.equal(back.best_weights["w"], torch.ones(2)) and back.history == [{"step": 1, "val/top1": 0.25}]


class Payload:
    """Stands for anything that needs code to unpickle (a planted resume file)."""


def test_a_state_that_needs_code_to_load_is_discarded_not_run(tmp_path: Path, caplog) -> None:
    (tmp_path / "run").mkdir()
    torch.save({"format": resume.FORMAT, "key": "k1", "state": Payload()}, tmp_path / "run" / resume.STATE_FILE)
    with caplog.at_level(logging.WARNING):
        assert resume.load_state(tmp_path / "run", "k1", {}) is None
    assert "not tensors and plain containers" in caplog.text and not (tmp_path / "run").exists()


def test_an_edit_of_the_code_starts_afresh_and_discards_the_old_state(world, tmp_path: Path, monkeypatch, caplog) -> None:
    old = trainer(world, "triplet", tmp_path, tmp_path / "model.pt")
    old.save_checkpoint()                      # a run killed after its first checkpoint
    monkeypatch.setattr(resume, "code_fingerprint", lambda packages=resume.CODE_PACKAGES: "edited softloc/losses")
    new = trainer(world, "triplet", tmp_path, tmp_path / "model.pt")
    assert new.checkpoints.dir != old.checkpoints.dir
    with caplog.at_level(logging.INFO):
        assert not new.try_resume()
    assert not old.checkpoints.dir.exists()
    assert f"removing stale resume state {old.checkpoints.dir}" in caplog.text and "code changed" in caplog.text


def test_a_run_restored_from_dvc_run_cache_leaves_no_state(world, tmp_path: Path, caplog) -> None:
    killed = trainer(world, "triplet", tmp_path, tmp_path / "triplet" / "model.pt")
    killed.save_checkpoint()
    pending = trainer(world, "pending", tmp_path, tmp_path / "pending" / "model.pt")
    pending.save_checkpoint()                  # killed too, its stage not rerun yet: must survive
    (tmp_path / "triplet").mkdir()
    (tmp_path / "triplet" / "model.pt").write_bytes(b"restored by dvc")  # run cache: no command ran
    other = trainer(world, "other", tmp_path, tmp_path / "other" / "model.pt")
    with caplog.at_level(logging.INFO):
        assert not other.try_resume()          # the next training process of any method sweeps
    assert not killed.checkpoints.dir.exists() and pending.checkpoints.dir.exists()
    assert "restored from DVC's run cache" in caplog.text


def test_a_method_name_cannot_reach_outside_the_resume_root(world, tmp_path: Path) -> None:
    (tmp_path / "models" / "sibling").mkdir(parents=True)
    t = Trainer("..", TRIPLET, MODEL, TRAIN, 0, world, tmp_path / "reports", tmp_path / "models" / "resume")
    with pytest.raises(ValueError, match="outside its root"):
        t.try_resume()
    assert (tmp_path / "models" / "sibling").is_dir()
