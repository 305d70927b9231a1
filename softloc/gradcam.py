"""Grad-CAM of a retrieval match (Figure 3): which parts of a query and of its retrieved image make
their descriptors similar.

What is differentiated: the similarity s = <g(q), g(r)> of the two images' descriptors as the
retrieval compares them, g = the network's global descriptor (NetVLAD's, or any aggregator's)
followed by the PCA whitening and L2 normalisation of the evaluate stage (without a PCA, the
global descriptor itself), so
s = 1 - d^2 / 2 for the retrieval's feature distance d. For the query's map, s is differentiated
with respect to the query's activations A (C, h, w) at the backbone's last conv layer (VGG-16:
conv5_3, the small backbone: its last conv + BN, both before NetVLAD), the retrieved image's
descriptor held fixed; for the retrieved image's map, the roles swap. Grad-CAM (Selvaraju et al.
2017): channel weights alpha_c = the spatial mean of ds/dA_c, map = ReLU(sum_c alpha_c A_c),
bilinearly upsampled to the image and divided by its maximum (all zero when nothing is positive).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from softloc.models.network import LocalizationNet


@dataclass(frozen=True)
class MatchCam:
    """Grad-CAM maps (H, W) in [0, 1] of a query and its retrieved image, and their feature distance."""

    query: np.ndarray
    retrieved: np.ndarray
    distance: float


def match_gradcam(net: LocalizationNet, query: np.ndarray, retrieved: np.ndarray,
                  whitening: torch.nn.Module | None = None) -> MatchCam:
    """Grad-CAM of the descriptor similarity of `query` and `retrieved` (uint8 (H, W, 3) RGB each)."""
    net = net.eval()
    device = next(net.parameters()).device
    activations, descriptors = [], []
    with torch.enable_grad():
        for image in (query, retrieved):
            x = net.preprocess(torch.from_numpy(np.ascontiguousarray(image))[None].to(device))
            with torch.no_grad():
                a = net.backbone(x).float()
            a.requires_grad_(True)
            f = net.pool(a)
            descriptors.append(whitening(f) if whitening is not None else f)
            activations.append(a)
        similarity = (descriptors[0] * descriptors[1]).sum()
        grads = torch.autograd.grad(similarity, activations)
    maps = [_cam(a, g, image.shape[:2]) for a, g, image in zip(activations, grads, (query, retrieved))]
    distance = float(torch.linalg.vector_norm(descriptors[0] - descriptors[1]).detach())
    return MatchCam(maps[0], maps[1], distance)


def _cam(activation: torch.Tensor, grad: torch.Tensor, size: tuple[int, int]) -> np.ndarray:
    weights = grad.mean(dim=(2, 3), keepdim=True)
    cam = F.relu((weights * activation).sum(dim=1, keepdim=True))
    cam = F.interpolate(cam, size=size, mode="bilinear", align_corners=False)[0, 0]
    cam = cam.detach()
    peak = float(cam.max())
    return (cam / peak if peak > 0 else cam).detach().cpu().numpy().astype(np.float32)
