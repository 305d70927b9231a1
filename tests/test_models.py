"""The network: VGG-16's torchvision layout, weights loading, NetVLAD against a numpy reference,
k-means initialisation, preprocessing and the model file round trip."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from softloc.config import Model
from softloc.models.checkpoint import state_checksum
from softloc.models import (
    NetVLAD,
    build_network,
    load_model,
    load_vgg16_weights,
    model_record,
    preprocess,
    save_model,
    vgg16_features,
)

SMALL = Model(backbone="small", init="random", weights="", clusters=8, image_max_side=96)


def small(**update: object) -> Model:
    """SMALL with `update`d keys, validated."""
    return Model.model_validate({**SMALL.model_dump(exclude_unset=True), **update})
# torchvision's VGG-16 `features`: conv layers at these indices (ReLU after each, max-pools at
# 4, 9, 16, 23, 30), with these output channels; all 13 are kept.
VGG16_CONV = {0: 64, 2: 64, 5: 128, 7: 128, 10: 256, 12: 256, 14: 256, 17: 512, 19: 512, 21: 512, 24: 512, 26: 512, 28: 512}


def vgg16_layout() -> dict[str, tuple[int, ...]]:
    """Key -> shape of torchvision's vgg16 state dict, `features` part, from VGG16_CONV."""
    shapes, in_c = {}, 3
    for idx, out_c in VGG16_CONV.items():
        shapes[f"features.{idx}.weight"] = (out_c, in_c, 3, 3)
        shapes[f"features.{idx}.bias"] = (out_c,)
        in_c = out_c
    return shapes


def test_vgg16_features_have_torchvision_layout():
    features = vgg16_features()
    state = {f"features.{k}": tuple(v.shape) for k, v in features.state_dict().items()}
    assert state == vgg16_layout()
    assert len(VGG16_CONV) == 13
    assert isinstance(features[28], torch.nn.Conv2d) and len(features) == 29  # ends at conv5_3, as NetVLAD
    assert sum(isinstance(m, torch.nn.MaxPool2d) for m in features) == 4


@pytest.fixture(scope="module")
def fake_vgg16_file(tmp_path_factory):
    """A file shaped like torchvision's vgg16-397923af.pth (small stand-in classifier)."""
    gen = torch.Generator().manual_seed(1)
    state = {k: torch.randn(shape, generator=gen) * 0.01 for k, shape in vgg16_layout().items()}
    state["features.29.unused"] = torch.zeros(1)  # beyond the kept layers: skipped
    state["classifier.0.weight"] = torch.zeros(4, 4)
    state["classifier.6.bias"] = torch.zeros(4)
    path = tmp_path_factory.mktemp("weights") / "vgg16-397923af.pth"
    torch.save(state, path)
    return path, state


def test_imagenet_init_loads_torchvision_state_dict(fake_vgg16_file):
    path, state = fake_vgg16_file
    net = build_network(small(backbone="vgg16", init="imagenet", weights=str(path), clusters=4), 0)
    assert torch.equal(net.backbone[28].weight, state["features.28.weight"])
    assert torch.equal(net.backbone[0].bias, state["features.0.bias"])
    assert net.dim == 4 * 512


def test_vgg16_weights_with_wrong_layout_fail_naming_the_file(tmp_path, fake_vgg16_file):
    _, state = fake_vgg16_file
    broken = {k: v for k, v in state.items() if k != "features.14.weight"}
    path = tmp_path / "broken.pth"
    torch.save(broken, path)
    with pytest.raises(ValueError, match="broken.pth"):
        load_vgg16_weights(vgg16_features(), path)


@pytest.mark.parametrize("weights", ["", "no/such/vgg16.pth"])
def test_imagenet_init_without_weights_file_fails_clearly(weights):
    with pytest.raises(FileNotFoundError) as err:
        build_network(small(backbone="vgg16", init="imagenet", weights=weights), 0)
    message = str(err.value)
    assert f"model.weights={weights!r}" in message and "never downloads" in message


def test_bad_model_params_fail():
    with pytest.raises(ValueError, match="backbone"):
        small(backbone="resnet")
    with pytest.raises(ValueError, match="init"):
        small(init="pretrained")
    with pytest.raises(ValueError, match="vgg16"):
        build_network(small(init="imagenet", weights="x.pth"), 0)


def np_netvlad(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """NetVLAD of one (C, H, W) map, descriptor by descriptor."""
    c, h, w = x.shape
    vlad = np.zeros_like(centroids)
    for n in range(h * w):
        d = x[:, n // w, n % w]
        d = d / np.linalg.norm(d)
        logits = weight @ d + bias
        a = np.exp(logits - logits.max())
        a /= a.sum()
        vlad += a[:, None] * (d[None, :] - centroids)
    vlad /= np.linalg.norm(vlad, axis=1, keepdims=True)
    vlad = vlad.ravel()
    return vlad / np.linalg.norm(vlad)


def test_netvlad_matches_numpy_and_is_normalised():
    torch.manual_seed(0)
    pool = NetVLAD(clusters=5, channels=7)
    x = torch.randn(3, 7, 4, 6)
    out = pool(x).detach().numpy()
    assert out.shape == (3, 5 * 7) and pool.dim == 35
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-6)
    # intra-normalisation: each cluster's block has norm 1 before the global L2, so 1/sqrt(K) after
    np.testing.assert_allclose(np.linalg.norm(out.reshape(3, 5, 7), axis=2), 1 / np.sqrt(5), rtol=1e-5)
    w = pool.assign.weight.detach().numpy()[:, :, 0, 0]
    b = pool.assign.bias.detach().numpy()
    c = pool.centroids.detach().numpy()
    for i in range(3):
        np.testing.assert_allclose(out[i], np_netvlad(x[i].numpy(), w, b, c), rtol=1e-4, atol=1e-6)


def test_network_output_is_normalised_with_dimension_k_times_c():
    net = build_network(SMALL, 0).eval()
    images = torch.randint(0, 256, (2, 72, 96, 3), dtype=torch.uint8)
    x = preprocess(images)
    out = net(x)
    assert net.dim == 8 * 128 and out.shape == (2, net.dim)
    torch.testing.assert_close(out.norm(dim=1), torch.ones(2))
    assert net.descriptors(x).shape == (2 * 9 * 12, 128)  # three 2x2 pools: 72x96 -> 9x12


def test_netvlad_pools_in_float32_under_autocast():
    net = build_network(SMALL, 0).eval()
    x = preprocess(torch.randint(0, 256, (1, 24, 32, 3), dtype=torch.uint8))
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        out = net(x)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out.norm(dim=1), torch.ones(1))


def test_init_clusters_kmeans_finds_clusters_and_sharp_assignment():
    gen = torch.Generator().manual_seed(0)
    centres = torch.nn.functional.normalize(torch.randn(4, 16, generator=gen), dim=1)
    desc = (centres.repeat_interleave(200, dim=0) + 0.05 * torch.randn(800, 16, generator=gen)) * 3.0
    pool = NetVLAD(clusters=4, channels=16)
    pool.init_clusters(desc, seed=0)
    found = pool.centroids.detach()
    unit = torch.nn.functional.normalize(desc, dim=1)
    nearest = torch.cdist(unit, found).argmin(dim=1)
    # k-means fixed point: each centroid is the mean of the (L2-normalised) descriptors it owns
    for k in range(4):
        torch.testing.assert_close(found[k], unit[nearest == k].mean(dim=0), atol=1e-4, rtol=1e-4)
    # assignment from the centroids: logits = -alpha ||x - c||^2 + const, so the nearest centroid
    # wins and, on average over the descriptors, outweighs the second by exactly 100 (log ratio)
    soft = pool.assign(unit[:, :, None, None])[:, :, 0, 0].softmax(dim=1).detach()
    top2 = soft.topk(2, dim=1).values
    assert torch.equal(soft.argmax(dim=1), nearest)
    assert torch.log(top2[:, 0] / top2[:, 1]).mean().item() == pytest.approx(np.log(100.0), rel=1e-3)
    with pytest.raises(ValueError, match="descriptors"):
        pool.init_clusters(desc[:3])


def test_build_network_is_seeded_and_leaves_global_rng_alone():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a, b = build_network(SMALL, 0), build_network(SMALL, 0)
    assert torch.rand(1) == before
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    c = build_network(SMALL, 1)
    assert not torch.equal(a.backbone[0].weight, c.backbone[0].weight)


def test_preprocess_normalises_with_imagenet_statistics():
    images = torch.tensor([[[[0, 128, 255]]]], dtype=torch.uint8).expand(1, 2, 3, 3).contiguous()
    x = preprocess(images)
    assert x.shape == (1, 3, 2, 3) and x.dtype == torch.float32
    expected = [(0 / 255 - 0.485) / 0.229, (128 / 255 - 0.456) / 0.224, (255 / 255 - 0.406) / 0.225]
    torch.testing.assert_close(x[0, :, 1, 2], torch.tensor(expected))
    with pytest.raises(ValueError, match="uint8"):
        preprocess(images.float())


def test_save_load_round_trip_gives_identical_outputs(tmp_path):
    net = build_network(SMALL, 0)
    x = preprocess(torch.randint(0, 256, (3, 72, 96, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(2)))
    net.init_clusters(net.descriptors(x).detach())
    with torch.no_grad():  # weights away from the seeded initialisation load_model rebuilds
        net.backbone[0].weight.mul_(1.5)
    net.eval()
    expected = net(x)
    info = {"method": "soft", "init": "random", "epochs": 2, "best_val_accuracy": 0.5}
    path = tmp_path / "models" / "soft" / "model.pt"
    save_model(path, net, SMALL, 0, info)
    loaded, loaded_info = load_model(path, "cpu")
    assert loaded_info == info and not loaded.training
    assert torch.equal(loaded(x), expected)


def test_load_model_of_imagenet_model_does_not_need_the_weights_file(tmp_path, fake_vgg16_file):
    weights, _ = fake_vgg16_file
    cfg = small(backbone="vgg16", init="imagenet", weights=str(weights), clusters=2)
    net = build_network(cfg, 0).eval()
    path = tmp_path / "model.pt"
    save_model(path, net, cfg.model_copy(update={"weights": str(tmp_path / "gone.pth")}), 0, {"init": "imagenet"})
    loaded, _ = load_model(path)
    x = torch.randn(1, 3, 32, 32)
    torch.testing.assert_close(loaded(x), net(x))


def test_load_model_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        load_model(tmp_path / "missing.pt")
    bogus = tmp_path / "bogus.pt"
    torch.save({"weights": 1}, bogus)
    with pytest.raises(ValueError, match="bogus.pt"):
        load_model(bogus)


def test_save_model_stores_plain_info_and_rejects_objects(tmp_path):
    net = build_network(SMALL, 0)
    save_model(tmp_path / "m.pt", net, SMALL, 0, {"best_val_accuracy": np.float32(0.25), "epochs": np.int64(3)})
    _, info = load_model(tmp_path / "m.pt")
    assert info == {"best_val_accuracy": 0.25, "epochs": 3} and type(info["epochs"]) is int
    with pytest.raises(TypeError, match="JSON-like"):
        save_model(tmp_path / "bad.pt", net, SMALL, 0, {"when": object()})
    assert not (tmp_path / "bad.pt").exists()


def test_model_file_records_the_model_keys_as_set_and_the_seed(tmp_path):
    save_model(tmp_path / "m.pt", build_network(SMALL, 3), SMALL, 3, {})
    assert torch.load(tmp_path / "m.pt", weights_only=True)["model_cfg"] == {**SMALL.model_dump(exclude_unset=True), "seed": 3}
    sparse = Model(backbone="small", clusters=8, image_max_side=96)   # defaults stay out of the record
    assert model_record(sparse, 0) == {"backbone": "small", "clusters": 8, "image_max_side": 96, "seed": 0}
    assert model_record(SMALL, 0, init="checkpoint") == {**SMALL.model_dump(exclude_unset=True), "init": "checkpoint", "seed": 0}


def test_model_file_checksum_is_deterministic_and_covers_every_tensor(tmp_path):
    """The same weights give byte-identical files (a rerun stays byte-identical); the checksum
    changes with any byte, name, dtype or shape of the state dict."""
    net = build_network(SMALL, 0)
    save_model(tmp_path / "a.pt", net, SMALL, 0, {"method": "soft"})
    save_model(tmp_path / "b.pt", build_network(SMALL, 0), SMALL, 0, {"method": "soft"})
    assert (tmp_path / "a.pt").read_bytes() == (tmp_path / "b.pt").read_bytes()
    state = {k: v.clone() for k, v in net.state_dict().items()}
    reference = state_checksum(state)
    assert torch.load(tmp_path / "a.pt", weights_only=True)["state_sha256"] == reference
    first = next(iter(state))
    nudged = state[first].contiguous().clone()
    nudged.view(-1)[0] += 0.5
    assert state_checksum({**state, first: state[first].contiguous()}) == reference   # memory layout is no part of it
    changed = [
        {**state, first: nudged},
        {("renamed" if k == first else k): v for k, v in state.items()},
        {**state, first: state[first].double()},
        {**state, first: state[first].reshape(-1)},
    ]
    assert len({reference, *(state_checksum(s) for s in changed)}) == 5
