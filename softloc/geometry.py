"""Planar geometry of image poses: UTM <-> latitude/longitude, distances, yaw differences, and
radius / nearest-neighbour queries on a KD-tree (never all pairs).

Positions are UTM metres (easting, northing) as (N, 2) float arrays; yaw is in degrees at the
interface (clockwise from north, as RobotCar's INS), any range (wrap-around is handled).
"""

from __future__ import annotations

import itertools
from typing import NamedTuple

import numpy as np
from scipy.spatial import cKDTree
from tqdm import tqdm


class Box(NamedTuple):
    """An axis-aligned rectangle of the UTM plane, in absolute metres."""

    easting_min: float
    easting_max: float
    northing_min: float
    northing_max: float

    @classmethod
    def from_dict(cls, cfg: dict, name: str = "box") -> "Box":
        """Build from {easting_min, easting_max, northing_min, northing_max}; errors name `name`."""
        if not isinstance(cfg, dict):
            raise ValueError(f"{name}: expected a mapping with easting_min/max, northing_min/max, got {cfg!r}")
        missing = [k for k in cls._fields if k not in cfg or cfg[k] is None]
        if missing:
            raise ValueError(f"{name}: missing {missing}; expected keys {list(cls._fields)}")
        box = cls(*(float(cfg[k]) for k in cls._fields))
        if not (box.easting_min < box.easting_max and box.northing_min < box.northing_max):
            raise ValueError(f"{name}: empty box {box} (min must be below max)")
        return box


def utm_to_latlon(easting: np.ndarray, northing: np.ndarray, zone_number: int,
                  zone_letter: str) -> tuple[np.ndarray, np.ndarray]:
    """Convert UTM metres of one zone to WGS84 latitude, longitude in degrees."""
    import utm  # here, not at module level: GPU machines without utm still import softloc.training.mining

    easting = np.asarray(easting, dtype=np.float64)
    northing = np.asarray(northing, dtype=np.float64)
    if easting.size == 0:
        return np.empty(0), np.empty(0)
    lat, lon = utm.to_latlon(easting, northing, zone_number, zone_letter, strict=False)
    return np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64)


def latlon_to_utm(latitude: np.ndarray, longitude: np.ndarray,
                  zone_number: int | None = None) -> tuple[np.ndarray, np.ndarray, int, str]:
    """Convert WGS84 degrees to UTM (easting, northing, zone number, zone letter).

    All points go to one zone: `zone_number` when given, else the zone of the first point, so a
    route crossing a zone border stays in one planar frame.
    """
    import utm

    latitude = np.asarray(latitude, dtype=np.float64)
    longitude = np.asarray(longitude, dtype=np.float64)
    if latitude.size == 0:
        raise ValueError("latlon_to_utm: no points")
    easting, northing, number, letter = utm.from_latlon(latitude, longitude, force_zone_number=zone_number)
    return np.asarray(easting, dtype=np.float64), np.asarray(northing, dtype=np.float64), int(number), letter


def planar_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distance in metres between matching rows of (..., 2) position arrays."""
    diff = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    return np.hypot(diff[..., 0], diff[..., 1])


def yaw_difference_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Absolute heading difference in degrees, wrapped to [0, 180] (359 vs 1 -> 2)."""
    diff = np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)) % 360.0
    return np.minimum(diff, 360.0 - diff)


def box_distance(xy: np.ndarray, box: Box) -> np.ndarray:
    """Distance in metres from each position to the box (0 inside or on its border)."""
    xy = np.asarray(xy, dtype=np.float64)
    dx = np.maximum.reduce([box.easting_min - xy[:, 0], np.zeros(len(xy)), xy[:, 0] - box.easting_max])
    dy = np.maximum.reduce([box.northing_min - xy[:, 1], np.zeros(len(xy)), xy[:, 1] - box.northing_max])
    return np.hypot(dx, dy)


def in_box(xy: np.ndarray, box: Box) -> np.ndarray:
    """Boolean mask of positions inside the box (border included)."""
    return box_distance(xy, box) == 0.0


def build_tree(xy: np.ndarray) -> cKDTree:
    """A KD-tree over (N, 2) positions for radius and nearest-neighbour queries."""
    xy = np.asarray(xy, dtype=np.float64)
    if xy.ndim != 2 or xy.shape[1] != 2:
        raise ValueError(f"build_tree: expected (N, 2) positions, got shape {xy.shape}")
    if not np.isfinite(xy).all():
        raise ValueError(f"build_tree: {int((~np.isfinite(xy)).any(axis=1).sum())} positions are not finite")
    return cKDTree(xy, balanced_tree=False, compact_nodes=False)


def neighbours_within(tree: cKDTree, query_xy: np.ndarray, radius: float,
                      chunk: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """All tree points within `radius` metres (inclusive) of each query, in CSR form.

    Returns (offsets, indices): the neighbours of query q are indices[offsets[q]:offsets[q+1]],
    ascending. Queries run `chunk` at a time on every core (workers=-1), which bounds the memory
    of SciPy's Python lists; the result does not depend on the core count.
    """
    query_xy = np.asarray(query_xy, dtype=np.float64).reshape(-1, 2)
    counts, indices = [np.zeros(0, dtype=np.int64)], [np.zeros(0, dtype=np.int64)]
    for start in tqdm(range(0, len(query_xy), chunk), desc="radius queries", unit="chunk",
                      disable=len(query_xy) <= 10 * chunk):
        lists = tree.query_ball_point(query_xy[start:start + chunk], r=radius, workers=-1, return_sorted=True)
        counts.append(np.fromiter(map(len, lists), dtype=np.int64, count=len(lists)))
        indices.append(np.fromiter(itertools.chain.from_iterable(lists), dtype=np.int64, count=int(counts[-1].sum())))
    offsets = np.zeros(len(query_xy) + 1, dtype=np.int64)
    np.cumsum(np.concatenate(counts), out=offsets[1:])
    return offsets, np.concatenate(indices)


def nearest(tree: cKDTree, query_xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distance (m) to and index of the nearest tree point for each query position."""
    distance, index = tree.query(np.asarray(query_xy, dtype=np.float64).reshape(-1, 2), k=1, workers=-1)
    return distance, index.astype(np.int64)
