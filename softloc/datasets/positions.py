"""UTM zones of positions: parse a zone name, turn positions into latitude/longitude, and tell
whether a position is plausible for its zone and agrees with its stated latitude/longitude."""

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


# Where a position can lie in its zone: every UTM easting lies within 100-900 km (166-834 km on
# land); a northing within 0-9,400 km north of the equator, 1,100-10,000 km south of it.
EASTING_RANGE_M = (100_000.0, 900_000.0)
NORTHING_RANGE_M = {True: (0.0, 9_400_000.0), False: (1_100_000.0, 10_000_000.0)}   # northern: range
MAX_LATLON_DISAGREEMENT_M = 50.0   # stated latitude/longitude vs stated UTM; a wrong zone is km off
BAND_TOLERANCE_DEG = 0.5           # a position's latitude vs its zone letter's 8-degree band


def implausible(easting: np.ndarray, northing: np.ndarray, zone: tuple[int, str]) -> np.ndarray:
    """Per position: why it cannot lie in `zone` ("" when it can): easting outside 100-900 km,
    northing outside the hemisphere's range (easting and northing swapped?), or a latitude outside
    the zone letter's band."""
    easting, northing = np.asarray(easting, np.float64), np.asarray(northing, np.float64)
    reasons = np.full(len(easting), "", dtype=object)
    low, high = NORTHING_RANGE_M[zone[1] >= "N"]
    bad_northing = (northing < low) | (northing > high)
    reasons[bad_northing] = f"northing outside {low / 1e3:.0f}-{high / 1e3:.0f} km of a zone's {zone[1]} band"
    reasons[(easting < EASTING_RANGE_M[0]) | (easting > EASTING_RANGE_M[1])] = "easting outside a UTM zone's 100-900 km"
    ok = reasons == ""
    if ok.any():
        latitude, _ = geometry.utm_to_latlon(easting[ok], northing[ok], *zone)
        band_low = -80.0 + 8.0 * "CDEFGHJKLMNPQRSTUVWX".index(zone[1])
        band_high = 84.0 if zone[1] == "X" else band_low + 8.0
        outside = (latitude < band_low - BAND_TOLERANCE_DEG) | (latitude > band_high + BAND_TOLERANCE_DEG)
        reasons[np.flatnonzero(ok)[outside]] = f"latitude outside band {zone[1]} ({band_low:.0f} to {band_high:.0f} degrees)"
    return reasons


def latlon_disagreement_m(easting: np.ndarray, northing: np.ndarray, latitude: np.ndarray, longitude: np.ndarray,
                          zone: tuple[int, str]) -> np.ndarray:
    """Metres between each stated UTM position and its stated latitude/longitude converted into
    `zone`: NaN where latitude or longitude is NaN, inf where they are no WGS84 coordinates."""
    import utm  # as softloc.geometry: imported where used

    latitude, longitude = np.asarray(latitude, np.float64), np.asarray(longitude, np.float64)
    out = np.full(len(latitude), np.nan)
    known = np.isfinite(latitude) & np.isfinite(longitude)
    valid = known & (latitude >= -80) & (latitude <= 84) & (longitude >= -180) & (longitude <= 180)
    out[known & ~valid] = np.inf
    if valid.any():
        e, n, _, _ = utm.from_latlon(latitude[valid], longitude[valid], force_zone_number=zone[0],
                                     force_zone_letter=zone[1])
        out[valid] = np.hypot(np.asarray(easting, np.float64)[valid] - e, np.asarray(northing, np.float64)[valid] - n)
    return out
