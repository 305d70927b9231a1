"""NetVLAD (Arandjelovic et al., CVPR 2016): soft-assignment VLAD pooling of conv descriptors."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn


class NetVLAD(nn.Module):
    """Pool (B, C, H, W) conv features into an L2-normalised (B, K*C) VLAD vector.

    Descriptors are L2-normalised (NetVLAD's "preL2"), softly assigned to K clusters by a 1x1
    conv + softmax, their residuals to the centroids summed per cluster, each cluster's
    residual L2-normalised (intra-normalisation) and the whole vector L2-normalised.
    The pooling runs in float32 even under autocast: it is cheap and the normalisations are
    sensitive to half precision. Its one hyperparameter, K, is params model.clusters.
    """

    name = "netvlad"

    def __init__(self, clusters: int, channels: int) -> None:
        super().__init__()
        self.clusters, self.channels = clusters, channels
        self.assign = nn.Conv2d(channels, clusters, kernel_size=1, bias=True)
        self.centroids = nn.Parameter(torch.rand(clusters, channels))

    @property
    def dim(self) -> int:
        return self.clusters * self.channels

    def forward(self, x: Tensor) -> Tensor:
        with torch.autocast(device_type=x.device.type, enabled=False):
            x = F.normalize(x.float(), dim=1)
            soft = F.softmax(self.assign(x).flatten(2), dim=1)  # (B, K, HW)
            desc = x.flatten(2)  # (B, C, HW)
            vlad = soft @ desc.transpose(1, 2) - soft.sum(dim=2, keepdim=True) * self.centroids  # (B, K, C)
            vlad = F.normalize(vlad, dim=2)
            return F.normalize(vlad.flatten(1), dim=1)

    @torch.no_grad()
    def init_clusters(self, descriptors: Tensor, seed: int = 0, iterations: int = 100) -> None:
        """Set centroids by k-means on (N, C) conv descriptors and the assignment from them.

        As NetVLAD (and Pytorch-NetVlad): descriptors are L2-normalised, centroids c_k from
        k-means, assignment weights w_k = 2 alpha c_k and biases b_k = -alpha ||c_k||^2, with
        alpha = -log(0.01) / mean(d2 - d1) over the squared distances d1 <= d2 of each descriptor
        to its two nearest centroids, so a typical descriptor gives its nearest centroid 100x
        the weight of the second.
        """
        import faiss  # here, not at module level: the network builds and trains where faiss is absent

        if descriptors.dim() != 2 or descriptors.shape[1] != self.channels:
            raise ValueError(f"init_clusters: expected (N, {self.channels}) descriptors, got {tuple(descriptors.shape)}")
        if descriptors.shape[0] < self.clusters:
            raise ValueError(f"init_clusters: {descriptors.shape[0]} descriptors for {self.clusters} clusters")
        desc = np.ascontiguousarray(F.normalize(descriptors.float(), dim=1).cpu().numpy())
        kmeans = faiss.Kmeans(self.channels, self.clusters, niter=iterations, seed=seed, verbose=False)
        kmeans.train(desc)
        centroids = kmeans.centroids.astype(np.float32)
        index = faiss.IndexFlatL2(self.channels)
        index.add(centroids)
        sq_dist, _ = index.search(desc, 2)
        alpha = -math.log(0.01) / float(np.mean(sq_dist[:, 1] - sq_dist[:, 0]))
        c = torch.from_numpy(centroids).to(self.centroids.device)
        self.centroids.copy_(c)
        self.assign.weight.copy_((2.0 * alpha * c)[:, :, None, None])
        self.assign.bias.copy_(-alpha * c.pow(2).sum(dim=1))
