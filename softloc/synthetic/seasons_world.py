"""The embedded Seasons set: a few locations of the synthetic town in the RobotCar Seasons layout,
with the query poses that the real benchmark keeps hidden written to a separate truth file.

A car drives short stretches ("locations") of the synthetic town's route (softloc.synthetic.town of
params `synthetic`: the same town as the training world, in its held-out test part) once in the reference condition
and a few times in each query condition, with three cameras (left, rear, right: 90, 180 and 270
degrees from the heading, mounted around the car's centre). Written, as RobotCar Seasons:

    <root>/images/<condition>/<camera>/<timestamp_us>.jpg      square JPEGs, pinhole
    <root>/intrinsics/<camera>_intrinsics.txt                 fx, fy, cx, cy (pixels)
    <root>/extrinsics/<camera>_extrinsics.txt                 4x4 [R c; 0 1] camera to car, comma separated
    <root>/3D-models/all-merged/all.nvm                       every reference camera (names .png)
    <root>/3D-models/individual/queries_per_location/queries_location_<NNN>.txt
    <root>/synthetic_truth.txt                                query poses: `name qw qx qy qz cx cy cz`

World (SfM) frame: x east and y north of the town's origin (metres), z up. Camera frame as NVM:
x right, y down, z forward; the NVM quaternion is the world-to-camera rotation, the centre the
camera position. Reference captures are `location_spacing_m` apart along each location; queries
lie anywhere along it with their own lane offset and a small heading jitter. Everything is a
function of the params (seed included): the same params write byte-identical files.
"""

from __future__ import annotations

import calendar
import datetime as dt
import logging
import os
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from scipy.spatial.transform import Rotation

from softloc import io
from softloc.config import Synthetic, SyntheticSeasons
from softloc.datasets.formats import seasons_files as files
from softloc.synthetic import town
from softloc.synthetic.camera import CAMERA_HEIGHT_M
from softloc.synthetic.looks import CONDITION_NAMES, CONDITIONS
from softloc.synthetic.motion_blur import Motion
from softloc.synthetic.render import Renderer

log = logging.getLogger(__name__)

REFERENCE_RENDER = "overcast"
# Camera yaw from the car's heading (degrees clockwise) and mounting point (metres forward, right).
CAMERAS = {"left": (-90.0, (0.0, -0.5)), "rear": (180.0, (-1.0, 0.0)), "right": (90.0, (0.0, 0.5))}
REFERENCE_LANE_M = 1.8
FIRST_DAY = dt.datetime(2014, 11, 28, 11, tzinfo=dt.timezone.utc)
CAPTURE_DT_US = 125_000                    # between reference captures (8 m/s, 1 m apart)
CAPTURE_SPEED_MPS = 8.0                    # the car's speed during every capture (motion blur)
TRUTH_FILE = "synthetic_truth.txt"


def check_conditions(cfg: SyntheticSeasons) -> None:
    """Every query condition must render as a renderer condition (softloc.synthetic.looks)."""
    unknown = sorted(set(cfg.query_conditions.values()) - set(CONDITIONS))
    if unknown:
        raise ValueError(f"params synthetic_seasons.query_conditions: renderer conditions {unknown} unknown; "
                         f"expected {CONDITION_NAMES}")
    if cfg.reference_condition in cfg.query_conditions:
        raise ValueError("params synthetic_seasons: the reference condition is also a query condition")


def world_rotation(yaw: np.ndarray) -> np.ndarray:
    """(N, 3, 3) world-to-camera rotations of level cameras looking along `yaw` (rad, clockwise from north).

    Rows: camera x (right) = (cos, -sin, 0), camera y (down) = (0, 0, -1), camera z (forward) =
    (sin, cos, 0), in the world frame (x east, y north, z up).
    """
    s, c = np.sin(yaw), np.cos(yaw)
    zero, one = np.zeros_like(yaw), np.ones_like(yaw)
    return np.stack([np.stack([c, -s, zero], -1), np.stack([zero, zero, -one], -1), np.stack([s, c, zero], -1)], 1)


def plan_captures(route: town.Route, cfg: SyntheticSeasons) -> pd.DataFrame:
    """Every capture (one per timestamp, three cameras each): condition, location, car pose, timestamp."""
    check_conditions(cfg)
    rng = np.random.default_rng([cfg.seed, 11])
    lo, hi = cfg.route_fractions
    length = cfg.location_length_m
    starts = town.EXTENSION_M + np.linspace(lo, hi, cfg.locations) * route.length - length / 2
    conditions = [cfg.reference_condition, *cfg.query_conditions]
    rows = []
    for k, condition in enumerate(conditions):
        day = FIRST_DAY + dt.timedelta(days=17 * k, hours=int(rng.integers(0, 8)))
        clock = calendar.timegm(day.utctimetuple()) * 1_000_000 + int(rng.integers(0, 1_000_000))
        for loc, s0 in enumerate(starts):
            if k == 0:
                along = np.arange(0.0, length, cfg.reference_spacing_m)
                lanes = np.full(len(along), REFERENCE_LANE_M)
                jitter = np.zeros(len(along))
            else:
                along = np.sort(rng.uniform(0.0, length, cfg.queries_per_location))
                lanes = rng.uniform(1.4, 2.2, len(along))
                jitter = rng.normal(0.0, np.deg2rad(cfg.heading_jitter_deg), len(along))
            cx, cy, heading = route.at(s0 + along)
            clock += 60_000_000   # a minute between locations
            for i in range(len(along)):
                rows.append({"condition": condition, "location": loc + 1,
                             "x": cx[i] - lanes[i] * np.cos(heading[i]), "y": cy[i] + lanes[i] * np.sin(heading[i]),
                             "heading": heading[i] + jitter[i],
                             "timestamp": clock + int(round(along[i] / length * 10 * CAPTURE_DT_US))})
    return pd.DataFrame(rows)


def camera_poses(captures: pd.DataFrame) -> pd.DataFrame:
    """One row per image: name (`condition/camera/ts.jpg`), condition, location, camera, NVM pose."""
    frames = []
    for camera, (yaw_deg, (forward_m, right_m)) in CAMERAS.items():
        h = captures["heading"].to_numpy()
        x = captures["x"].to_numpy() + forward_m * np.sin(h) + right_m * np.cos(h)
        y = captures["y"].to_numpy() + forward_m * np.cos(h) - right_m * np.sin(h)
        yaw = h + np.deg2rad(yaw_deg)
        q = Rotation.from_matrix(world_rotation(yaw)).as_quat(scalar_first=True)
        q *= np.where(q[:, :1] < 0, -1.0, 1.0)
        frames.append(pd.DataFrame({
            "name": [f"{c}/{camera}/{t}.jpg" for c, t in zip(captures["condition"], captures["timestamp"])],
            "condition": captures["condition"].to_numpy(), "location": captures["location"].to_numpy(),
            "camera": camera, "yaw": yaw, "qw": q[:, 0], "qx": q[:, 1], "qy": q[:, 2], "qz": q[:, 3],
            "cx": x - town.ORIGIN_EASTING, "cy": y - town.ORIGIN_NORTHING, "cz": CAMERA_HEIGHT_M,
        }))
    return pd.concat(frames, ignore_index=True).sort_values("name", kind="stable").reset_index(drop=True)


def write_seasons(world: Synthetic, cfg: SyntheticSeasons, root: str | os.PathLike) -> dict[str, int]:
    """Render and write the embedded Seasons set under `root`, in the town of params `synthetic`
    (`world`: its seed and route length); returns image counts."""
    check_conditions(cfg)
    root = Path(root)
    route, scenery = town.build_town(world.seed, world.route_length_m)
    size = cfg.image_size
    renderer = Renderer(scenery, size, size)
    camera = renderer.camera
    images = camera_poses(plan_captures(route, cfg))
    if images["name"].duplicated().any():
        raise ValueError(f"synthetic Seasons: two images named {images['name'][images['name'].duplicated()].iloc[0]!r}")
    reference = images["condition"] == cfg.reference_condition
    render_as = {cfg.reference_condition: REFERENCE_RENDER, **cfg.query_conditions}
    for k, (condition, group) in enumerate(images.groupby("condition", sort=True)):
        look = renderer.make_look(render_as[condition], np.random.default_rng([cfg.seed, 12, k]))
        frame_rng = np.random.default_rng([cfg.seed, 13, k])
        for row in group.itertuples(index=False):
            motion = Motion(CAPTURE_SPEED_MPS, 0.0, np.deg2rad(CAMERAS[row.camera][0]))
            rgb = renderer.render(float(row.cx + town.ORIGIN_EASTING), float(row.cy + town.ORIGIN_NORTHING),
                                  float(row.yaw), look, frame_rng, motion)
            _write_jpeg(root / "images" / row.name, rgb, cfg.jpeg_quality)
    for name, (yaw_deg, mount) in CAMERAS.items():
        files.write_intrinsics(root / "intrinsics" / f"{name}_intrinsics.txt", camera.f, camera.f,
                               camera.cx, camera.cy)
        _write_extrinsics(root / "extrinsics" / f"{name}_extrinsics.txt", yaw_deg, mount)
    nvm = images[reference].assign(name=lambda t: t["name"].str.replace(".jpg", ".png"), focal=camera.f)
    files.write_nvm(root / "3D-models" / "all-merged" / "all.nvm", nvm)
    queries = images[~reference]
    for loc, group in queries.groupby("location", sort=True):
        io.write_text("".join(f"{n}\n" for n in group["name"]),
                      root / "3D-models" / "individual" / "queries_per_location" / f"queries_location_{loc:03d}.txt")
    files.write_pose_list(root / TRUTH_FILE, queries)
    counts = {"reference": int(reference.sum()), "queries": int((~reference).sum()),
              "locations": cfg.locations, "conditions": len(render_as)}
    log.info("wrote %d reference and %d query images (%d locations, %d conditions, 3 cameras) under %s",
             counts["reference"], counts["queries"], counts["locations"], counts["conditions"], root)
    return counts


def _write_jpeg(path: Path, rgb: np.ndarray, quality: int) -> None:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError(f"{path}: cv2.imencode failed to encode a JPEG")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.tobytes())


def _write_extrinsics(path: Path, yaw_deg: float, mount: tuple[float, float]) -> None:
    """[R c; 0 1] camera to car (car frame: x forward, y right, z down), comma separated rows."""
    d = np.deg2rad(yaw_deg)
    right, down, forward = [-np.sin(d), np.cos(d), 0.0], [0.0, 0.0, 1.0], [np.cos(d), np.sin(d), 0.0]
    matrix = np.eye(4)
    matrix[:3, :3] = np.array([right, down, forward]).T
    matrix[:3, 3] = [mount[0], mount[1], 0.0]
    io.write_text("".join(",".join(repr(float(v)) for v in row) + "\n" for row in np.round(matrix, 12)), path)
