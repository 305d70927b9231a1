"""The params sections of the data side: the raw root, the synthetic worlds, clean, split, tuples."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from softloc.config.base import (TRAVERSAL_PATTERN, Condition, Fraction, NonNegativeFloat, NonNegativeInt, PathStr,
                                 PositiveFloat, PositiveInt, Section, UtmZone)


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
    utm_zone: UtmZone
    good_ins_status: Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)]
    max_ins_gap_s: PositiveFloat
    underexposed_below: Annotated[float, Field(ge=0, le=255)]
    overexposed_above: Annotated[float, Field(ge=0, le=255)]
    outlier_window_s: PositiveFloat
    max_deviation_m: PositiveFloat
    route_radius_m: PositiveFloat


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
