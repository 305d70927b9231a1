"""The aggregators (softloc.models.aggregators): unit descriptors of the right size on every
backbone's width, GeM's formula, SALAD's Sinkhorn marginals and dustbin, BoQ's indifference to the
order of its tokens, gradients to every parameter, model files that rebuild the same network, and
a method that names its own aggregator, trained end to end."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import pytest
import torch

from softloc.config import Aggregators, Gem, Model, ParamsError, validate_params
from softloc.config.aggregator_sections import AggregatorName
from softloc.models import build_network, load_model, model_record, save_model
from softloc.models.aggregators import NAMES, BoQ, GeM, build_aggregator, method_network
from softloc.models.aggregators.salad import log_sinkhorn, salad_marginals
from softloc.training import train_method
from softloc.training.embedding import init_clusters
from test_config import RAW
from test_train import TRIPLET, tiny_world, train_with

# The output width of each backbone at its default cut: small (16, 32, 64, 128), VGG-16 conv5_3,
# EfficientNet-Lite0 after block 10.
WIDTHS = {"small": 128, "vgg16": 512, "efficientnet_lite0": 112}
DEFAULTS = Aggregators()
DIMS = {"netvlad": lambda c: 8 * c, "gem": lambda c: c, "mixvpr": lambda c: 1024 * 4,
        "salad": lambda c: 64 * 128 + 256, "boq": lambda c: 512 * 32}
SMALL = Model(backbone="small", clusters=4, image_max_side=32, small_channels=[8, 16, 16, 16])
# hyperparameters away from the defaults (and small, for speed): a loaded model must rebuild from its record
OWN = Aggregators.model_validate({
    "gem": {"p": 4.5, "eps": 1.0e-5},
    "mixvpr": {"in_h": 2, "in_w": 3, "mix_depth": 2, "mlp_ratio": 2.0, "out_channels": 8, "out_rows": 3},
    "salad": {"num_clusters": 5, "cluster_dim": 6, "token_dim": 7, "hidden_dim": 16, "dropout": 0.1,
              "sinkhorn_iterations": 4, "dustbin_init": 0.5},
    "boq": {"proj_channels": 64, "num_queries": 6, "num_layers": 2, "row_dim": 5},
})


def aggregator(name: str, channels: int, aggregators: Aggregators = DEFAULTS) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_aggregator(Model(backbone="small", clusters=8, image_max_side=96, aggregator=name), channels, aggregators)


def test_the_config_names_the_registered_aggregators() -> None:
    assert NAMES == AggregatorName.__args__ and NAMES[0] == "netvlad"
    assert Model(backbone="small", clusters=4, image_max_side=32).aggregator == "netvlad"


@pytest.mark.parametrize("backbone", sorted(WIDTHS))
@pytest.mark.parametrize("name", NAMES)
def test_each_aggregator_gives_unit_descriptors_of_its_size_on_every_backbone(name: str, backbone: str) -> None:
    channels = WIDTHS[backbone]
    pool = aggregator(name, channels).eval()
    assert pool.dim == DIMS[name](channels)
    for h, w in ((5, 6), (7, 4)):   # a landscape and a portrait map
        x = torch.randn(2, channels, h, w)
        with torch.no_grad():
            y = pool(x)
        assert y.shape == (2, pool.dim) and y.dtype == torch.float32
        torch.testing.assert_close(y.norm(dim=1), torch.ones(2), atol=1e-5, rtol=0)
        assert not torch.allclose(y[0], y[1])   # different maps, different descriptors


def test_gem_is_the_generalised_mean_of_each_channel() -> None:
    gem = GeM(2, p=3.0, eps=1e-6)
    x = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]], [[-1.0, 0.0], [2.0, 2.0]]]])   # (1, 2, 2, 2)
    # channel 0: (mean(1, 8, 27, 64))^(1/3) = 25^(1/3); channel 1: negatives and 0 clamp to eps,
    # (mean(eps^3, eps^3, 8, 8))^(1/3) = 4^(1/3); then the vector is L2-normalised
    a, b = 25.0 ** (1 / 3), 4.0 ** (1 / 3)
    expected = torch.tensor([[a, b]]) / math.hypot(a, b)
    torch.testing.assert_close(gem(x), expected, atol=1e-6, rtol=0)
    p1 = GeM(2, p=1.0, eps=1e-6)   # p = 1: average pooling of the clamped map
    expected = torch.tensor([[2.5, 1.0]]) / math.hypot(2.5, 1.0)
    torch.testing.assert_close(p1(x), expected, atol=1e-6, rtol=0)


def test_sinkhorn_yields_the_marginals_it_is_given() -> None:
    torch.manual_seed(0)
    scores = torch.randn(2, 5, 9) * 3
    rows = torch.tensor([1.0, 2.0, 0.5, 3.0, 2.5])         # total 9
    cols = torch.rand(9) + 0.5
    cols = cols * rows.sum() / cols.sum()
    plan = log_sinkhorn(scores, rows.log(), cols.log(), iterations=300).exp()
    torch.testing.assert_close(plan.sum(dim=2), rows.expand(2, -1), atol=1e-4, rtol=0)
    torch.testing.assert_close(plan.sum(dim=1), cols.expand(2, -1), atol=1e-4, rtol=0)
    few = log_sinkhorn(scores, rows.log(), cols.log(), iterations=3).exp()
    torch.testing.assert_close(few.sum(dim=1), cols.expand(2, -1), atol=1e-5, rtol=0)   # columns exact each iteration
    assert not torch.allclose(few.sum(dim=2), rows.expand(2, -1), atol=1e-4)            # rows only converge


@pytest.mark.parametrize("clusters, features", [(4, 6), (64, 529), (64, 30), (4, 5)])
def test_salad_marginals_balance_and_leave_the_dustbin_mass(clusters: int, features: int) -> None:
    rows, cols = salad_marginals(clusters, features)
    assert rows.shape == (clusters + 1,) and cols.shape == (features,) and (cols == 1).all()
    assert rows.sum().item() == pytest.approx(features)
    assert rows[-1] > 0
    if features > clusters:   # SALAD's own case: one unit of mass per cluster, the rest to the dustbin
        assert (rows[:-1] == 1).all() and rows[-1].item() == pytest.approx(features - clusters)


def test_the_dustbin_takes_the_mass_of_features_that_fit_no_cluster() -> None:
    torch.manual_seed(0)
    clusters, features = 4, 6
    scores = torch.randn(clusters, features)
    scores[:, 0] = -8.0                                    # feature 0 scores low on every cluster
    bins = torch.ones(1, features)                         # SALAD's initial dustbin score
    rows, cols = salad_marginals(clusters, features)
    plan = log_sinkhorn(torch.cat([scores, bins]), rows.log(), cols.log(), iterations=3).exp()
    to_clusters = plan[:-1].sum(dim=0)                     # each feature's mass kept by the clusters
    assert to_clusters[0] < 0.05 and to_clusters[1:].min() > 2 * to_clusters[0]
    assert to_clusters.sum() < features - 1.0              # the dustbin took about features - clusters
    pool = aggregator("salad", 16, OWN).eval()             # the module: each feature gives at most its mass
    with torch.no_grad():
        kept = pool.assignment(torch.randn(2, 16, 3, 4)).sum(dim=1)
    assert (kept <= 1 + 1e-5).all() and (kept.sum(dim=1) < 12 - 0.5).all()


def test_boq_does_not_depend_on_the_order_of_its_tokens() -> None:
    torch.manual_seed(0)
    boq = BoQ(16, proj_channels=64, num_queries=6, num_layers=2, row_dim=5)
    tokens = torch.randn(2, 30, 64)
    perm = torch.randperm(30)
    for mode in (boq.train, boq.eval):   # the slow and the fast (inference) attention paths
        mode()
        with torch.no_grad():
            out, shuffled = boq.pool_tokens(tokens), boq.pool_tokens(tokens[:, perm])
            other = tokens.clone()
            other[:, 0] += 1.0
            changed = boq.pool_tokens(other)
        torch.testing.assert_close(shuffled, out, atol=1e-5, rtol=1e-5)
        assert (changed - out).abs().max() > 1e-3   # the output does read the tokens


@pytest.mark.parametrize("name", NAMES)
def test_a_gradient_reaches_every_parameter(name: str) -> None:
    pool = aggregator(name, 16, OWN).train()
    torch.manual_seed(1)
    out = pool(torch.randn(3, 16, 5, 6))
    (out * torch.randn_like(out)).sum().backward()
    params = dict(pool.named_parameters())
    assert params
    missing = [k for k, p in params.items() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing, f"{name}: no gradient reaches {missing}"


@pytest.mark.parametrize("name", NAMES)
def test_a_network_with_each_aggregator_saves_and_loads_to_the_same_outputs(name: str, tmp_path: Path) -> None:
    model = SMALL.model_copy(update={"aggregator": name})
    net = build_network(model, 3, OWN)
    with torch.no_grad():   # weights away from the seeded initialisation that load_model rebuilds
        for p in net.parameters():
            p.add_(0.01 * torch.randn_like(p))
    save_model(tmp_path / "model.pt", net, model, 3, {"method": name})
    loaded, info = load_model(tmp_path / "model.pt")
    x = torch.randn(2, 3, 24, 32)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), net.eval()(x), atol=1e-6, rtol=0)
    assert type(loaded.pool) is type(net.pool) and info == {"method": name}
    record = torch.load(tmp_path / "model.pt", weights_only=True)["model_cfg"]
    if name == "netvlad":   # a NetVLAD file records no aggregator: as before aggregators existed
        assert record == model_record(SMALL, 3) and "aggregator" not in record
    else:
        assert record["aggregator"] == name and record["aggregators"] == {name: getattr(OWN, name).model_dump()}


def test_netvlad_named_or_not_is_the_same_network_and_record() -> None:
    named = SMALL.model_copy(update={"aggregator": "netvlad"})
    a, b = build_network(SMALL, 0), build_network(named, 0)
    assert all(torch.equal(a.state_dict()[k], v) for k, v in b.state_dict().items())
    assert model_record(named, 0, pool=b.pool) == model_record(SMALL, 0, pool=a.pool)
    with pytest.raises(ValueError, match="aggregator is 'netvlad', its model params say 'gem'"):
        model_record(SMALL.model_copy(update={"aggregator": "gem"}), 0, pool=a.pool)


def test_only_netvlad_is_initialised_by_k_means() -> None:
    net = build_network(SMALL.model_copy(update={"aggregator": "gem"}), 0)
    before = copy.deepcopy(net.state_dict())
    init_clusters(net, None, None, 0, None)   # returns before touching the (absent) data
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    with pytest.raises(ValueError, match="'gem' has no cluster initialisation"):
        net.init_clusters(torch.randn(50, 16))
    assert build_network(SMALL, 0).has_cluster_init and not net.has_cluster_init


def test_a_method_names_its_own_aggregator_and_bad_values_name_the_key() -> None:
    raw = copy.deepcopy(RAW)
    raw["methods"]["triplet_gem"] = {**raw["methods"]["triplet"], "aggregator": "gem"}
    params = validate_params(raw)
    assert params.methods["triplet"].aggregator is None
    assert method_network(params.model, params.methods["triplet"]) is params.model
    assert method_network(params.model, params.methods["triplet_gem"]).aggregator == "gem"
    raw["methods"]["triplet_gem"]["aggregator"] = "vlad"
    with pytest.raises(ParamsError, match=r"methods\.triplet_gem\.aggregator = 'vlad': Input should be 'netvlad', 'gem'"):
        validate_params(raw)
    raw["methods"]["triplet_gem"]["aggregator"] = "gem"
    raw["aggregators"]["boq"]["proj_channels"] = 100
    with pytest.raises(ParamsError, match=r"aggregators\.boq\.proj_channels = 100: Input should be a multiple of 64"):
        validate_params(raw)


def test_a_method_with_its_own_aggregator_trains_and_loads(tmp_path: Path) -> None:
    world = tiny_world()
    method = TRIPLET.model_copy(update={"aggregator": "gem"})
    train = train_with(epochs=1, max_steps_per_epoch=3, checkpoint_every_steps=0, init_images=8)
    aggregators = Aggregators(gem=Gem(p=4.0))
    summary = train_method("triplet_gem", method, SMALL, train, 0, world, tmp_path / "model.pt", tmp_path / "reports",
                           tmp_path / "resume", aggregators=aggregators)
    assert summary["steps"] == 3
    net, _ = load_model(tmp_path / "model.pt")
    record = torch.load(tmp_path / "model.pt", weights_only=True)["model_cfg"]
    assert isinstance(net.pool, GeM) and record["aggregators"] == {"gem": {"p": 4.0, "eps": 1.0e-6}}
