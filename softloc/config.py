"""The schema of params.yaml: every section and key, its type, range and relations, in one place.

`validate_params(raw)` checks a params dict (as PyYAML reads params.yaml) before a stage does any
work; the first problem is a `ParamsError` whose one-line message names the key
(`section.key`, `methods.<name>.<key>`, `synthetic.traversals[2].condition`), the value and what
is allowed. Unknown keys are errors (a typo never falls back to a default), types are strict (a
YAML string such as `1e-3` or `"0.8"` is no number, `off` is no string), and the relations
between keys are checked (r1 <= r2 where a loss needs it, every radius within
tuples.max_radius_m, split.gap_m beyond every r2, ...).

Three parts are open-ended and checked per entry, each against its own model:
- `methods.<name>`: the base keys (loss, r1, r2, n_extra) plus the hyperparameters of its loss
  (LOSS_MODELS mirrors the constructors in softloc/losses; tests/test_config.py keeps the two in
  step). The loss registry's own key check (softloc.losses.build_loss) stays, at train time.
- `testsets.<name>`: format, split, images, pca_fit, plus the keys that the format module
  softloc/datasets/<format>.py declares in its optional attribute CONFIG (a pydantic model).
- the names of methods and test sets ([A-Za-z0-9_]+: they become folder names) and conditions
  (lower-case identifiers: they become column values and report labels).

A new params key: add it to params.yaml with its comment AND here.
"""

from __future__ import annotations

import difflib
import importlib
import re
import types
from typing import Annotated, Any, Callable, Literal, Mapping, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

NAME_PATTERN = r"^[A-Za-z0-9_]+$"          # method and test-set names: safe as folder names
CONDITION_PATTERN = r"^[a-z][a-z0-9_]*$"   # conditions: lower-case identifiers
TRAVERSAL_PATTERN = r"^\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}$"

Name = Annotated[str, Field(pattern=NAME_PATTERN)]
Condition = Annotated[str, Field(pattern=CONDITION_PATTERN)]
PositiveFloat = Annotated[float, Field(gt=0)]
NonNegativeFloat = Annotated[float, Field(ge=0)]
PositiveInt = Annotated[int, Field(ge=1)]
NonNegativeInt = Annotated[int, Field(ge=0)]
PathStr = Annotated[str, Field(min_length=1)]


class ParamsError(ValueError):
    """A params problem: `key` (dotted), the offending `value` and what is `allowed`; one line."""

    def __init__(self, key: str, value: Any, allowed: str, source: str = "params.yaml") -> None:
        self.key, self.value, self.allowed = key, value, allowed
        shown = "(missing)" if value is _MISSING else _short(value)
        super().__init__(f"{source}: {key} = {shown}: {allowed}" if key else f"{source}: {allowed}")


class Section(BaseModel):
    """A params section: unknown keys are errors, types strict, numbers finite."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)


# -- data, synthetic, clean --------------------------------------------------------------------


class Data(Section):
    raw_root: PathStr


class SyntheticTraversals(Section):
    condition: Condition
    runs: PositiveInt
    reverse: NonNegativeInt


class SyntheticFaults(Section):
    location_outlier: NonNegativeInt
    location_outlier_images: PositiveInt
    bad_ins: NonNegativeInt
    bad_ins_burst_s: PositiveFloat
    nan_rows: NonNegativeInt
    underexposed: NonNegativeInt
    overexposed: NonNegativeInt
    unreadable_image: NonNegativeInt
    no_image_file: NonNegativeInt
    no_ins_coverage: NonNegativeInt


Fraction = Annotated[float, Field(ge=0, le=1)]


class SyntheticRegions(Section):
    """[start, end] fractions of the route: the default validation and test boxes."""

    val: Annotated[list[Fraction], Field(min_length=2, max_length=2)]
    test: Annotated[list[Fraction], Field(min_length=2, max_length=2)]


class Synthetic(Section):
    seed: NonNegativeInt
    route_length_m: PositiveFloat
    frame_spacing_m: PositiveFloat
    image_width: Annotated[int, Field(ge=8)]
    image_height: Annotated[int, Field(ge=8)]
    traversals: Annotated[list[SyntheticTraversals], Field(min_length=1)]
    faults: SyntheticFaults
    png_compression: Annotated[int, Field(ge=0, le=9)]
    regions: SyntheticRegions


SeasonsCondition = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]*$")]   # RobotCar Seasons: night-rain, ...


class SyntheticSeasons(Section):
    """The embedded Seasons set (softloc.synthetic.seasons_world)."""

    seed: NonNegativeInt
    locations: PositiveInt
    route_fractions: Annotated[list[Fraction], Field(min_length=2, max_length=2)]
    location_length_m: PositiveFloat
    reference_spacing_m: PositiveFloat
    reference_condition: SeasonsCondition
    query_conditions: Annotated[dict[SeasonsCondition, Condition], Field(min_length=1)]
    queries_per_location: PositiveInt
    heading_jitter_deg: NonNegativeFloat
    image_size: Annotated[int, Field(ge=16)]
    jpeg_quality: Annotated[int, Field(ge=1, le=100)]


class SyntheticPittsburgh(Section):
    """The embedded Pittsburgh-format test set (softloc.synthetic.pittsburgh_world)."""

    seed: NonNegativeInt
    route_length_m: PositiveFloat
    place_spacing_m: PositiveFloat
    reference_lateral_m: NonNegativeFloat
    reference_condition: Condition      # a synthetic_render.CONDITIONS name (the module checks too)
    query_condition: Condition
    query_places: PositiveInt
    query_route_fraction: Annotated[float, Field(gt=0, le=1)]
    query_lateral_m: NonNegativeFloat
    image_width: Annotated[int, Field(ge=8)]
    image_height: Annotated[int, Field(ge=8)]
    jpeg_quality: Annotated[int, Field(ge=1, le=100)]


class Clean(Section):
    good_ins_status: Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)]
    max_ins_gap_s: PositiveFloat
    underexposed_below: Annotated[float, Field(ge=0, le=255)]
    overexposed_above: Annotated[float, Field(ge=0, le=255)]
    outlier_window_s: PositiveFloat
    max_deviation_m: PositiveFloat
    route_radius_m: PositiveFloat


# -- split, tuples -----------------------------------------------------------------------------


class Box(Section):
    easting_min: float
    easting_max: float
    northing_min: float
    northing_max: float


class Split(Section):
    test_region: Box
    val_region: Box
    gap_m: NonNegativeFloat
    reference_condition: Condition
    reference_traversal: Annotated[str, Field(pattern=TRAVERSAL_PATTERN)] | None = None
    reference_spacing_m: NonNegativeFloat | None
    query_conditions: Annotated[list[Condition], Field(min_length=1)]
    query_max_yaw_deg: Annotated[float, Field(ge=0, le=180)]
    query_spacing_m: NonNegativeFloat | None = None


class Tuples(Section):
    anchor_spacing_m: PositiveFloat
    anchor_merge_radius_m: NonNegativeFloat
    max_radius_m: PositiveFloat
    seed: NonNegativeInt


# -- model, train ------------------------------------------------------------------------------


class Model(Section):
    backbone: Literal["small", "vgg16"]
    init: Literal["random", "imagenet"] = "random"
    weights: str = ""
    clusters: PositiveInt
    image_max_side: Annotated[int, Field(ge=16)]
    small_channels: Annotated[list[PositiveInt], Field(min_length=1)] = [16, 32, 64, 128]


class Mining(Section):
    cache_size: PositiveInt
    refresh_steps: PositiveInt
    hard_fraction: Annotated[float, Field(ge=0, le=1)]


class Train(Section):
    device: Literal["auto", "cpu", "cuda"]
    amp: Literal["bf16", "fp16", "off"] = "bf16"
    compile: bool = False
    nproc_per_node: PositiveInt = 1
    close_from: Literal["any_traversal", "other_traversals"]
    lr: PositiveFloat
    lr_decay: Annotated[float, Field(gt=0, le=1)]
    epochs: PositiveInt
    max_steps_per_epoch: PositiveInt
    batch_tuples: PositiveInt
    n_close: PositiveInt
    n_far: PositiveInt
    max_yaw_deg: Annotated[float, Field(ge=0, le=180)]
    init_images: PositiveInt
    mining: Mining
    val_threshold_m: PositiveFloat
    val_max_queries: PositiveInt
    val_every_steps: NonNegativeInt
    patience: PositiveInt
    checkpoint_every_steps: NonNegativeInt
    eval_batch_size: PositiveInt


# -- methods: base keys + the loss's hyperparameters (mirrors softloc/losses constructors) ------


class Method(Section):
    """A `methods` entry's sampling keys; the subclasses below add each loss's hyperparameters."""

    loss: str
    r1: PositiveFloat
    r2: PositiveFloat
    n_extra: NonNegativeInt = 0


class NoLoss(Method):
    """loss: none: the off-the-shelf network, or a published pytorch-NetVlad checkpoint imported
    as the method's network (softloc.models.netvlad_import)."""

    checkpoint: PathStr | None = None


class SoftContrastive(Method):
    form: Literal["released", "paper"] = "released"
    influence: Literal["sigmoid", "linear", "tanh"] = "sigmoid"
    combine: Literal["logsumexp", "sum"] = "logsumexp"
    gamma: PositiveFloat = 0.8
    tau: PositiveFloat = 15.0
    eta: PositiveFloat | None = None
    mu: float | None = None
    nu: PositiveFloat | None = None
    alpha: PositiveFloat | None = None
    beta: PositiveFloat | None = None
    lam: float | None = None
    ms_mining: bool | None = None
    ms_eps: NonNegativeFloat | None = None


class Triplet(Method):
    margin: NonNegativeFloat = 0.1


class Quadruplet(Method):
    margin: NonNegativeFloat = 0.1
    margin2: NonNegativeFloat = 0.2


class TripletHuber(Method):
    margin: NonNegativeFloat = 0.1
    huber_weight: NonNegativeFloat = 0.5
    feature_scale: PositiveFloat = 2.0
    delta: PositiveFloat = 1.0


class LogRatio(Method):
    eps: PositiveFloat = 1e-6


class MultiSimilarity(Method):
    alpha: PositiveFloat = 2.0
    beta: PositiveFloat = 50.0
    lam: float = 1.0
    ms_mining: bool = False
    ms_eps: NonNegativeFloat = 0.1
    label_scope: Literal["batch", "tuple"] = "batch"


# loss name -> (entry model, n_extra the loss needs, close and far must be disjoint: r1 <= r2)
LOSS_MODELS: dict[str, tuple[type[Method], int, bool]] = {
    "none": (NoLoss, 0, True),
    "soft_contrastive": (SoftContrastive, 0, False),   # close and far one set, weighted by distance
    "logratio": (LogRatio, 0, False),                  # ratios of distances: no close/far roles
    "triplet": (Triplet, 0, True),
    "lazy_triplet": (Triplet, 0, True),
    "quadruplet": (Quadruplet, 1, True),
    "lazy_quadruplet": (Quadruplet, 1, True),
    "triplet_huber": (TripletHuber, 0, True),
    "multisimilarity": (MultiSimilarity, 0, True),
}
# soft_contrastive keys that belong to one form only (softloc.losses.soft PAPER_KEYS/RELEASED_KEYS)
SOFT_FORM_KEYS = {"paper": ("eta", "mu", "nu"), "released": ("alpha", "beta", "lam", "ms_mining", "ms_eps")}


# -- pca, extract, evaluate, report, test sets -------------------------------------------------


class Pca(Section):
    dim: PositiveInt
    fit_images: Annotated[int, Field(ge=2)]
    seed: NonNegativeInt
    eps: NonNegativeFloat


class Extract(Section):
    batch_size: PositiveInt
    device: Annotated[str, Field(pattern=r"^(auto|cpu|cuda(:\d+)?)$")]


class Evaluate(Section):
    thresholds_m: Annotated[list[PositiveFloat], Field(min_length=1)]
    headline_m: PositiveFloat
    curve_max_m: PositiveFloat
    top_k: PositiveInt
    recall_at: Annotated[list[PositiveInt], Field(min_length=1)]
    recall_radius_m: PositiveFloat


class Bootstrap(Section):
    """report.bootstrap: the block bootstrap of Table 1's intervals (softloc.stats)."""

    resamples: Annotated[int, Field(ge=100)]
    confidence: Annotated[float, Field(gt=0, lt=1)]
    seed: NonNegativeInt
    block_m: PositiveFloat | None   # None: Politis-White's choice from the data


class Report(Section):
    table1: Annotated[list[Name], Field(min_length=1)]   # test sets of Table 1 (keys of `testsets`)
    variants: list[Name]
    influence_method: Name
    reference: Name                 # a method absent from `methods`: Table 1 has no difference column
    baseline: Name                  # the untrained network; absent from `methods`: no gain column
    bootstrap: Bootstrap


class Gradcam(Section):
    """Figure 3 (pipeline/gradcam.py): which queries, which trained seed, which method is ours."""

    testset: Name
    condition: Annotated[str, Field(min_length=1)]
    queries: PositiveInt
    seed: NonNegativeInt
    method: Name
    threshold_m: PositiveFloat


class Testset(Section):
    """A `testsets` entry's base keys; the format module's CONFIG adds its own (robotcar: utm_zone)."""

    format: str
    split: PathStr
    images: PathStr
    pca_fit: Literal["train", "reference"]


class Params(Section):
    """params.yaml. `methods` and `testsets` entries are checked by their own models (see above)."""

    data: Data
    synthetic: Synthetic
    synthetic_pittsburgh: SyntheticPittsburgh
    synthetic_seasons: SyntheticSeasons
    clean: Clean
    split: Split
    tuples: Tuples
    model: Model
    train: Train
    methods: Annotated[dict[Name, Method], Field(min_length=1)]
    pca: Pca
    extract: Extract
    evaluate: Evaluate
    report: Report
    gradcam: Gradcam
    seeds: Annotated[list[NonNegativeInt], Field(min_length=1)]
    testsets: Annotated[dict[Name, Testset], Field(min_length=1)]


# -- validation --------------------------------------------------------------------------------


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
    params = _validate(Params, {**raw, **typed}, (), source)
    _check_relations(params, source)
    return params


def _validate_method(name: str, entry: dict[str, Any], source: str) -> Method:
    loss = entry.get("loss", _MISSING)
    if loss not in LOSS_MODELS:
        raise ParamsError(f"methods.{name}.loss", loss,
                          f"a loss name: one of {', '.join(sorted(LOSS_MODELS))}", source)
    return _validate(LOSS_MODELS[loss][0], entry, ("methods", name), source)


def _validate_testset(name: str, entry: dict[str, Any], source: str) -> BaseModel:
    from softloc.datasets import FORMATS  # the seam's registry of format names

    fmt = entry.get("format", _MISSING)
    if fmt not in FORMATS:
        raise ParamsError(f"testsets.{name}.format", fmt, f"a test-set format: one of {', '.join(FORMATS)}", source)
    return _validate(testset_model(fmt), entry, ("testsets", name), source)


def testset_model(fmt: str) -> type[Testset]:
    """The model of a `testsets` entry of format `fmt`: the base keys plus the format's CONFIG."""
    if fmt not in _TESTSET_MODELS:
        config = getattr(importlib.import_module(f"softloc.datasets.{fmt}"), "CONFIG", None)
        fields = {} if config is None else {k: (f.annotation, f) for k, f in config.model_fields.items()}
        _TESTSET_MODELS[fmt] = create_model(f"Testset_{fmt}", __base__=Testset, **fields)
    return _TESTSET_MODELS[fmt]


_TESTSET_MODELS: dict[str, type[Testset]] = {}


def _check_seasons_relations(p: Params, fail: Callable[[str, Any, str], None]) -> None:
    """The embedded Seasons set and Figure 3: the keys that point at other sections."""
    seasons = p.synthetic_seasons
    start, end = seasons.route_fractions
    test_start, test_end = p.synthetic.regions.test
    if not test_start <= start < end <= test_end:
        fail("synthetic_seasons.route_fractions", [start, end],
             f"[start, end] with start < end inside synthetic.regions.test ({[test_start, test_end]}): "
             "the embedded set lies in the held-out test part of the town")
    if seasons.reference_condition in seasons.query_conditions:
        fail("synthetic_seasons.reference_condition", seasons.reference_condition, "not also a query condition")
    if p.gradcam.testset not in p.testsets:
        fail("gradcam.testset", p.gradcam.testset, f"a key of testsets ({', '.join(p.testsets)})")
    if p.gradcam.method not in p.methods:
        fail("gradcam.method", p.gradcam.method, "a key of methods")
    if p.gradcam.seed not in p.seeds:
        fail("gradcam.seed", p.gradcam.seed, f"one of seeds ({p.seeds})")


def _check_relations(p: Params, source: str) -> None:
    """Rules between keys, each failing with the key that breaks it."""

    def fail(key: str, value: Any, allowed: str) -> None:
        raise ParamsError(key, value, allowed, source)

    for i, group in enumerate(p.synthetic.traversals):
        if group.reverse > group.runs:
            fail(f"synthetic.traversals[{i}].reverse", group.reverse, f"at most runs ({group.runs})")
    if p.clean.underexposed_below >= p.clean.overexposed_above:
        fail("clean.underexposed_below", p.clean.underexposed_below,
             f"below clean.overexposed_above ({p.clean.overexposed_above})")
    for region in ("test_region", "val_region"):
        box = getattr(p.split, region)
        for axis in ("easting", "northing"):
            low, high = getattr(box, f"{axis}_min"), getattr(box, f"{axis}_max")
            if low >= high:
                fail(f"split.{region}.{axis}_min", low, f"below split.{region}.{axis}_max ({high})")
    for region in ("val", "test"):
        start, end = getattr(p.synthetic.regions, region)
        if start >= end:
            fail(f"synthetic.regions.{region}", [start, end], "[start, end] fractions of the route with start < end")
    _unique(p.split.query_conditions, "split.query_conditions", source)
    _unique(p.seeds, "seeds", source)
    _unique(p.evaluate.thresholds_m, "evaluate.thresholds_m", source)
    _unique(p.evaluate.recall_at, "evaluate.recall_at", source)
    _unique(p.report.table1, "report.table1", source)
    for i, name in enumerate(p.report.table1):
        if name not in p.testsets:
            fail(f"report.table1[{i}]", name, f"a test set of params testsets ({', '.join(p.testsets)})")
    for key, d in [("headline_m", p.evaluate.headline_m)] + [(f"thresholds_m[{i}]", d) for i, d in enumerate(p.evaluate.thresholds_m)]:
        if d > p.evaluate.curve_max_m:
            fail(f"evaluate.{key}", d, f"<= evaluate.curve_max_m ({p.evaluate.curve_max_m}): the curves end there")
    if max(p.evaluate.recall_at) > p.evaluate.top_k:
        fail("evaluate.recall_at", p.evaluate.recall_at, f"at most evaluate.top_k ({p.evaluate.top_k}) references each")
    _check_seasons_relations(p, fail)
    for name, entry in p.testsets.items():
        if entry.format == "robotcar" and entry.images != p.data.raw_root:
            fail(f"testsets.{name}.images", entry.images,
                 f"data.raw_root ({p.data.raw_root}): a robotcar test set is cut from those traversals")
    if p.model.init == "imagenet" and p.model.backbone != "vgg16":
        fail("model.init", p.model.init, "imagenet needs model.backbone: vgg16 (no ImageNet weights for small)")
    if p.model.init == "imagenet" and not p.model.weights:
        fail("model.weights", p.model.weights, "the local path of torchvision's vgg16 weights (model.init: imagenet)")

    radius = p.tuples.max_radius_m
    if p.split.gap_m < radius:
        fail("split.gap_m", p.split.gap_m, f">= tuples.max_radius_m ({radius}): no held-out place within a tuple's reach")
    for name, m in p.methods.items():
        _, n_extra, disjoint = LOSS_MODELS[m.loss]
        if m.n_extra != n_extra:
            fail(f"methods.{name}.n_extra", m.n_extra, f"{n_extra} (extra images per tuple of loss {m.loss})")
        if disjoint and m.r1 > m.r2:
            fail(f"methods.{name}.r1", m.r1, f"<= r2 ({m.r2}): loss {m.loss} needs close (< r1) and far (>= r2) apart")
        for key in ("r1", "r2"):
            if getattr(m, key) > radius:
                fail(f"methods.{name}.{key}", getattr(m, key),
                     f"<= tuples.max_radius_m ({radius}): neighbour lists reach no further")
        if isinstance(m, SoftContrastive):
            other = "released" if m.form == "paper" else "paper"
            for key in SOFT_FORM_KEYS[other]:
                if getattr(m, key) is not None:
                    fail(f"methods.{name}.{key}", getattr(m, key),
                         f"only with form: {other} (this entry has form: {m.form})")


def _unique(values: list[Any], key: str, source: str) -> None:
    seen = set()
    for i, value in enumerate(values):
        if value in seen:
            raise ParamsError(f"{key}[{i}]", value, "each value once (listed twice)", source)
        seen.add(value)


def _validate(model: type[BaseModel], data: Any, prefix: tuple, source: str) -> Any:
    """model.model_validate(data), the first error raised as ParamsError with its full key."""
    try:
        return model.model_validate(data)
    except ValidationError as err:
        # An unknown key first: a misspelt key also shows up as the right one missing.
        first = sorted(err.errors(), key=lambda e: e["type"] != "extra_forbidden")[0]
        value = _MISSING if first["type"] == "missing" else first.get("input")
        raise ParamsError(_key(prefix + tuple(first["loc"])), value, _allowed(first, model, tuple(first["loc"])),
                          source) from None


def _key(loc: tuple) -> str:
    """('methods', 'soft', 'gamma') -> methods.soft.gamma; list items [i]; a bad dict key ['..']."""
    out = ""
    for i, part in enumerate(loc):
        if part == "[key]":
            continue
        if isinstance(part, int) or (i + 1 < len(loc) and loc[i + 1] == "[key]"):
            out += f"[{part!r}]" if isinstance(part, str) else f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _allowed(error: Mapping[str, Any], model: type[BaseModel], loc: tuple) -> str:
    """What is allowed at the error's place, in words (pydantic's message plus our hints)."""
    kind, value = error["type"], error.get("input")
    if kind == "extra_forbidden":
        parent = _model_at(model, loc[:-1])
        keys = sorted(parent.model_fields) if parent is not None else []
        guess = difflib.get_close_matches(str(loc[-1]), keys, n=1)
        hint = f" (did you mean {guess[0]}?)" if guess else ""
        return f"unknown key{hint}; allowed keys: {', '.join(keys)}"
    if kind == "missing":
        return "missing required key"
    message = error["msg"]
    if isinstance(value, str) and kind in ("float_type", "int_type") and _NUMBER.fullmatch(value.strip()):
        message += " (a string: YAML reads exponents without a dot, e.g. 1e-3, as text; write 1.0e-3)"
    if isinstance(value, bool) and kind in ("literal_error", "string_type", "string_pattern_mismatch"):
        message += " (YAML reads unquoted yes/no/on/off as booleans: quote the value)"
    return message


_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def _model_at(model: Any, loc: tuple) -> type[BaseModel] | None:
    """The pydantic model class found at `loc` inside `model` (through fields, dicts and lists)."""
    current = model
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(part)
            if field is None:
                return None
            current = field.annotation
        elif get_origin(current) in (dict, list):
            current = get_args(current)[-1]
        else:
            return None
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(tp: Any) -> Any:
    """Strip Annotated and Optional around a type."""
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin is Union or origin is types.UnionType:
            arms = [a for a in get_args(tp) if a is not type(None)]
            tp = arms[0]
        else:
            return tp


class _Missing:
    def __repr__(self) -> str:
        return "(missing)"


_MISSING = _Missing()


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
