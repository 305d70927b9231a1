"""The whole of params.yaml (`Params`) and `validate_params`, which checks a params dict against it:
the sections, each open-ended entry against the model of its kind, then the rules between keys."""

from __future__ import annotations

import re
from typing import Annotated, Any, Mapping

from pydantic import BaseModel, Field

from softloc.config.aggregator_sections import Aggregators
from softloc.config.base import NAME_PATTERN, Name, NonNegativeInt, Section
from softloc.config.data_sections import Clean, Data, Split, Synthetic, SyntheticPittsburgh, SyntheticSeasons, Tuples
from softloc.config.entries import Method, Testset, method_model, testset_model
from softloc.config.errors import MISSING, ParamsError, validate_model
from softloc.config.relations import check_relations
from softloc.config.run_sections import Evaluate, Extract, Gradcam, Model, Pca, Report, Train
from softloc.losses import LOSSES


class Params(Section):
    """params.yaml. `methods` and `testsets` entries are checked by their own models (see entries)."""

    data: Data
    synthetic: Synthetic
    synthetic_pittsburgh: SyntheticPittsburgh
    synthetic_seasons: SyntheticSeasons
    clean: Clean
    split: Split
    tuples: Tuples
    model: Model
    aggregators: Aggregators
    train: Train
    methods: Annotated[dict[Name, Method], Field(min_length=1)]
    pca: Pca
    extract: Extract
    evaluate: Evaluate
    report: Report
    gradcam: Gradcam
    seeds: Annotated[list[NonNegativeInt], Field(min_length=1)]
    testsets: Annotated[dict[Name, Testset], Field(min_length=1)]


def validate_params(raw: Any, source: str = "params.yaml") -> Params:
    """Check a params dict against the schema and the relations between its keys.

    Returns the validated model, with each `methods` entry an instance of its loss's model and each
    `testsets` entry of its format's model; the first problem raises ParamsError (one line naming
    the key).
    """
    if not isinstance(raw, Mapping):
        raise ParamsError("(top level)", raw, "expected a mapping of sections", source)
    typed = {}
    for section, check in (("methods", _validate_method), ("testsets", _validate_testset)):
        entries = raw.get(section)
        if isinstance(entries, Mapping):
            for name in entries:
                if not isinstance(name, str) or re.fullmatch(NAME_PATTERN, name) is None:
                    raise ParamsError(f"{section}[{name!r}]", name, f"String should match pattern '{NAME_PATTERN}'", source)
            typed[section] = {name: check(name, entry, source) if isinstance(entry, Mapping) else entry
                              for name, entry in entries.items()}
    params = validate_model(Params, {**raw, **typed}, (), source)
    check_relations(params, source)
    return params


def _validate_method(name: str, entry: Mapping[str, Any], source: str) -> Method:
    loss = entry.get("loss", MISSING)
    if loss not in LOSSES:
        raise ParamsError(f"methods.{name}.loss", loss, f"a loss name: one of {', '.join(sorted(LOSSES))}", source)
    return validate_model(method_model(loss), entry, ("methods", name), source)


def _validate_testset(name: str, entry: Mapping[str, Any], source: str) -> BaseModel:
    from softloc.datasets import FORMATS  # the seam's registry of format names

    fmt = entry.get("format", MISSING)
    if fmt not in FORMATS:
        raise ParamsError(f"testsets.{name}.format", fmt, f"a test-set format: one of {', '.join(FORMATS)}", source)
    return validate_model(testset_model(fmt), entry, ("testsets", name), source)
