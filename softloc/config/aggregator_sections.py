"""params `aggregators`: the hyperparameters of the aggregators other than NetVLAD (whose K is
model.clusters), one sub-section each, every default the published value (the aggregator's file
in softloc/models/aggregators says where each comes from)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from softloc.config.base import PositiveFloat, PositiveInt, Section

AggregatorName = Literal["netvlad", "gem", "mixvpr", "salad", "boq"]   # softloc.models.aggregators.NAMES


class Gem(Section):
    """GeM (Radenović et al. TPAMI 2018): the learned exponent's initial value and the clamp."""

    p: PositiveFloat = 3.0
    eps: PositiveFloat = 1.0e-6


class MixVpr(Section):
    """MixVPR (Ali-bey et al. WACV 2023, its 4096-D model); in_h x in_w: the grid the map is pooled to."""

    in_h: PositiveInt = 5
    in_w: PositiveInt = 6
    mix_depth: PositiveInt = 4
    mlp_ratio: PositiveFloat = 1.0
    out_channels: PositiveInt = 1024
    out_rows: PositiveInt = 4


class Salad(Section):
    """SALAD (Izquierdo and Civera CVPR 2024, its 8448-D model)."""

    num_clusters: PositiveInt = 64
    cluster_dim: PositiveInt = 128
    token_dim: PositiveInt = 256
    hidden_dim: PositiveInt = 512
    dropout: Annotated[float, Field(ge=0, lt=1)] = 0.3
    sinkhorn_iterations: PositiveInt = 3
    dustbin_init: float = 1.0


class Boq(Section):
    """BoQ (Ali-bey et al. CVPR 2024, its ResNet-50 16384-D model); one attention head per 64 channels."""

    proj_channels: Annotated[int, Field(ge=64, multiple_of=64)] = 512
    num_queries: PositiveInt = 64
    num_layers: PositiveInt = 2
    row_dim: PositiveInt = 32


class Aggregators(Section):
    """params `aggregators`: one sub-section per aggregator (all optional, at the published defaults)."""

    gem: Gem = Gem()
    mixvpr: MixVpr = MixVpr()
    salad: Salad = Salad()
    boq: Boq = Boq()

