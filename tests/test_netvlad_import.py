"""pytorch-NetVlad checkpoints as methods: a checkpoint written here in that format (their module
layout, their NetVLAD forward) imports into a network giving the same descriptors, and
`train_method` with `checkpoint:` saves it as the method's model file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from softloc.config import Model, method_model
from softloc.models import load_model
from softloc.models.netvlad_import import import_netvlad
from softloc.training import train_method

from test_train import TRAIN, tiny_world

VGG16 = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
CLUSTERS = 6
ANY_MODEL = Model(backbone="small", clusters=4, image_max_side=32)


class TheirNetVLAD(nn.Module):
    """pytorch-NetVlad's NetVLAD layer (netvlad.py), its forward kept as written there."""

    def __init__(self, num_clusters: int, dim: int = 512, vladv2: bool = False) -> None:
        super().__init__()
        self.num_clusters = num_clusters
        self.conv = nn.Conv2d(dim, num_clusters, kernel_size=(1, 1), bias=vladv2)
        self.centroids = nn.Parameter(torch.rand(num_clusters, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c = x.shape[:2]
        x = F.normalize(x, p=2, dim=1)
        soft_assign = F.softmax(self.conv(x).view(n, self.num_clusters, -1), dim=1)
        x_flatten = x.view(n, c, -1)
        vlad = torch.zeros([n, self.num_clusters, c], dtype=x.dtype)
        for k in range(self.num_clusters):   # residuals to one centroid at a time, as theirs
            residual = x_flatten.unsqueeze(0).permute(1, 0, 2, 3) - \
                self.centroids[k:k + 1, :].expand(x_flatten.size(-1), -1, -1).permute(1, 2, 0).unsqueeze(0)
            residual *= soft_assign[:, k:k + 1, :].unsqueeze(2)
            vlad[:, k:k + 1, :] = residual.sum(dim=-1)
        vlad = F.normalize(vlad, p=2, dim=2).view(n, -1)
        return F.normalize(vlad, p=2, dim=1)


def their_model(vladv2: bool, parallel: bool) -> nn.Module:
    """Their VGG-16 model: torchvision's vgg16().features children minus the last ReLU and pool."""
    torch.manual_seed(1)
    layers: list[nn.Module] = []
    channels = 3
    for v in VGG16:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(channels, int(v), kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            channels = int(v)
    model = nn.Module()
    encoder = nn.Sequential(*layers[:-2])
    for conv in encoder:
        if isinstance(conv, nn.Conv2d):   # small weights keep conv5_3 well scaled on random input
            nn.init.normal_(conv.weight, std=(2.0 / (9 * conv.in_channels)) ** 0.5)
            nn.init.uniform_(conv.bias, -0.1, 0.1)
    pool = TheirNetVLAD(CLUSTERS, vladv2=vladv2)
    with torch.no_grad():   # their init: unit centroids, assignment alpha * centroid
        pool.centroids.copy_(F.normalize(torch.randn(CLUSTERS, 512), dim=1))
        pool.conv.weight.copy_(30.0 * pool.centroids[:, :, None, None])
    if vladv2:
        nn.init.uniform_(pool.conv.bias, -1.0, 1.0)
    model.add_module("encoder", nn.DataParallel(encoder) if parallel else encoder)
    model.add_module("pool", nn.DataParallel(pool) if parallel else pool)
    return model.eval()


def write_checkpoint(model: nn.Module, path: Path) -> None:
    """torch.save as pytorch-NetVlad's main.py does (save_checkpoint), recalls as numpy floats."""
    recalls = {n: np.float64(0.5 + n / 100) for n in (1, 5, 10, 20)}
    torch.save({"epoch": 3, "state_dict": model.state_dict(), "recalls": recalls, "best_score": recalls[5],
                "optimizer": {"state": {}, "param_groups": [{"lr": 1e-4}]}, "parallel": False}, path)


@pytest.mark.parametrize("vladv2, parallel", [(False, False), (True, True)])
def test_imported_checkpoint_gives_the_descriptors_of_its_network(tmp_path: Path, vladv2: bool, parallel: bool) -> None:
    model = their_model(vladv2, parallel)
    path = tmp_path / "checkpoint.pth.tar"
    write_checkpoint(model, path)
    net, cfg = import_netvlad(path, Model(image_max_side=96, clusters=16, backbone="small"))
    assert (cfg.backbone, cfg.clusters, cfg.image_max_side, cfg.init) == ("vgg16", CLUSTERS, 96, "random")
    yy, xx = torch.meshgrid(torch.linspace(0, 6, 48), torch.linspace(0, 6, 64), indexing="ij")
    x = torch.stack([torch.randn(3, 48, 64, generator=torch.Generator().manual_seed(0)),    # noise and waves
                     2 * torch.stack([torch.sin(xx), torch.cos(yy), torch.sin(xx + yy)])])
    with torch.no_grad():
        theirs = model.pool(model.encoder(x))
        ours = net(x.contiguous(memory_format=torch.channels_last))
    assert ours.shape == (2, CLUSTERS * 512)
    torch.testing.assert_close(ours, theirs, atol=2e-5, rtol=1e-4)
    assert (theirs[0] - theirs[1]).norm() > 0.05         # a real comparison: inputs give distinct descriptors


def test_wrong_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nowhere.pth.tar: no NetVLAD checkpoint"):
        import_netvlad(tmp_path / "nowhere.pth.tar", ANY_MODEL)
    (tmp_path / "text.pth").write_text("not torch")
    with pytest.raises(ValueError, match="text.pth: not a loadable pytorch-NetVlad checkpoint"):
        import_netvlad(tmp_path / "text.pth", ANY_MODEL)
    state = their_model(False, False).state_dict()
    torch.save({k: v for k, v in state.items() if k != "pool.centroids"}, tmp_path / "no_pool.pth")
    with pytest.raises(ValueError, match="no 'pool.centroids'"):
        import_netvlad(tmp_path / "no_pool.pth", ANY_MODEL)
    torch.save({**state, "pool.centroids": torch.rand(CLUSTERS, 256)}, tmp_path / "resnet.pth")
    with pytest.raises(ValueError, match=r"shape \(6, 256\), expected \(K, 512\)"):
        import_netvlad(tmp_path / "resnet.pth", ANY_MODEL)


def test_train_method_imports_a_checkpoint_as_the_model(tmp_path: Path) -> None:
    path = tmp_path / "pitts30k.pth.tar"
    write_checkpoint(their_model(False, False), path)
    model = Model(backbone="small", init="random", weights="", clusters=4, image_max_side=32, small_channels=[8, 16, 16, 16])
    method = {"loss": "none", "r1": 10, "r2": 25, "n_extra": 0, "checkpoint": str(path)}
    summary = train_method("netvlad_pitts30k", method_model("none")(**method), model, TRAIN, 0, tiny_world(length=60, traversals=1),
                           tmp_path / "model.pt", tmp_path / "reports", tmp_path / "resume")
    net, info = load_model(tmp_path / "model.pt")
    imported, _ = import_netvlad(path, model)
    assert info["init"] == "checkpoint" and info["backbone"] == "vgg16" and summary["steps"] == 0
    for key, value in imported.state_dict().items():
        torch.testing.assert_close(net.state_dict()[key], value)
    assert json.loads((tmp_path / "reports" / "metrics.json").read_text())["best_val_top1"] == summary["best_val_top1"]
    assert torch.load(tmp_path / "model.pt", weights_only=True)["model_cfg"] == {   # the checkpoint's architecture
        "backbone": "vgg16", "init": "checkpoint", "weights": "", "clusters": CLUSTERS, "image_max_side": 32,
        "small_channels": [8, 16, 16, 16], "seed": 0}
    with pytest.raises(ValueError, match="checkpoint"):   # a checkpoint is imported as is: loss none alone
        method_model("triplet")(**{**method, "loss": "triplet"})
