"""How the car drives the town's route in each traversal of params `synthetic.traversals`.

Each run has its own start time (its folder name), lane offset, speed profile and heading
jitter; `reverse` runs drive the route backwards. Poses are smooth functions of time, so INS rows
and image poses are read off the same motion at any rate.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

import numpy as np

from softloc.config import Synthetic
from softloc.synthetic import town
from softloc.synthetic.looks import CONDITION_NAMES, CONDITIONS

FIRST_DAY = dt.datetime(2014, 5, 6, tzinfo=dt.timezone.utc)
START_HOUR = {"overcast": 11, "sunny": 13, "night": 22, "snow": 10, "rain": 15, "dusk": 17}


@dataclass
class Run:
    """One traversal's motion: start time and the smooth functions that give its pose at any time."""

    name: str
    condition: str
    index: int
    reverse: bool
    start_us: int
    speed: float            # mean speed, m/s
    amps: np.ndarray        # speed profile: relative amplitudes, periods (s), phases
    periods: np.ndarray
    phases: np.ndarray
    lane: float             # metres left of the direction of travel
    weave: tuple[float, float, float]      # lateral weave amplitude (m), period (s), phase
    jitter: np.ndarray      # heading jitter: amplitudes (rad), periods (s), phases (3 x J)
    duration: float         # seconds to drive the route
    frame_dt: float         # seconds between frames


def plan_runs(cfg: Synthetic) -> list[Run]:
    """Every traversal of params `synthetic.traversals`, with its own name and motion."""
    runs, n = [], 0
    for group in cfg.traversals:
        for r in range(group.runs):
            rng = np.random.default_rng([cfg.seed, 1, n])
            cond = group.condition
            if cond not in CONDITIONS:
                raise ValueError(f"params synthetic.traversals: unknown condition {cond!r}; "
                                 f"expected one of {CONDITION_NAMES}")
            day = FIRST_DAY + dt.timedelta(days=9 * n + int(rng.integers(0, 5)),
                                           hours=START_HOUR[cond], minutes=int(rng.integers(0, 60)),
                                           seconds=int(rng.integers(0, 60)))
            speed = rng.uniform(6.0, 10.0)
            run = Run(name=day.strftime("%Y-%m-%d-%H-%M-%S"), condition=cond, index=n,
                      reverse=r >= group.runs - group.reverse,
                      start_us=calendar.timegm(day.utctimetuple()) * 1_000_000 + int(rng.integers(0, 1_000_000)),
                      speed=speed, amps=np.array([rng.uniform(0.08, 0.2), rng.uniform(0.03, 0.08)]),
                      periods=np.array([rng.uniform(25, 50), rng.uniform(6, 12)]),
                      phases=rng.uniform(0, 2 * np.pi, 2), lane=rng.uniform(1.4, 2.2),
                      weave=(rng.uniform(0.1, 0.35), rng.uniform(8, 20), rng.uniform(0, 2 * np.pi)),
                      jitter=np.stack([rng.uniform(0.004, 0.02, 3), rng.uniform(2, 9, 3), rng.uniform(0, 2 * np.pi, 3)]),
                      duration=0.0, frame_dt=cfg.frame_spacing_m / speed)
            run.duration = _time_to_drive(run, cfg.route_length_m)
            runs.append(run)
            n += 1
    return runs


def _distance(run: Run, t: np.ndarray) -> np.ndarray:
    """Metres driven after t seconds: integral of speed * (1 + sum a sin(2 pi t / T + phi))."""
    d = np.asarray(t, dtype=np.float64).copy()
    for a, period, phase in zip(run.amps, run.periods, run.phases):
        w = 2 * np.pi / period
        d += a / w * (np.cos(phase) - np.cos(w * t + phase))
    return run.speed * d


def _time_to_drive(run: Run, length: float) -> float:
    """Time at which the run has covered `length` metres (distance is increasing in time)."""
    grid = np.linspace(0, 2.0 * length / run.speed, 20001)
    return float(np.interp(length, _distance(run, grid), grid))


def run_pose(run: Run, route: town.Route, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Easting, northing, yaw (rad, clockwise from north, unwrapped) of the car at times t (s)."""
    driven = _distance(run, t)
    s = town.EXTENSION_M + (route.length - driven if run.reverse else driven)
    cx, cy, heading = route.at(s)
    amp, period, phase = run.weave
    left = run.lane + amp * np.sin(2 * np.pi * t / period + phase)
    # Left of travel = left of the route forward, right of it in reverse.
    side = -1.0 if not run.reverse else 1.0
    x = cx + side * left * np.cos(heading)
    y = cy - side * left * np.sin(heading)
    yaw = heading + (np.pi if run.reverse else 0.0)
    for a, period_j, phase_j in run.jitter.T:
        yaw = yaw + a * np.sin(2 * np.pi * t / period_j + phase_j)
    return x, y, yaw


def frame_motion(run: Run, route: town.Route, t: np.ndarray, dt: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """Speed (m/s) and yaw rate (rad/s, clockwise) of the car at times t (central differences)."""
    x0, y0, yaw0 = run_pose(run, route, t - dt)
    x1, y1, yaw1 = run_pose(run, route, t + dt)
    return np.hypot(x1 - x0, y1 - y0) / (2 * dt), (yaw1 - yaw0) / (2 * dt)


def frame_times(run: Run) -> np.ndarray:
    """Image times (s after the start): the camera's fixed rate, with microsecond-level jitter."""
    n = int(np.floor(run.duration / run.frame_dt)) + 1
    rng = np.random.default_rng([run.index, 2, n])
    return np.arange(n) * run.frame_dt + rng.uniform(-2e-4, 2e-4, n)


def wrap_deg(yaw_rad: np.ndarray) -> np.ndarray:
    """Radians to degrees in [-180, 180)."""
    return np.mod(np.rad2deg(yaw_rad) + 180.0, 360.0) - 180.0
