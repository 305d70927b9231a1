"""The open-ended params sections' entries, each checked against the model of its kind:
`methods.<name>` against its loss's (softloc.losses registry), `testsets.<name>` against its
format's (softloc.datasets/<format>.py CONFIG)."""

from __future__ import annotations

import importlib
from dataclasses import fields
from typing import Literal, get_type_hints

from pydantic import Field, create_model

from softloc.config.aggregator_sections import AggregatorName
from softloc.config.base import NonNegativeInt, PathStr, PositiveFloat, Section
from softloc.losses import LOSSES


class Method(Section):
    """A `methods` entry's base keys; `method_model` adds its loss's hyperparameters. `aggregator`
    (optional) names the method's aggregator in place of model.aggregator: a method is loss x
    aggregator."""

    loss: str
    r1: PositiveFloat
    r2: PositiveFloat
    n_extra: NonNegativeInt = 0
    aggregator: AggregatorName | None = None


def method_model(loss: str) -> type[Method]:
    """The model of a `methods` entry of loss `loss`: the base keys plus the fields of the loss's
    params dataclass (their defaults, types and `bounded` bounds)."""
    if loss not in _METHOD_MODELS:
        params = LOSSES[loss].params
        hints = get_type_hints(params)
        own = {f.name: (hints[f.name], Field(default=f.default, **f.metadata)) for f in fields(params)}
        _METHOD_MODELS[loss] = create_model(f"Method_{loss}", __base__=Method, __doc__=params.__doc__, **own)
    return _METHOD_MODELS[loss]


_METHOD_MODELS: dict[str, type[Method]] = {}


class Testset(Section):
    """A `testsets` entry's base keys; the format module's CONFIG adds its own (robotcar: utm_zone)."""

    format: str
    split: PathStr
    images: PathStr
    pca_fit: Literal["train", "reference"]


def testset_model(fmt: str) -> type[Testset]:
    """The model of a `testsets` entry of format `fmt`: the base keys plus the format's CONFIG."""
    if fmt not in _TESTSET_MODELS:
        config = getattr(importlib.import_module(f"softloc.datasets.{fmt}"), "CONFIG", None)
        own = {} if config is None else {k: (f.annotation, f) for k, f in config.model_fields.items()}
        _TESTSET_MODELS[fmt] = create_model(f"Testset_{fmt}", __base__=Testset, **own)
    return _TESTSET_MODELS[fmt]


_TESTSET_MODELS: dict[str, type[Testset]] = {}
