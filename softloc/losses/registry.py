"""The tuple batch every loss takes, the loss registry and `build_loss`.

A tuple is one anchor, its close images, its far images and, for the quadruplet losses, extra
images far from everything. A batch stacks B such tuples, all with the same layout.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import Tensor, nn

# Keys of a params.yaml `methods` entry that configure tuple sampling, not the loss. A loss that
# needs one of them (triplet_huber scales by r1) declares it as a constructor argument and gets it.
SAMPLING_KEYS = frozenset({"loss", "r1", "r2", "n_extra"})

LOSSES: dict[str, type[nn.Module]] = {}


@dataclass
class TupleBatch:
    """B tuples of M = 1 + n_close + n_far + n_extra images each.

    features: (B, M, D) network outputs; row 0 = anchor, rows 1..P close, P+1..P+N far, then E
      extra images (the quadruplet's fourth image; E = 0 otherwise).
    positions: (B, M, 2) UTM easting/northing in metres, same row order; float64 (float32 loses
      ~0.5 m at UTM magnitudes and is refused there).
    """

    features: Tensor
    positions: Tensor
    n_close: int
    n_far: int
    n_extra: int = 0

    def __post_init__(self) -> None:
        if self.features.dim() != 3 or self.positions.dim() != 3 or self.positions.shape[-1] != 2:
            raise ValueError(
                f"TupleBatch: expected features (B, M, D) and positions (B, M, 2), got "
                f"{tuple(self.features.shape)} and {tuple(self.positions.shape)}"
            )
        if self.positions.dtype != torch.float64 and self.positions.abs().max() > 1e5:
            raise ValueError(
                f"TupleBatch: positions are {self.positions.dtype} UTM coordinates; float32 rounds "
                "them to ~0.5 m at UTM magnitudes: pass float64 (or positions relative to the anchor)"
            )
        m = 1 + self.n_close + self.n_far + self.n_extra
        if self.features.shape[:2] != self.positions.shape[:2] or self.features.shape[1] != m:
            raise ValueError(
                f"TupleBatch: features {tuple(self.features.shape)} and positions "
                f"{tuple(self.positions.shape)} must both hold M = 1 + {self.n_close} close + "
                f"{self.n_far} far + {self.n_extra} extra = {m} images per tuple"
            )

    @property
    def anchor(self) -> Tensor:
        """(B, D) anchor features."""
        return self.features[:, 0]

    @property
    def close(self) -> Tensor:
        """(B, P, D) close-image features."""
        return self.features[:, 1 : 1 + self.n_close]

    @property
    def far(self) -> Tensor:
        """(B, N, D) far-image features."""
        start = 1 + self.n_close
        return self.features[:, start : start + self.n_far]

    @property
    def extra(self) -> Tensor:
        """(B, E, D) extra-image features (quadruplet's fourth images)."""
        return self.features[:, 1 + self.n_close + self.n_far :]

    @property
    def tuple_features(self) -> Tensor:
        """(B, 1+P+N, D) anchor, close and far features (extra images left out)."""
        return self.features[:, : 1 + self.n_close + self.n_far]

    @property
    def tuple_positions(self) -> Tensor:
        """(B, 1+P+N, 2) positions of anchor, close and far images."""
        return self.positions[:, : 1 + self.n_close + self.n_far]

    def geo_to_anchor(self) -> Tensor:
        """(B, P+N) metric distance of every close and far image to its anchor, float32."""
        pos = self.tuple_positions.to(torch.float64)
        return (pos[:, 1:] - pos[:, :1]).norm(dim=-1).to(self.features.device, torch.float32)

    def geo_pairwise(self) -> Tensor:
        """(B, 1+P+N, 1+P+N) metric distances between all anchor, close and far images, float32."""
        pos = self.tuple_positions.to(torch.float64)
        return (pos[:, :, None] - pos[:, None, :]).norm(dim=-1).to(self.features.device, torch.float32)


def register(name: str) -> Callable[[type[nn.Module]], type[nn.Module]]:
    """Class decorator: make a loss available to `build_loss` under `name`."""

    def add(cls: type[nn.Module]) -> type[nn.Module]:
        if name in LOSSES:
            raise ValueError(f"loss name {name!r} registered twice")
        LOSSES[name] = cls
        return cls

    return add


def loss_hyperparameters(name: str) -> dict[str, Any]:
    """The hyperparameters loss `name` accepts, with their defaults."""
    params = inspect.signature(LOSSES[name]).parameters
    return {k: p.default for k, p in params.items() if k != "self"}


def build_loss(method_cfg: dict[str, Any]) -> nn.Module | None:
    """Build the loss named by `method_cfg["loss"]` with the entry's hyperparameters.

    `loss: none` (the off-the-shelf method) returns None. Sampling keys (r1, r2, n_extra) are
    passed only to a loss that declares them; any other key the loss does not take is an error,
    so a misspelt hyperparameter never silently falls back to its default. `n_extra` must match
    the loss's class attribute `n_extra` (1 for the quadruplet losses, 0 otherwise).
    """
    if "loss" not in method_cfg:
        raise ValueError(f"method entry {method_cfg} has no 'loss' key; one of {sorted(LOSSES)} or none")
    name = method_cfg["loss"]
    if name is None or name == "none":
        return None
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; known: {sorted(LOSSES)} or none")
    accepted = loss_hyperparameters(name)
    unknown = [k for k in method_cfg if k not in accepted and k not in SAMPLING_KEYS]
    if unknown:
        raise ValueError(
            f"loss {name!r} does not take {unknown}; it takes {sorted(accepted)} "
            f"(plus sampling keys {sorted(SAMPLING_KEYS)})"
        )
    needs_extra = getattr(LOSSES[name], "n_extra", 0)
    if int(method_cfg.get("n_extra", 0)) != needs_extra:
        raise ValueError(f"loss {name!r} needs n_extra: {needs_extra} (extra images per tuple), got {method_cfg.get('n_extra', 0)}")
    kwargs = {k: v for k, v in method_cfg.items() if k in accepted}
    return LOSSES[name](**kwargs)
