"""Training knobs for fine-tuning a pretrained trunk: no step cap (train.max_steps_per_epoch null)
and a frozen lower trunk (model.train_from_block)."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from pydantic import ValidationError

from softloc.config import Model, ParamsError, validate_params
from softloc.losses import TupleBatch
from softloc.models import build_network, vgg16_features
from softloc.models.trained_part import TrainedPart, freeze_lower_trunk, frozen_output, vgg16_stage_start
from softloc.training import Trainer
from softloc.training.prefetch import host_batch
from test_train import MODEL, TRIPLET, tiny_world, train_with

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def world():
    return tiny_world()


def test_null_step_cap_runs_every_anchor_of_each_epoch(world, tmp_path) -> None:
    """null: each epoch is every anchor once, in whole steps; a number still caps it."""
    uncapped = Trainer("triplet", TRIPLET, MODEL, train_with(max_steps_per_epoch=None), 0, world, tmp_path / "r", tmp_path / "s")
    anchors = len(world.anchors)
    plan = uncapped.feed.plan(2, None)
    assert plan.steps == [anchors // 2, anchors // 2] and len(plan.schedule) == 2 * (anchors // 2) * 2
    assert uncapped.feed.plan(2, 5).steps == [5, 5]
    assert sorted(plan.orders[0]) == sorted(plan.schedule[: anchors // 2 * 2])  # every anchor once in epoch 1
    with pytest.raises(ValidationError, match="max_steps_per_epoch"):
        train_with(max_steps_per_epoch=0)


LITE = Model(backbone="efficientnet_lite0", init="imagenet", clusters=4, image_max_side=32, lite_last_block=10, train_from_block=8)


def test_lite0_below_the_cut_stays_frozen_in_training(world, tmp_path) -> None:
    """train_from_block 8: two Adam steps move blocks 8-10 and NetVLAD and nothing below block 8;
    no BatchNorm statistic moves anywhere."""
    train = train_with(epochs=1, max_steps_per_epoch=2, checkpoint_every_steps=0, val_every_steps=0)
    trainer = Trainer("triplet", TRIPLET, LITE, train, 0, world, tmp_path / "r", tmp_path / "s", trunk_root=tmp_path / "t")
    backbone = trainer.net.backbone
    frozen = {n for n, p in backbone.named_parameters() if not p.requires_grad}
    assert frozen == {n for n, _ in backbone.named_parameters() if n.startswith(("_conv_stem", "_bn0", *(f"_blocks.{i}." for i in range(8))))}
    optimised = {id(p) for group in trainer.optimizer.param_groups for p in group["params"]}
    assert optimised == {id(p) for p in trainer.net.parameters() if p.requires_grad}
    assert len(optimised) == sum(1 for _ in trainer.net.parameters()) - len(frozen)
    before = {k: v.clone() for k, v in backbone.state_dict().items()}
    trainer.run()
    after = backbone.state_dict()
    for name, value in after.items():
        moved = not torch.equal(value, before[name])
        if name in frozen or name.endswith(("running_mean", "running_var", "num_batches_tracked")):
            assert not moved, name
        elif name.startswith(("_blocks.8.", "_blocks.9.", "_blocks.10.")):
            assert moved, name
    assert trainer.state.global_step == 2


def test_default_trains_the_whole_trunk(world, tmp_path) -> None:
    trainer = Trainer("triplet", TRIPLET, LITE.model_copy(update={"train_from_block": None}), train_with(), 0, world,
                      tmp_path / "r", tmp_path / "s")
    assert all(p.requires_grad for p in trainer.net.parameters())
    assert sum(len(g["params"]) for g in trainer.optimizer.param_groups) == sum(1 for _ in trainer.net.parameters())


@pytest.mark.parametrize("stage, first_trained", [(1, 0), (2, 5), (3, 10), (4, 17), (5, 24)])
def test_vgg16_stage_cut_lies_at_the_stage_first_conv(stage: int, first_trained: int) -> None:
    """Conv stage s starts after s - 1 max-pools (torchvision's indices: conv5_1 is features.24)."""
    features = vgg16_features()
    assert vgg16_stage_start(stage) == first_trained
    assert isinstance(features[first_trained], torch.nn.Conv2d)
    assert first_trained == 0 or isinstance(features[first_trained - 1], torch.nn.MaxPool2d)
    model = Model(backbone="vgg16", clusters=4, image_max_side=32, train_from_block=stage)
    assert freeze_lower_trunk(features, model) == 2 * (sum(isinstance(m, torch.nn.Conv2d) for m in features[:first_trained]))
    assert all(not p.requires_grad for p in features[:first_trained].parameters())
    assert all(p.requires_grad for p in features[first_trained:].parameters())


@pytest.mark.parametrize("model, message", [
    ({"backbone": "small", "init": "random", "train_from_block": 0}, "null for model.backbone small"),
    ({"backbone": "vgg16", "init": "random", "train_from_block": 6}, "conv stage 1-5"),
    ({"backbone": "vgg16", "init": "random", "train_from_block": 0}, "conv stage 1-5"),
    ({"backbone": "efficientnet_lite0", "init": "imagenet", "lite_last_block": 7, "train_from_block": 8}, "block 0-7"),
], ids=["small", "vgg16_above", "vgg16_zero", "lite_above_cut"])
def test_params_refuse_a_cut_the_backbone_lacks(model: dict, message: str) -> None:
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    raw["model"].update(model)
    with pytest.raises(ParamsError, match=message) as err:
        validate_params(raw)
    assert "model.train_from_block" in str(err.value)
    raw["model"]["train_from_block"] = None
    assert validate_params(raw).model.train_from_block is None


def test_lites_frozen_batchnorm_is_not_synchronised_under_torchrun() -> None:
    """DDP on CUDA converts BatchNorm with live statistics to SyncBatchNorm; Lite's frozen one
    must stay as it is (converted, it would train on batch statistics)."""
    from softloc.training.device import has_live_batchnorm

    lite = build_network(LITE, 0)
    assert not has_live_batchnorm(lite)
    assert has_live_batchnorm(torch.nn.Sequential(torch.nn.Conv2d(3, 4, 1), torch.nn.BatchNorm2d(4)))
    assert not has_live_batchnorm(build_network(MODEL, 0))  # GroupNorm


def test_a_step_from_the_frozen_trunk_cache_equals_a_step_from_the_images(world, tmp_path) -> None:
    """The cache holds the frozen part's output of every training image; the trained part on it
    gives the whole network's descriptors and loss on the images (to 1e-5)."""
    trainer = Trainer("triplet", TRIPLET, LITE, train_with(), 0, world, tmp_path / "r", tmp_path / "s", trunk_root=tmp_path / "t")
    reference = copy.deepcopy(trainer.net).eval()
    trainer.step_net = trainer.trained_part()
    store = trainer.feed.store
    assert trainer.cached and isinstance(store, np.memmap) and len(store) == len(world.train.images)
    assert store.shape[1:] == (2, 2, 80)  # block 7's output (80 channels, stride 16) of a 32x24 image
    rows = trainer.feed.sampler.sample(trainer.feed.sampler.anchors[:2], np.random.default_rng(0))
    images = torch.from_numpy(world.train.images[rows.ravel()])
    with torch.no_grad():
        expected = reference(reference.preprocess(images))
        cached = trainer.step_net(host_batch(store, world.train.xy, rows, pin=False).images.permute(0, 3, 1, 2))
        spec = trainer.feed.spec
        positions = torch.from_numpy((world.train.xy[rows] - world.train.xy[rows][:, :1]).astype(np.float32))
        expected_loss = float(trainer.loss_fn(TupleBatch(expected.view(*rows.shape, -1), positions, spec.n_close, spec.n_far, spec.n_extra)))
    torch.testing.assert_close(cached, expected, rtol=0, atol=1e-5)
    loss = trainer.train_step(host_batch(store, world.train.xy, rows, pin=False))
    assert loss == pytest.approx(expected_loss, abs=1e-5)


def test_the_frozen_trunk_is_computed_once_for_every_run_and_split(world, tmp_path, monkeypatch) -> None:
    """A second run (another method and seed) reads the first run's memo: no frozen-trunk forward;
    a changed image store gets a file of its own."""
    from softloc.models import trunk_memo

    train = train_with(epochs=1, max_steps_per_epoch=2, checkpoint_every_steps=0)
    Trainer("triplet", TRIPLET, LITE, train, 0, world, tmp_path / "r", tmp_path / "s", trunk_root=tmp_path / "t").run()
    files = sorted((tmp_path / "t").glob("*.npy"))
    assert len(files) == 3  # training, validation reference, validation queries
    calls = []
    monkeypatch.setattr(trunk_memo, "frozen_output", lambda *a: calls.append(1))
    second = Trainer("triplet", TRIPLET.model_copy(update={"margin": 0.3}), LITE, train, 1, world, tmp_path / "r2", tmp_path / "s2",
                     trunk_root=tmp_path / "t")
    assert not calls and sorted((tmp_path / "t").glob("*.npy")) == files
    assert any(np.array_equal(second.sources.train.store, np.load(f)) for f in files)
    changed = np.array(world.val_queries.images)
    changed[0, 0, 0, 0] ^= 1
    monkeypatch.undo()
    trunk_memo.frozen_trunk_outputs(second.net, LITE, changed, 8, torch.device("cpu"), None, tmp_path / "t")
    assert len(list((tmp_path / "t").glob("*.npy"))) == 4 and not list((tmp_path / "t").glob(".*tmp*"))


def test_validation_on_the_memo_equals_validation_on_the_images(world, tmp_path) -> None:
    """The trained part on the memoised trunk output validates as the whole network on the images."""
    from softloc.config import Pca
    from softloc.training.embedding import Source, Sources
    from softloc.training.validation import validate

    trainer = Trainer("triplet", TRIPLET, LITE, train_with(), 0, world, tmp_path / "r", tmp_path / "s", trunk_root=tmp_path / "t")
    images = Sources(Source(world.train.images), Source(world.val_reference.images), Source(world.val_queries.images))
    pca = Pca(dim=8, fit_images=40, seed=0, eps=1e-9)
    for whitening in (None, pca):
        on_memo = validate(trainer.net, world, trainer.sources, trainer.train, whitening, trainer.placement)
        assert on_memo == validate(trainer.net, world, images, trainer.train, whitening, trainer.placement)


@pytest.mark.parametrize("model", [
    Model(backbone="vgg16", clusters=4, image_max_side=32, train_from_block=5),
    Model(backbone="efficientnet_lite0", clusters=4, image_max_side=32, train_from_block=3),
], ids=["vgg16_conv5", "lite0_block3"])
def test_the_trained_part_on_the_frozen_output_is_the_whole_network(model: Model) -> None:
    net = build_network(model, 0).eval()
    x = net.preprocess(torch.randint(0, 256, (2, 24, 32, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(7)))
    with torch.no_grad():
        torch.testing.assert_close(TrainedPart(net, model)(frozen_output(net.backbone, model, x)), net(x), rtol=0, atol=1e-6)
