"""Shared fixtures: a tiny rendered Pittsburgh-format set (softloc.synthetic.pittsburgh_world)."""

from __future__ import annotations

from pathlib import Path

import pytest

from softloc.synthetic import pittsburgh_world as synthetic_pittsburgh

# 6 reference panoramas 15 m apart and 3 query panoramas (24 views each) of 64x48 px: about 2 s.
TINY_PITTSBURGH = {"seed": 3, "route_length_m": 90.0, "place_spacing_m": 15.0, "query_places": 3,
                   "query_route_fraction": 0.5, "image_width": 64, "image_height": 48}


@pytest.fixture(scope="session")
def tiny_pittsburgh(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The root of a tiny synthetic Pittsburgh set (views + pitts_synthetic_test_lists.mat); read-only."""
    root = tmp_path_factory.mktemp("tiny_pittsburgh")
    synthetic_pittsburgh.write_pittsburgh(TINY_PITTSBURGH, root, workers=1)
    return root
