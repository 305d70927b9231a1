"""softloc.geometry: yaw wrap-around, distances, UTM round trips, boxes, KD-tree queries."""

from __future__ import annotations

import numpy as np
import pytest

from softloc import geometry
from softloc.geometry import Box


@pytest.mark.parametrize("a, b, expected", [
    (359.0, 1.0, 2.0), (1.0, 359.0, 2.0), (-170.0, 170.0, 20.0), (0.0, 180.0, 180.0),
    (90.0, -90.0, 180.0), (10.0, 10.0, 0.0), (725.0, -5.0, 10.0), (-720.0, 30.0, 30.0), (45.0, 100.0, 55.0),
])
def test_yaw_difference_hand_values(a: float, b: float, expected: float) -> None:
    assert geometry.yaw_difference_deg(a, b) == pytest.approx(expected)


def test_yaw_difference_range_and_symmetry() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.uniform(-1000, 1000, 10_000), rng.uniform(-1000, 1000, 10_000)
    d = geometry.yaw_difference_deg(a, b)
    assert d.min() >= 0.0 and d.max() <= 180.0
    np.testing.assert_allclose(d, geometry.yaw_difference_deg(b, a))
    # Same as the angle between the two unit heading vectors.
    ua = np.stack([np.cos(np.deg2rad(a)), np.sin(np.deg2rad(a))])
    ub = np.stack([np.cos(np.deg2rad(b)), np.sin(np.deg2rad(b))])
    np.testing.assert_allclose(d, np.rad2deg(np.arccos(np.clip((ua * ub).sum(0), -1, 1))), atol=1e-4)


def test_planar_distance() -> None:
    a = np.array([[620000.0, 5735000.0], [0.0, 0.0]])
    b = np.array([[620003.0, 5735004.0], [-6.0, 8.0]])
    np.testing.assert_allclose(geometry.planar_distance(a, b), [5.0, 10.0])


def test_utm_round_trip_oxford_and_pittsburgh() -> None:
    lat = np.array([51.7520, 51.7600]); lon = np.array([-1.2577, -1.2400])
    e, n, zone, letter = geometry.latlon_to_utm(lat, lon)
    assert (zone, letter) == (30, "U")
    assert 600_000 < e.min() < e.max() < 640_000 and 5_730_000 < n.min() < n.max() < 5_740_000
    back_lat, back_lon = geometry.utm_to_latlon(e, n, zone, letter)
    np.testing.assert_allclose(back_lat, lat, atol=1e-7)
    np.testing.assert_allclose(back_lon, lon, atol=1e-7)
    # 1 km east in UTM is ~1 km on the ground (spherical approximation: within 1 %).
    lat2, lon2 = geometry.utm_to_latlon(e[:1] + 1000.0, n[:1], zone, letter)
    metres = np.deg2rad(lon2 - lon[:1]) * 6_371_000 * np.cos(np.deg2rad(lat[0]))
    assert metres[0] == pytest.approx(1000.0, rel=1e-2)
    _, _, zone_p, letter_p = geometry.latlon_to_utm(np.array([40.44]), np.array([-79.99]))
    assert (zone_p, letter_p) == (17, "T")


def test_box_distance_and_membership() -> None:
    box = Box(0.0, 10.0, 0.0, 5.0)
    xy = np.array([[5.0, 2.0], [10.0, 5.0], [13.0, 9.0], [-2.0, 3.0], [5.0, -1.5]])
    np.testing.assert_allclose(geometry.box_distance(xy, box), [0.0, 0.0, 5.0, 2.0, 1.5])
    assert geometry.in_box(xy, box).tolist() == [True, True, False, False, False]


def test_box_from_dict_errors_name_the_parameter() -> None:
    with pytest.raises(ValueError, match=r"split.test_region.*northing_max"):
        Box.from_dict({"easting_min": 0, "easting_max": 1, "northing_min": 0}, "split.test_region")
    with pytest.raises(ValueError, match="empty box"):
        Box.from_dict({"easting_min": 5, "easting_max": 1, "northing_min": 0, "northing_max": 1}, "b")
    with pytest.raises(ValueError, match="expected a mapping"):
        Box.from_dict(None, "split.val_region")


def test_neighbours_within_matches_brute_force() -> None:
    rng = np.random.default_rng(1)
    xy = rng.uniform(0, 100, (400, 2))
    xy[1] = xy[0] + [7.0, 0.0]                      # exactly at the radius: included
    queries = np.concatenate([xy[:1], rng.uniform(0, 100, (30, 2))])
    offsets, indices = geometry.neighbours_within(geometry.build_tree(xy), queries, 7.0, chunk=8)
    assert offsets[0] == 0 and offsets[-1] == len(indices) and len(offsets) == len(queries) + 1
    for q, point in enumerate(queries):
        found = indices[offsets[q]:offsets[q + 1]]
        expected = np.flatnonzero(np.hypot(*(xy - point).T) <= 7.0)
        np.testing.assert_array_equal(found, expected)   # ascending, exact set
    assert 1 in indices[offsets[0]:offsets[1]]


def test_nearest_and_tree_input_checks() -> None:
    xy = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    distance, index = geometry.nearest(geometry.build_tree(xy), np.array([[9.0, 1.0], [1.0, 1.0]]))
    assert index.tolist() == [1, 0]
    np.testing.assert_allclose(distance, [np.sqrt(2), np.sqrt(2)])
    with pytest.raises(ValueError, match="not finite"):
        geometry.build_tree(np.array([[0.0, np.nan]]))
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        geometry.build_tree(np.zeros((3, 3)))
