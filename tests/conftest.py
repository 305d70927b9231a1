"""Shared fixtures and config builders: a tiny rendered Pittsburgh-format set
(softloc.synthetic.pittsburgh_world), and the validated params sections the data tests build."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from softloc.config import Synthetic, SyntheticPittsburgh, SyntheticSeasons, Testset, testset_model
from softloc.synthetic import pittsburgh_world as synthetic_pittsburgh

# The settings the tests' worlds start from: every key a test leaves out takes its value here.
ROBOTCAR_WORLD: dict[str, Any] = {
    "seed": 0,
    "route_length_m": 1200.0,
    "frame_spacing_m": 1.0,
    "image_width": 320,
    "image_height": 240,
    "traversals": [{"condition": "overcast", "runs": 2, "reverse": 1}],
    "faults": {"location_outlier": 1, "location_outlier_images": 3, "bad_ins": 1, "bad_ins_burst_s": 1.5,
               "nan_rows": 4, "underexposed": 2, "overexposed": 2, "unreadable_image": 1,
               "no_image_file": 1, "no_ins_coverage": 3},
    "png_compression": 1,
    "regions": {"val": [0.55, 0.67], "test": [0.75, 1.0]},
}
PITTSBURGH_WORLD: dict[str, Any] = {
    "seed": 1,
    "route_length_m": 880.0,
    "place_spacing_m": 10.0,
    "reference_lateral_m": 2.0,
    "reference_condition": "sunny",
    "query_condition": "overcast",
    "query_places": 36,
    "query_route_fraction": 0.85,
    "query_lateral_m": 3.0,
    "image_width": 128,
    "image_height": 96,
    "jpeg_quality": 90,
}
SEASONS_WORLD: dict[str, Any] = {
    "seed": 0,
    "locations": 5,
    "route_fractions": [0.47, 0.97],
    "location_length_m": 10.0,
    "reference_spacing_m": 1.0,
    "reference_condition": "overcast-reference",
    "query_conditions": {"sun": "sunny", "snow": "snow", "rain": "rain", "night": "night"},
    "queries_per_location": 3,
    "heading_jitter_deg": 1.5,
    "image_size": 128,
    "jpeg_quality": 90,
}


def robotcar_world(**keys: Any) -> Synthetic:
    """params `synthetic` of ROBOTCAR_WORLD with `keys` replaced (`faults` key by key)."""
    faults = {**ROBOTCAR_WORLD["faults"], **keys.pop("faults", {})}
    return Synthetic(**{**ROBOTCAR_WORLD, **keys, "faults": faults})


def pittsburgh_world(**keys: Any) -> SyntheticPittsburgh:
    """params `synthetic_pittsburgh` of PITTSBURGH_WORLD with `keys` replaced."""
    return SyntheticPittsburgh(**{**PITTSBURGH_WORLD, **keys})


def seasons_world(**keys: Any) -> SyntheticSeasons:
    """params `synthetic_seasons` of SEASONS_WORLD with `keys` replaced."""
    return SyntheticSeasons(**{**SEASONS_WORLD, **keys})


def params_testset(fmt: str, **keys: Any) -> Testset:
    """A validated params `testsets` entry of format `fmt` (pca_fit: reference unless given)."""
    return testset_model(fmt)(**{"format": fmt, "pca_fit": "reference", **keys})


# 6 reference panoramas 15 m apart and 3 query panoramas (24 views each) of 64x48 px: about 2 s.
TINY_PITTSBURGH = pittsburgh_world(seed=3, route_length_m=90.0, place_spacing_m=15.0, query_places=3,
                                   query_route_fraction=0.5, image_width=64, image_height=48)


@pytest.fixture(scope="session")
def tiny_pittsburgh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The root of a tiny synthetic Pittsburgh set (views + pitts_synthetic_test_lists.mat); read-only."""
    root = tmp_path_factory.mktemp("tiny_pittsburgh")
    synthetic_pittsburgh.write_pittsburgh(TINY_PITTSBURGH, root, workers=1)
    return root
