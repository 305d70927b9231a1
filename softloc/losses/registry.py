"""The tuple batch every loss takes, the loss registry and `build_loss`.

A tuple is one anchor, its close images, its far images and, for the quadruplet losses, extra
images far from everything. A batch stacks B such tuples, all with the same layout.

Each loss file declares its hyperparameters as a `LossParams` dataclass (the defaults' one home)
and registers its nn.Module with it; softloc.config makes the pydantic model of the loss's
`methods` entries from that dataclass. The dataclasses are plain Python, so the losses import
without pydantic (absent on the GPU machine that runs benchmarks/gpu_check.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Callable, Protocol

import torch
from torch import Tensor, nn

# Keys of every params.yaml `methods` entry: the loss's name, the tuple sampling and the network's
# aggregator (optional; softloc.config's Method). A loss that reads one of the sampling keys
# (triplet_huber scales by r1) registers it as `sampling`.
BASE_KEYS = ("loss", "r1", "r2", "n_extra", "aggregator")


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


class LossParams:
    """Base of a loss's hyperparameters: subclasses are frozen dataclasses whose field defaults are
    the loss's defaults and whose field metadata bound the values (`bounded`)."""

    def conflicts(self) -> list[tuple[str, str]]:
        """(key, what is allowed) for each set key that its other keys rule out; none by default."""
        return []


def bounded(default: Any, **bounds: float) -> Any:
    """A hyperparameter field with its default and bounds (pydantic Field keywords: gt, ge, le, lt,
    min_length), which softloc.config checks."""
    return field(default=default, metadata=bounds)


class MethodEntry(Protocol):
    """A validated params.yaml `methods` entry (softloc.config's model of it): the base keys, and the
    loss's hyperparameters as attributes."""

    loss: str
    r1: float
    r2: float
    n_extra: int


@dataclass(frozen=True)
class LossSpec:
    """A registered loss: its nn.Module (None for `none`: no training), its hyperparameters, the
    extra images per tuple it needs, whether its close and far images must be disjoint (r1 <= r2),
    and the base keys its constructor takes besides the hyperparameters."""

    module: type[nn.Module] | None
    params: type[LossParams]
    disjoint: bool
    n_extra: int = 0
    sampling: tuple[str, ...] = ()


LOSSES: dict[str, LossSpec] = {}


def add_loss(name: str, spec: LossSpec) -> None:
    """Make a loss available to softloc.config and `build_loss` under `name`."""
    if name in LOSSES:
        raise ValueError(f"loss name {name!r} registered twice")
    LOSSES[name] = spec


def register(name: str, params: type[LossParams], *, disjoint: bool, n_extra: int = 0,
             sampling: tuple[str, ...] = ()) -> Callable[[type[nn.Module]], type[nn.Module]]:
    """Class decorator: register an nn.Module built as `cls(params_instance, **sampling keys)`."""

    def add(cls: type[nn.Module]) -> type[nn.Module]:
        add_loss(name, LossSpec(cls, params, disjoint, n_extra, sampling))
        return cls

    return add


def loss_params(method: MethodEntry) -> LossParams:
    """The hyperparameters of a `methods` entry, as its loss's dataclass."""
    params = LOSSES[method.loss].params
    return params(**{f.name: getattr(method, f.name) for f in fields(params)})


def build_loss(method: MethodEntry) -> nn.Module | None:
    """The loss of a validated `methods` entry (load_params().methods[name]); None for `loss: none`."""
    spec = LOSSES[method.loss]
    if spec.module is None:
        return None
    return spec.module(loss_params(method), **{key: getattr(method, key) for key in spec.sampling})

