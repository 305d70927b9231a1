"""A synthetic run's 50 Hz INS log in RobotCar's gps/ins.csv columns and units, faults applied.

Columns: timestamp (us), ins_status (INS_SOLUTION_GOOD, faults INS_HIGH_VARIANCE), latitude,
longitude (deg WGS84), altitude (m), northing, easting (m, UTM), down (m, = -altitude),
utm_zone ("30U"), velocity_north/east/down (m/s), roll, pitch, yaw (rad; yaw clockwise from
north in [-pi, pi)).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import utm

from softloc import io
from softloc.synthetic import town
from softloc.synthetic.motion import Run, run_pose, wrap_deg

if TYPE_CHECKING:
    from softloc.synthetic.faults import Faults

INS_RATE_HZ = 50
INS_STEP_US = 1_000_000 // INS_RATE_HZ
INS_MARGIN_S = 1.0            # INS log runs this long before the first and after the last image
GOOD_STATUS = "INS_SOLUTION_GOOD"
BAD_STATUS = "INS_HIGH_VARIANCE"
UTM_ZONE = f"{town.UTM_ZONE_NUMBER}{town.UTM_ZONE_LETTER}"
INS_COLUMNS = ["timestamp", "ins_status", "latitude", "longitude", "altitude", "northing", "easting", "down",
               "utm_zone", "velocity_north", "velocity_east", "velocity_down", "roll", "pitch", "yaw"]


def ins_table(run: Run, route: town.Route, image_us: np.ndarray, faults: Faults | None) -> pd.DataFrame:
    """The run's 50 Hz INS log in RobotCar's columns and units, faults applied."""
    start = int(image_us[0]) - int(INS_MARGIN_S * 1e6)
    end = int(image_us[-1]) + int(INS_MARGIN_S * 1e6)
    if faults is not None and faults.uncovered:
        end = int(image_us[-faults.uncovered - 1]) + 2 * INS_STEP_US   # covers the images before
    ts = np.arange(start, end + 1, INS_STEP_US, dtype=np.int64)
    t = (ts - run.start_us) / 1e6
    x, y, yaw = run_pose(run, route, t)
    vx, vy = np.gradient(x, t), np.gradient(y, t)
    altitude = 110.0 + 4.0 * np.sin((x - town.ORIGIN_EASTING) / 250.0) + 2.0 * np.cos((y - town.ORIGIN_NORTHING) / 180.0)
    vz = -np.gradient(altitude, t)
    roll = 0.01 * np.sin(2 * np.pi * t / 3.1 + run.index)
    pitch = 0.008 * np.sin(2 * np.pi * t / 4.7 + 2 * run.index)
    status = np.full(len(ts), GOOD_STATUS, dtype=object)
    if faults is not None:
        # Faulty rows run from midway before the first affected image to midway after the last,
        # so every affected image has both bracketing rows faulty and its neighbours have none.
        half = int(run.frame_dt * 5e5)
        for a, b in faults.jump:
            rows = _rows_between(ts, image_us[a] - half, image_us[b - 1] + half)
            dx, dy = _off_route_jump(route, x[rows], y[rows], yaw[rows][0])
            x[rows] += dx
            y[rows] += dy
        for a, b in faults.burst:
            status[_rows_between(ts, image_us[a] - half, image_us[b - 1] + half)] = BAD_STATUS
    lat, lon = utm.to_latlon(x, y, town.UTM_ZONE_NUMBER, town.UTM_ZONE_LETTER)
    df = pd.DataFrame({"timestamp": ts, "ins_status": status, "latitude": lat, "longitude": lon,
                       "altitude": altitude, "northing": y, "easting": x, "down": -altitude, "utm_zone": UTM_ZONE,
                       "velocity_north": vy, "velocity_east": vx, "velocity_down": vz, "roll": roll,
                       "pitch": pitch, "yaw": np.deg2rad(wrap_deg(yaw))})
    if faults is not None:
        numeric = [c for c in INS_COLUMNS if c not in ("timestamp", "ins_status", "utm_zone")]
        for a in faults.nan_after:
            df.loc[int(np.searchsorted(ts, image_us[a], side="right")), numeric] = np.nan
    return df


def _off_route_jump(route: town.Route, x: np.ndarray, y: np.ndarray, yaw: float) -> tuple[float, float]:
    """A sideways INS position jump (45 m or more) that lands >= 35 m from every street."""
    for size in (45.0, 70.0, 100.0, 150.0):
        for side in (1.0, -1.0):
            dx, dy = side * size * np.cos(yaw), -side * size * np.sin(yaw)
            gap = np.hypot(route.x[None, :] - (x + dx)[:, None], route.y[None, :] - (y + dy)[:, None]).min()
            if gap >= 35.0:
                return dx, dy
    raise ValueError("synthetic world: found no off-route place for a location-outlier jump")


def _rows_between(ts: np.ndarray, lo: int, hi: int) -> np.ndarray:
    return np.flatnonzero((ts >= lo) & (ts <= hi))


def write_ins(df: pd.DataFrame, path: Path) -> None:
    """Write an INS table as RobotCar's gps/ins.csv (header line, comma separated, NaN as 'nan')."""
    with io.atomic_path(path) as tmp:
        df[INS_COLUMNS].to_csv(tmp, index=False, float_format="%.12g", na_rep="nan", lineterminator="\n")
