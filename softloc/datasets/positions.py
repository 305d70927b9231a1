"""UTM zones of test-set positions: parse a zone name and turn positions into latitude/longitude."""

from __future__ import annotations

import re

import numpy as np

from softloc import geometry

_ZONE = re.compile(r"^(\d{1,2})([C-HJ-NP-X])$")


def parse_zone(utm_zone: str, where: str) -> tuple[int, str] | None:
    """("17T" -> (17, "T")); "" (a local metric frame) -> None; anything else is an error naming `where`."""
    zone = str(utm_zone).strip().upper()
    if zone == "":
        return None
    match = _ZONE.match(zone)
    if not match or not 1 <= int(match.group(1)) <= 60:
        raise ValueError(f"{where}: utm_zone {utm_zone!r} is not a UTM zone such as 17T or 30U ('' = local frame)")
    return int(match.group(1)), match.group(2)


def latlon(easting: np.ndarray, northing: np.ndarray, utm_zone: str, where: str) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 latitude, longitude (degrees) of UTM positions in `utm_zone`; NaN for a local frame ("")."""
    zone = parse_zone(utm_zone, where)
    if zone is None:
        nan = np.full(len(easting), np.nan)
        return nan, nan.copy()
    return geometry.utm_to_latlon(easting, northing, *zone)
