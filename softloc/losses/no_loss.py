"""`loss: none`: a method that trains nothing: the initialised (off-the-shelf) network, or a
published pytorch-NetVlad checkpoint imported as the method's network
(softloc.models.netvlad_import). `build_loss` returns None for it.
"""

from __future__ import annotations

from dataclasses import dataclass

from softloc.losses.registry import LossParams, LossSpec, add_loss, bounded


@dataclass(frozen=True)
class NoLossParams(LossParams):
    """none: the checkpoint imported as the network (None: the initialised network)."""

    checkpoint: str | None = bounded(None, min_length=1)


add_loss("none", LossSpec(None, NoLossParams, disjoint=True))
