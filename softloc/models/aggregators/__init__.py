"""Aggregators: (B, C, H, W) conv features of any backbone -> an L2-normalised (B, dim) global
descriptor, chosen by params model.aggregator (or a method's `aggregator`).

    netvlad  NetVLAD (Arandjelović et al. CVPR 2016), K = model.clusters, k-means initialised
    gem      GeM (Radenović et al. TPAMI 2018)
    mixvpr   MixVPR (Ali-bey et al. WACV 2023)
    salad    SALAD (Izquierdo and Civera CVPR 2024)
    boq      BoQ (Ali-bey et al. CVPR 2024)

The hyperparameters of all but NetVLAD are params `aggregators.<name>` (softloc.config's
Aggregators, at the published defaults); each module's docstring says where each value comes from.
Only NetVLAD has a data-driven initialisation (`init_clusters`); the others start from their
seeded random weights.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from torch import nn

from softloc.models.aggregators.base import Aggregator
from softloc.models.aggregators.boq import BoQ
from softloc.models.aggregators.gem import GeM
from softloc.models.aggregators.mixvpr import MixVPR
from softloc.models.aggregators.netvlad import NetVLAD
from softloc.models.aggregators.salad import SALAD

if TYPE_CHECKING:  # annotations only: pydantic is absent on the GPU machine (benchmarks/gpu_check.py)
    from softloc.config import Aggregators, Method, Model

AGGREGATORS: dict[str, type[Aggregator]] = {cls.name: cls for cls in (GeM, MixVPR, SALAD, BoQ)}
NAMES = (NetVLAD.name, *AGGREGATORS)   # params model.aggregator's values, netvlad first (the default)

__all__ = ["AGGREGATORS", "NAMES", "Aggregator", "BoQ", "GeM", "MixVPR", "NetVLAD", "SALAD", "aggregator_record",
           "build_aggregator", "method_network"]


def method_network(model: Model, method: Method) -> Model:
    """Params `model` of a `methods` entry's network: model.aggregator replaced by the method's
    `aggregator` when it names one (a method is loss x aggregator), else `model` itself."""
    name = getattr(method, "aggregator", None)
    if name is None or name == getattr(model, "aggregator", NetVLAD.name):
        return model
    return model.model_copy(update={"aggregator": name})


def build_aggregator(model: Model, channels: int, aggregators: Aggregators | None = None) -> nn.Module:
    """The aggregator of params `model` (model.aggregator) on `channels`-channel features, with the
    hyperparameters of params `aggregators` (None: the published defaults of softloc.config)."""
    name = getattr(model, "aggregator", NetVLAD.name)
    if name == NetVLAD.name:
        return NetVLAD(model.clusters, channels)
    if name not in AGGREGATORS:
        raise ValueError(f"model.aggregator {name!r}: one of {', '.join(NAMES)}")
    if aggregators is None:
        from softloc.config import Aggregators  # here: the GPU machine has no pydantic (and builds NetVLAD only)

        aggregators = Aggregators()
    return AGGREGATORS[name](channels, **getattr(aggregators, name).model_dump())


def aggregator_record(pool: nn.Module) -> dict[str, Any]:
    """What a model file records of its aggregator beyond params `model`: nothing for NetVLAD (its
    K is model.clusters, so a NetVLAD model file stays as before aggregators existed), else its
    name and hyperparameters in params' layout: {"aggregator": name, "aggregators": {name: {...}}}."""
    if isinstance(pool, NetVLAD):
        return {}
    return {"aggregator": pool.name, "aggregators": {pool.name: dict(pool.hyperparameters)}}
