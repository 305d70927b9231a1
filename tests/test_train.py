"""The training loop on a tiny in-memory world: the loss drops, a killed run resumes identically."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from softloc.config import Mining, Model, Train, method_model
from softloc.losses import TupleBatch
from softloc.models import load_model, preprocess
from softloc.training import Split, TrainData, Trainer, loop, train_method
from softloc.training.embedding import init_clusters

MODEL = Model(backbone="small", init="random", weights="", clusters=4, image_max_side=32, small_channels=[8, 16, 16, 16])
TRAIN = Train(
    device="cpu", amp="off", lr=1.0e-3, lr_decay=0.5, epochs=2,
    max_steps_per_epoch=5, batch_tuples=2, n_close=4, n_far=4, max_yaw_deg=30,
    init_images=40, mining=Mining(cache_size=60, refresh_steps=4, hard_fraction=0.5),
    val_threshold_m=5, val_max_queries=1000, val_every_steps=0, patience=5, checkpoint_every_steps=3,
    close_from="any_traversal",
    eval_batch_size=32,
)
TRIPLET = method_model("triplet")(loss="triplet", r1=5, r2=10)
OFF_THE_SHELF = method_model("none")(loss="none", r1=10, r2=25)


def train_with(**update: object) -> Train:
    """TRAIN with `update`d keys (`mining` as a dict of its own updates), validated."""
    mining = {**TRAIN.mining.model_dump(), **update.pop("mining", {})}
    return Train.model_validate({**TRAIN.model_dump(), **update, "mining": mining})


def render(x: np.ndarray, brightness: float, rng: np.random.Generator, texture: np.ndarray) -> np.ndarray:
    """32x24 views of a street: column c shows the facade at x + c/2 metres; rows shade it."""
    cols = np.clip((x[:, None] + np.arange(32) / 2).astype(int), 0, len(texture) - 1)
    img = texture[cols][:, None, :, :] * np.linspace(0.6, 1.0, 24)[None, :, None, None] * brightness
    return np.clip(img + rng.normal(0, 8, img.shape), 0, 255).astype(np.uint8)


def tiny_world(length: int = 120, traversals: int = 3) -> TrainData:
    """A straight street driven `traversals` times, one frame per metre; anchors every 2 m of the first run."""
    rng = np.random.default_rng(0)
    texture = np.repeat(rng.uniform(0, 255, size=(length // 4 + 12, 3)), 4, axis=0)
    xs = [np.arange(length) + rng.uniform(-0.3, 0.3, length) for _ in range(traversals)]
    x = np.concatenate(xs)
    xy = np.c_[x, rng.normal(0, 0.5, len(x))]
    images = np.concatenate([render(xi, 0.7 + 0.3 * t, rng, texture) for t, xi in enumerate(xs)])
    anchors = []
    for a in range(0, length, 2):
        d = np.hypot(*(xy - xy[a]).T)
        nbr = np.flatnonzero((d <= 25) & (np.arange(len(xy)) != a))
        anchors.append({"anchor": a, "neighbours": nbr, "distance_m": d[nbr].astype(np.float32), "yaw_diff_deg": np.zeros(len(nbr), np.float32)})
    ref_x = np.arange(0, length, 2) + 0.5
    qry_x = np.arange(1, length, 4) + 0.2
    return TrainData(
        train=Split(images, xy),
        yaw_deg=np.full(len(x), 90.0),
        anchors=pd.DataFrame(anchors),
        val_reference=Split(render(ref_x, 0.8, rng, texture), np.c_[ref_x, np.zeros_like(ref_x)]),
        val_queries=Split(render(qry_x, 1.1, rng, texture), np.c_[qry_x, np.zeros_like(qry_x)]),
        fingerprint="tiny",
        traversal=np.repeat(np.arange(traversals), length),
    )


@pytest.fixture(scope="module")
def world() -> TrainData:
    return tiny_world()


def fixed_batch_loss(trainer: Trainer, rows: np.ndarray) -> float:
    """The method's loss on fixed tuples (train-mode forward on a copy, so BN statistics stay untouched)."""
    net = copy.deepcopy(trainer.net).train()
    with torch.no_grad():
        x = preprocess(torch.from_numpy(trainer.data.train.images[rows.ravel()]))
        xy = trainer.data.train.xy[rows]
        pos = torch.from_numpy((xy - xy[:, :1]).astype(np.float32))
        spec = trainer.feed.spec
        batch = TupleBatch(net(x).view(*rows.shape, -1), pos, spec.n_close, spec.n_far, spec.n_extra)
        return float(trainer.loss_fn(batch))


def test_short_training_lowers_the_loss(world: TrainData, tmp_path: Path) -> None:
    cfg = train_with(epochs=1, max_steps_per_epoch=20, checkpoint_every_steps=0, lr=3e-3, mining={"refresh_steps": 10})
    # margin 0.5: the tiny world's traversals differ in brightness only, which the initial
    # (GroupNorm) network already ignores; with margin 0.1 its loss starts near zero
    trainer = Trainer("triplet", TRIPLET.model_copy(update={"margin": 0.5}), MODEL, cfg, 0, world, tmp_path / "reports", tmp_path / "resume")
    anchors = trainer.feed.sampler.anchors[::4][:12]
    rows = trainer.feed.sampler.sample(anchors, np.random.default_rng(123))
    init_clusters(trainer.net, world, cfg, 0, trainer.placement)
    before = fixed_batch_loss(trainer, rows)
    trainer.run()
    after = fixed_batch_loss(trainer, rows)
    assert after < 0.7 * before, (before, after)
    losses = [h["train/loss"] for h in trainer.state.history if "train/loss" in h]
    assert len(losses) == 20


def test_killed_run_resumes_and_ends_with_identical_weights(world: TrainData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def run(name: str) -> tuple[dict[str, torch.Tensor], dict]:
        summary = train_method("triplet", TRIPLET, MODEL, TRAIN, 0, world, tmp_path / name / "model.pt", tmp_path / name / "reports", tmp_path / name / "resume")
        net, info = load_model(tmp_path / name / "model.pt")
        return net.state_dict(), {**info, **summary}

    straight, info = run("straight")
    assert info["steps"] == 10 and info["epochs"] == 2

    # plant a kill in the 8th step: the checkpoint of step 6 survives, steps 7.. are lost
    original = Trainer.train_step
    calls = {"n": 0}

    def dying_step(self: Trainer, rows: np.ndarray) -> float:
        calls["n"] += 1
        if calls["n"] == 8:
            raise KeyboardInterrupt("killed")
        return original(self, rows)

    monkeypatch.setattr(Trainer, "train_step", dying_step)
    with pytest.raises(KeyboardInterrupt):
        run("resumed")
    states = list((tmp_path / "resumed" / "resume" / "triplet").glob("*/state.pt"))
    assert len(states) == 1 and not (tmp_path / "resumed" / "model.pt").exists()
    monkeypatch.setattr(Trainer, "train_step", original)
    calls["n"] = 0
    counting = Trainer.train_step

    def counted(self: Trainer, rows: np.ndarray) -> float:
        calls["n"] += 1
        return counting(self, rows)

    monkeypatch.setattr(Trainer, "train_step", counted)
    resumed, info2 = run("resumed")
    assert calls["n"] == 4  # steps 7..10 only
    assert resumed.keys() == straight.keys()
    for k in straight:
        assert torch.equal(straight[k], resumed[k]), k
    assert info2["best_val_top1"] == info["best_val_top1"] and info2["best_step"] == info["best_step"]
    loss_log = "reports/plots/metrics/train/loss.tsv"
    assert (tmp_path / "straight" / loss_log).read_text() == (tmp_path / "resumed" / loss_log).read_text()
    assert not states[0].exists()


def test_off_the_shelf_saves_the_initialised_network_and_reports(world: TrainData, tmp_path: Path) -> None:
    summary = train_method("offtheshelf", OFF_THE_SHELF, MODEL, TRAIN, 0, world, tmp_path / "model.pt", tmp_path / "reports", tmp_path / "resume")
    net, info = load_model(tmp_path / "model.pt")
    assert info["steps"] == 0 and info["init"] == "random" and 0 <= info["best_val_top1"] <= 1
    metrics = json.loads((tmp_path / "reports" / "metrics.json").read_text())
    assert metrics["best_val_top1"] == summary["best_val_top1"]
    assert (tmp_path / "reports" / "plots" / "metrics" / "val" / "top1.tsv").is_file()
    # k-means initialised the NetVLAD centroids: means of unit descriptors, norm <= 1 (the
    # random uniform start of 16 channels has norm ~2.3)
    norms = net.pool.centroids.norm(dim=1)
    assert (norms <= 1 + 1e-5).all() and (norms > 0.5).all(), norms


def test_validation_at_learning_rate_zero_stays_at_the_step_zero_baseline(world: TrainData, tmp_path: Path) -> None:
    # Early stopping compares every validation with the step-0 one: training steps that do not
    # change the weights must not change the validated network (BatchNorm's running statistics
    # did: 0.497 -> 0.427 on the default world; the small backbone now has no running statistics).
    cfg = train_with(epochs=1, max_steps_per_epoch=6, val_every_steps=2, patience=10, checkpoint_every_steps=0)
    cfg = cfg.model_copy(update={"lr": 0.0})  # past the schema (lr > 0): no step changes the weights
    trainer = Trainer("triplet", TRIPLET, MODEL, cfg, 0, world, tmp_path / "reports", tmp_path / "resume")
    trainer.run()
    vals = [h["val/top1"] for h in trainer.state.history if "val/top1" in h]
    assert len(vals) == 4 and max(abs(v - vals[0]) for v in vals) <= 0.01, vals


def test_mining_cache_refreshed_at_each_epoch_start_and_every_refresh_steps(world: TrainData, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    refreshes: list[tuple[int, int]] = []
    original = loop.refresh_cache

    def recording(net, data, anchors, rng, train, placement):  # type: ignore[no-untyped-def]
        refreshes.append((trainer.state.global_step, len(anchors)))
        return original(net, data, anchors, rng, train, placement)

    monkeypatch.setattr(loop, "refresh_cache", recording)
    cfg = train_with(max_steps_per_epoch=5, checkpoint_every_steps=0)  # 2 epochs of 5 steps, refresh_steps 4
    trainer = Trainer("triplet", TRIPLET, MODEL, cfg, 0, world, tmp_path / "reports", tmp_path / "resume")
    trainer.run()
    # epoch steps 0 and 4 of each epoch; each cache holds the anchors of the steps up to the next refresh
    assert refreshes == [(0, 4 * 2), (4, 1 * 2), (5, 4 * 2), (9, 1 * 2)]


def test_close_from_other_traversals_reaches_the_sampler(world: TrainData, tmp_path: Path) -> None:
    trainer = Trainer("triplet", TRIPLET, MODEL, train_with(close_from="other_traversals"), 0, world, tmp_path / "reports", tmp_path / "resume")
    rows = trainer.feed.sampler.sample(trainer.feed.sampler.anchors[:20], np.random.default_rng(0))
    assert (world.traversal[rows[:, 1 : 1 + trainer.feed.spec.n_close]] != world.traversal[rows[:, :1]]).all()
    with pytest.raises(ValueError, match="close_from"):
        train_with(close_from="own")
