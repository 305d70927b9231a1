"""The rules between params keys, each failing with the key that breaks it (r1 <= r2 where a loss
needs it, every radius within tuples.max_radius_m, split.gap_m beyond it, ...)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from softloc.config.errors import ParamsError
from softloc.losses import LOSSES, loss_params

if TYPE_CHECKING:
    from softloc.config.schema import Params

Fail = Callable[[str, Any, str], None]


def check_relations(p: Params, source: str) -> None:
    """Every rule between keys; the first broken one raises ParamsError."""

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
    for key, values in (("split.query_conditions", p.split.query_conditions), ("seeds", p.seeds),
                        ("evaluate.thresholds_m", p.evaluate.thresholds_m), ("evaluate.recall_at", p.evaluate.recall_at),
                        ("report.table1", p.report.table1)):
        _unique(values, key, fail)
    for key in ("reference", "baseline"):
        if getattr(p.report, key) not in p.methods:
            fail(f"report.{key}", getattr(p.report, key), f"a key of methods ({', '.join(p.methods)})")
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
        if entry.format == "robotcar" and entry.utm_zone != p.clean.utm_zone:
            fail(f"testsets.{name}.utm_zone", entry.utm_zone,
                 f"clean.utm_zone ({p.clean.utm_zone}): a robotcar test set's positions are the cleaned INS's")
    if p.model.init == "imagenet" and p.model.backbone == "small":
        fail("model.init", p.model.init, "imagenet needs model.backbone: vgg16 or efficientnet_lite0 (no ImageNet weights for small)")
    if p.model.init == "imagenet" and p.model.backbone == "vgg16" and not p.model.weights:
        fail("model.weights", p.model.weights, "the local path of torchvision's vgg16 weights (model.init: imagenet)")
    _check_train_from_block(p, fail)
    _check_method_relations(p, fail)


def _check_seasons_relations(p: Params, fail: Fail) -> None:
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


def _check_train_from_block(p: Params, fail: Fail) -> None:
    """model.train_from_block names a cut of the pretrained trunk (softloc.models.trained_part)."""
    start, model = p.model.train_from_block, p.model
    if start is None:
        return
    if model.backbone == "small":
        fail("model.train_from_block", start, "null for model.backbone small (it trains whole, from random weights)")
    if model.backbone == "vgg16" and not 1 <= start <= 5:
        fail("model.train_from_block", start, "a VGG-16 conv stage 1-5 (5: conv5 on, as NetVLAD's authors), or null")
    if model.backbone == "efficientnet_lite0" and start > model.lite_last_block:
        fail("model.train_from_block", start, f"a Lite0 block 0-{model.lite_last_block} (model.lite_last_block), or null")


def _check_method_relations(p: Params, fail: Fail) -> None:
    """Each method against its loss's needs and the neighbour lists' reach."""
    radius = p.tuples.max_radius_m
    if p.split.gap_m < radius:
        fail("split.gap_m", p.split.gap_m, f">= tuples.max_radius_m ({radius}): no held-out place within a tuple's reach")
    for name, m in p.methods.items():
        spec = LOSSES[m.loss]
        if m.n_extra != spec.n_extra:
            fail(f"methods.{name}.n_extra", m.n_extra, f"{spec.n_extra} (extra images per tuple of loss {m.loss})")
        if spec.disjoint and m.r1 > m.r2:
            fail(f"methods.{name}.r1", m.r1, f"<= r2 ({m.r2}): loss {m.loss} needs close (< r1) and far (>= r2) apart")
        for key in ("r1", "r2"):
            if getattr(m, key) > radius:
                fail(f"methods.{name}.{key}", getattr(m, key),
                     f"<= tuples.max_radius_m ({radius}): neighbour lists reach no further")
        for key, allowed in loss_params(m).conflicts():
            fail(f"methods.{name}.{key}", getattr(m, key), allowed)
        if getattr(m, "checkpoint", None) and m.aggregator not in (None, "netvlad"):
            fail(f"methods.{name}.aggregator", m.aggregator,
                 "netvlad or unset: an imported checkpoint is pytorch-NetVlad's VGG-16 + NetVLAD")


def _unique(values: list[Any], key: str, fail: Fail) -> None:
    seen = set()
    for i, value in enumerate(values):
        if value in seen:
            fail(f"{key}[{i}]", value, "each value once (listed twice)")
        seen.add(value)

