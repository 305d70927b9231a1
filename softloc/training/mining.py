"""Training tuples and hard negative mining (NetVLAD, Arandjelovic et al. 2016; the paper's Section 5).

A tuple is one anchor, `n_close` close images, `n_far` far images and `n_extra` extra images
(the quadruplet's fourth image), as row positions in train_images.parquet:

- close: within r1 metres of the anchor and heading difference <= `max_yaw_deg` (30); with
  `close_other_traversals`, only images of other traversals than the anchor's (the anchor's own
  traversal holds near-duplicate frames a metre or two away, which teach a hinge loss nothing
  about the change of condition the test asks for). An anchor with fewer than n_close such
  images takes all of them, then repeats random ones (drawn with replacement) to keep every
  tuple the same size; an anchor with none is dropped (counted).
- far: at least r2 metres from the anchor AND from every other far image of the tuple. The
  first `n_hard` are the hardest candidates of the mining cache (closest to the anchor in
  feature space) that obey the rule, walked hardest first; the rest are random images obeying
  it. If the cache yields fewer than n_hard, random images fill the gap.
- extra: at least r2 metres from the anchor and from every far image (and each other).

For the soft and log-ratio losses r1 = r2 (15 m) and the loss treats close and far images alike,
so the two parts are simply the two halves of one tuple set.

All randomness comes from a numpy Generator the caller derives from (seed, epoch, step), so a
resumed run draws exactly what an uninterrupted one draws. Distances are recomputed in float64
from the positions, so the rules hold exactly (no float32 rounding at the radius).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from softloc.geometry import planar_distance, yaw_difference_deg

log = logging.getLogger(__name__)

DIVERSE_CHUNK = 64
MAX_RANDOM_DRAWS = 200
OTHER_TRAVERSALS = ", from another traversal"


@dataclass(frozen=True)
class TupleSpec:
    """Sizes and radii of a tuple: r1/r2 in metres, max_yaw_deg in degrees."""

    r1: float
    r2: float
    n_close: int = 12
    n_far: int = 12
    n_extra: int = 0
    n_hard: int = 6
    max_yaw_deg: float = 30.0
    close_other_traversals: bool = False

    @property
    def size(self) -> int:
        """Images per tuple, M = 1 + close + far + extra."""
        return 1 + self.n_close + self.n_far + self.n_extra


@dataclass
class MiningCache:
    """Features of `rows` (random candidates) and of `anchor_rows` (the anchors of the coming steps).

    Both are computed by the network at the same refresh, as Pytorch-NetVlad's cache of query and
    database features, so no extra forward pass runs between refreshes. Features are
    L2-normalised: the feature-distance order is the descending dot-product order.
    """

    rows: np.ndarray
    features: np.ndarray
    anchor_rows: np.ndarray
    anchor_features: np.ndarray

    def hardest_first(self, anchors: np.ndarray) -> np.ndarray:
        """(B, C) candidate rows ordered by feature distance to each anchor of `anchors`, closest first."""
        index = {int(r): i for i, r in enumerate(self.anchor_rows)}
        missing = [int(a) for a in anchors if int(a) not in index]
        if missing:
            raise ValueError(f"mining cache holds no features for anchors {missing} (refresh it first)")
        # torch, not numpy's BLAS: OpenBLAS threads keep spinning after a call and steal the cores
        # from the training step that follows (measured: +50% step time on 2 cores)
        anchor_features = torch.from_numpy(np.ascontiguousarray(self.anchor_features[[index[int(a)] for a in anchors]]))
        similarity = anchor_features @ torch.from_numpy(np.ascontiguousarray(self.features)).T
        return self.rows[torch.argsort(similarity, dim=1, descending=True, stable=True).numpy()]


class TupleSampler:
    """Draws tuples for anchors of train_anchors.parquet over the images of train_images.parquet."""

    def __init__(self, xy: np.ndarray, yaw_deg: np.ndarray, anchors: pd.DataFrame, spec: TupleSpec, traversal: np.ndarray | None = None) -> None:
        """`xy` (N, 2) metres, `yaw_deg` (N,) and `traversal` (N,) of the training images (any
        labels, compared for equality; needed only with spec.close_other_traversals); `anchors`
        as schemas.TRAIN_ANCHORS.

        The close candidates of every anchor are found once, among its neighbour list (every
        image within tuples.max_radius_m, which must be >= r1).
        """
        if spec.n_hard > spec.n_far:
            raise ValueError(f"n_hard {spec.n_hard} exceeds n_far {spec.n_far}")
        if spec.close_other_traversals and (traversal is None or len(traversal) != len(xy)):
            raise ValueError(f"close_other_traversals needs the traversal of each of the {len(xy)} training images, got {None if traversal is None else len(traversal)}")
        self.xy = np.asarray(xy, dtype=np.float64)
        self.yaw = np.asarray(yaw_deg, dtype=np.float64)
        self.spec = spec
        anchor = anchors["anchor"].to_numpy(np.int64)
        counts = anchors["neighbours"].map(len).to_numpy(np.int64)
        nbr = np.concatenate([np.asarray(v, dtype=np.int64) for v in anchors["neighbours"]] + [np.zeros(0, np.int64)])
        owner = np.repeat(anchor, counts)
        keep = planar_distance(self.xy[owner], self.xy[nbr]) <= spec.r1
        keep &= yaw_difference_deg(self.yaw[owner], self.yaw[nbr]) <= spec.max_yaw_deg
        keep &= nbr != owner
        if spec.close_other_traversals:
            traversal = np.asarray(traversal)
            keep &= traversal[owner] != traversal[nbr]
        n_close = np.bincount(np.repeat(np.arange(len(anchor)), counts)[keep], minlength=len(anchor))
        has_close = n_close > 0
        self.dropped_anchors = int((~has_close).sum())
        if self.dropped_anchors:
            log.warning("%d of %d anchors have no close image (within %g m, yaw <= %g deg%s): dropped", self.dropped_anchors, len(anchor), spec.r1, spec.max_yaw_deg, OTHER_TRAVERSALS if spec.close_other_traversals else "")
        if not has_close.any():
            where = OTHER_TRAVERSALS if spec.close_other_traversals else ""
            raise ValueError(f"no anchor has a close image within r1 = {spec.r1} m and yaw <= {spec.max_yaw_deg} deg{where}")
        self.anchors = anchor[has_close]
        self.close_values = nbr[keep]
        self.close_start = np.concatenate([[0], np.cumsum(n_close)[:-1]])[has_close]
        self.close_count = n_close[has_close]
        self.anchor_index = np.full(len(self.xy), -1, dtype=np.int64)
        self.anchor_index[self.anchors] = np.arange(len(self.anchors))

    def epoch_order(self, rng: np.random.Generator) -> np.ndarray:
        """The anchors (train_images rows) of one epoch, each once, shuffled."""
        return rng.permutation(self.anchors)

    def close_candidates(self, index: int) -> np.ndarray:
        """Close candidates of the index-th kept anchor."""
        start = self.close_start[index]
        return self.close_values[start : start + self.close_count[index]]

    def sample(self, anchors: np.ndarray, rng: np.random.Generator, hard: np.ndarray | None = None) -> np.ndarray:
        """(B, M) train_images rows: anchor, close, far, extra, per anchor row of `anchors`.

        `hard` (B, C): per anchor, candidate rows hardest first (MiningCache.hardest_first); the
        first n_hard of them obeying the far rule open the far images. None: all far images random.
        """
        spec = self.spec
        index = self.anchor_index[anchors]
        if (index < 0).any():
            raise ValueError(f"sample: rows {anchors[index < 0].tolist()} are not kept anchors of this sampler")
        tuples = np.empty((len(anchors), spec.size), dtype=np.int64)
        for b, (a, i) in enumerate(zip(anchors, index)):
            close = self.close_candidates(i)
            if len(close) >= spec.n_close:
                close = rng.choice(close, spec.n_close, replace=False)
            else:
                close = np.concatenate([rng.permutation(close), rng.choice(close, spec.n_close - len(close))])
            taken = [int(a)]
            if hard is not None and spec.n_hard > 0:
                taken += pick_diverse(self.xy, hard[b], spec.r2, spec.n_hard, taken)
            taken += self._random_diverse(rng, 1 + spec.n_far - len(taken), taken)
            taken += self._random_diverse(rng, spec.n_extra, taken)
            tuples[b, 0] = a
            tuples[b, 1 : 1 + spec.n_close] = close
            tuples[b, 1 + spec.n_close :] = taken[1:]
        return tuples

    def _random_diverse(self, rng: np.random.Generator, k: int, taken: list[int]) -> list[int]:
        """k random images at least r2 from every row of `taken` and from each other."""
        chosen: list[int] = []
        for _ in range(MAX_RANDOM_DRAWS):
            if len(chosen) == k:
                return chosen
            draw = rng.integers(0, len(self.xy), size=4 * (k - len(chosen)) + 16)
            chosen += pick_diverse(self.xy, draw, self.spec.r2, k - len(chosen), taken + chosen)
        if len(chosen) < k:
            raise ValueError(
                f"could not find {k} images at least r2 = {self.spec.r2} m from the anchor and from each "
                f"other (found {len(chosen)}): the training region is too small for r2 and n_far"
            )
        return chosen


def pick_diverse(xy: np.ndarray, candidates: np.ndarray, min_dist: float, k: int, taken: list[int]) -> list[int]:
    """Walk `candidates` in order, keeping each that lies >= min_dist from `taken` and every kept one; stop at k."""
    kept: list[int] = []
    fixed = xy[np.asarray(taken, dtype=np.int64)]
    for start in range(0, len(candidates), DIVERSE_CHUNK):
        if len(kept) == k:
            break
        chunk = np.asarray(candidates[start : start + DIVERSE_CHUNK], dtype=np.int64)
        pts = xy[chunk]
        ok = _squared_distances(pts, fixed).min(axis=1) >= min_dist**2 if len(fixed) else np.ones(len(chunk), bool)
        chunk, pts = chunk[ok], pts[ok]
        clash = _squared_distances(pts, pts) < min_dist**2
        blocked = np.zeros(len(chunk), dtype=bool)
        new: list[int] = []
        for j in range(len(chunk)):
            if blocked[j]:
                continue
            new.append(j)
            blocked |= clash[j]
            if len(kept) + len(new) == k:
                break
        kept += chunk[new].tolist()
        fixed = np.concatenate([fixed, pts[new]])
    return kept


def _squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n, m) squared Euclidean distances, computed from differences (exact, no cancellation)."""
    diff = a[:, None, :] - b[None, :, :]
    return np.einsum("nmd,nmd->nm", diff, diff)
