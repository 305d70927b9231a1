"""Grad-CAM of a match (Figure 3): it highlights what the pair shares; query selection rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from softloc.config import Model
from softloc.features import Whitening
from softloc.gradcam import match_gradcam
from softloc.models import NetVLAD, build_network, preprocess
from softloc.models.network import LocalizationNet
from softloc.pca import fit_pca
from softloc.report.figure3 import select_queries

H, W = 72, 96
PATCH = (slice(24, 48), slice(56, 80))


def edge_backbone() -> nn.Sequential:
    """A transparent backbone: Sobel responses of the grey image split into positive and negative
    parts (4 non-negative channels), strong on texture, near zero on smooth backgrounds."""
    conv = nn.Conv2d(3, 2, 3, padding=1, bias=False)
    sobel = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]) / 3
    conv.weight.data = torch.stack([sobel.expand(3, 3, 3), sobel.T.expand(3, 3, 3)])

    class Split(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.cat([x.relu(), (-x).relu()], dim=1)

    backbone = nn.Sequential(conv, Split())
    backbone.out_channels = 4
    return backbone


def constructed_pair(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two images with different smooth, noisy backgrounds and the same checkerboard patch at PATCH:
    the patch is the only thing that makes them alike (and differs from the rest of each image)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:24, 0:24]
    patch = np.where(((yy // 4 + xx // 4) % 2)[..., None] == 0, 30.0, 230.0) * np.ones(3)
    images = []
    for _ in range(2):
        y, x = np.mgrid[0:H, 0:W] / 100.0
        waves = [80 + 60 * np.sin(y * rng.uniform(1, 3) + rng.uniform(0, 6) + c) + 40 * x for c in range(3)]
        image = np.stack(waves, axis=-1)
        image += rng.normal(0, 3, image.shape)
        image[PATCH] = patch
        images.append(np.clip(image, 0, 255).astype(np.uint8))
    return images[0], images[1]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gradcam_highlights_the_region_that_makes_the_pair_match(seed: int) -> None:
    query, retrieved = constructed_pair(seed)
    torch.manual_seed(seed)
    backbone = edge_backbone()
    net = LocalizationNet(backbone, NetVLAD(4, backbone.out_channels))
    with torch.no_grad():
        net.init_clusters(net.descriptors(preprocess(torch.from_numpy(np.stack([query, retrieved])))), seed=0)
    cams = match_gradcam(net, query, retrieved)
    inside = np.zeros((H, W), bool)
    inside[PATCH] = True
    for cam in (cams.query, cams.retrieved):
        assert cam.shape == (H, W) and cam.min() >= 0.0 and cam.max() == pytest.approx(1.0)
        assert cam[inside].mean() > 10 * cam[~inside].mean()      # the patch is 8 % of the image
        assert inside[np.unravel_index(np.argmax(cam), cam.shape)]


def test_gradcam_distance_is_the_retrieval_feature_distance() -> None:
    """With the PCA whitening, the reported distance is the one the evaluate stage's whitened features give."""
    rng = np.random.default_rng(0)
    net = build_network(Model(backbone="small", init="random", clusters=4, image_max_side=96), 0)
    images = rng.integers(0, 256, size=(12, H, W, 3), dtype=np.uint8)
    with torch.no_grad():
        raw = net(preprocess(torch.from_numpy(images))).numpy()
    whitening = Whitening(fit_pca(raw, dim=8, eps=1e-9))
    cams = match_gradcam(net, images[0], images[1], whitening)
    with torch.no_grad():
        f = whitening(net(preprocess(torch.from_numpy(images[:2])))).numpy()
    assert cams.distance == pytest.approx(float(np.linalg.norm(f[0] - f[1])), abs=1e-5)
    assert cams.query.shape == (H, W) and cams.retrieved.shape == (H, W)


def test_figure3_queries_where_ours_is_right_and_most_others_wrong() -> None:
    errors = pd.DataFrame({"soft": [3.0, 50.0, 2.0, 4.0, np.nan],
                           "triplet": [40.0, 1.0, 3.0, 30.0, 1.0],
                           "quadruplet": [40.0, 2.0, 1.0, 3.0, 1.0]}, index=[10, 11, 12, 13, 14])
    assert select_queries(errors, "soft", 10.0, 2) == [10, 13]          # 2 then 1 baselines wrong
    assert select_queries(errors, "soft", 10.0, 4) == [10, 13, 12, 11]  # ours wrong comes last
    with pytest.raises(ValueError, match="'ms'"):
        select_queries(errors, "ms", 10.0, 1)
