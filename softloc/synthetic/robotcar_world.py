"""The embedded synthetic world, written in the real Oxford RobotCar raw layout.

A car drives the town's route (softloc.synthetic.town) several times in six conditions
(softloc.synthetic.motion: each run its own start time, lane, speed profile and heading jitter;
`reverse` runs drive it backwards). Each run writes, as RobotCar does:

    <root>/<YYYY-MM-DD-HH-MM-SS>/stereo.timestamps        "<timestamp_us> 1" per image
    <root>/<traversal>/stereo/centre/<timestamp_us>.png   8-bit Bayer mosaic, GBRG (SDK BAYER_STEREO)
    <root>/<traversal>/gps/ins.csv                        50 Hz NovAtel INS, RobotCar columns/units
                                                          (softloc.synthetic.ins)
    <root>/traversals.csv                                 traversal,condition
    <root>/synthetic_truth.parquet                        true pose and expected clean fault per image

Planted faults (counts in params `synthetic.faults`; where and what: softloc.synthetic.faults)
each cost the images they touch the clean reason recorded in the truth. Everything is a function
of params `synthetic` (seed included): the same params write byte-identical files.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from tqdm import tqdm

from softloc import io, schemas
from softloc.config import Synthetic
from softloc.synthetic import town
from softloc.synthetic.faults import Faults, plan_faults
from softloc.synthetic.ins import ins_table, write_ins
from softloc.synthetic.motion import Run, frame_motion, frame_times, plan_runs, run_pose, wrap_deg
from softloc.synthetic.motion_blur import Motion
from softloc.synthetic.render import Renderer

log = logging.getLogger(__name__)


def simulate_poses(cfg: Synthetic) -> pd.DataFrame:
    """True image poses of every traversal, without rendering (fast: 1M poses in seconds).

    Columns: traversal, condition, timestamp (us), easting, northing (m), yaw (deg, [-180, 180)).
    """
    route = town.seeded_route(cfg.seed, cfg.route_length_m)
    frames = []
    for run in plan_runs(cfg):
        t = frame_times(run)
        x, y, yaw = run_pose(run, route, t)
        frames.append(pd.DataFrame({"traversal": run.name, "condition": run.condition,
                                    "timestamp": run.start_us + np.round(t * 1e6).astype(np.int64),
                                    "easting": x, "northing": y, "yaw": wrap_deg(yaw)}))
    return pd.concat(frames, ignore_index=True)


def default_regions(cfg: Synthetic) -> dict[str, dict[str, float]]:
    """Suggested test and validation boxes (absolute UTM) for params `split`, plus the route extent.

    `synthetic.regions` gives each as [start, end] fractions of the route; boxes are padded by 12 m. Keep the stretches between them and
    the training part longer than the index stage's gap (split.gap_m) plus the padding.
    """
    route = town.seeded_route(cfg.seed, cfg.route_length_m)
    regions = cfg.regions
    return {"test": town.region_box(route, *regions.test), "val": town.region_box(route, *regions.val),
            "extent": town.route_extent(route)}


# ----------------------------------------------------------------------------------------------
# Images


def bayer_gbrg(rgb: np.ndarray) -> np.ndarray:
    """RGB (H, W, 3) to RobotCar's stereo Bayer mosaic: rows G B G B ... / R G R G ..."""
    mosaic = np.empty(rgb.shape[:2], np.uint8)
    mosaic[0::2, 0::2] = rgb[0::2, 0::2, 1]
    mosaic[0::2, 1::2] = rgb[0::2, 1::2, 2]
    mosaic[1::2, 0::2] = rgb[1::2, 0::2, 0]
    mosaic[1::2, 1::2] = rgb[1::2, 1::2, 1]
    return mosaic


def expose(image: np.ndarray, kind: str) -> np.ndarray:
    """A failed exposure of a frame: nearly black (mean < 3) or nearly white (mean > 250)."""
    img = image.astype(np.float32)
    out = img * 0.008 if kind == "under" else 255.0 - (255.0 - img) * 0.015
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def encode_png(mosaic: np.ndarray, compression: int) -> bytes:
    """PNG bytes of a mosaic; Huffman-only zlib after the AVG filter: 3x faster than zlib's default
    on noisy mosaics, and smaller."""
    ok, buf = cv2.imencode(".png", mosaic, [cv2.IMWRITE_PNG_COMPRESSION, int(compression),
                                            cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_HUFFMAN_ONLY,
                                            cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_AVG])
    if not ok:
        raise RuntimeError("cv2.imencode failed to encode a PNG")
    return buf.tobytes()


def build_world(cfg: Synthetic) -> tuple[town.Route, town.Scenery]:
    """The town of params `synthetic`: route and scenery (deterministic from the seed)."""
    return town.build_town(cfg.seed, cfg.route_length_m)


def write_world(cfg: Synthetic, root: str | os.PathLike, render: bool = True) -> dict[str, int]:
    """Write the synthetic raw dataset under `root` (an empty or absent folder).

    With render=False (pose-only mode, for scale runs) only stereo.timestamps, gps/ins.csv,
    traversals.csv and the truth are written, no image and no fault. Returns counts.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    runs = plan_runs(cfg)
    if len({r.name for r in runs}) != len(runs):
        raise ValueError("params synthetic.traversals: two traversals got the same start time")
    if render:
        route, scenery = build_world(cfg)
        renderer = Renderer(scenery, cfg.image_width, cfg.image_height)
        faults = plan_faults(cfg, runs)
    else:
        route = town.seeded_route(cfg.seed, cfg.route_length_m)
        faults = {}
    truth, counts = [], {"images": 0, "ins_rows": 0}
    total = sum(len(frame_times(r)) for r in runs)
    bar = tqdm(total=total, desc="synthesize", unit="img", disable=not render)
    for run in runs:
        folder = root / run.name
        (folder / "stereo" / "centre").mkdir(parents=True, exist_ok=True)
        (folder / "gps").mkdir(parents=True, exist_ok=True)
        t = frame_times(run)
        image_us = run.start_us + np.round(t * 1e6).astype(np.int64)
        fault = faults.get(run.name)
        ins = ins_table(run, route, image_us, fault)
        write_ins(ins, folder / "gps" / "ins.csv")
        io.write_text("".join(f"{ts} 1\n" for ts in image_us), folder / "stereo.timestamps")
        x, y, yaw = run_pose(run, route, t)
        truth.append(pd.DataFrame({"traversal": run.name, "timestamp": image_us, "easting": x, "northing": y,
                                   "yaw": wrap_deg(yaw),
                                   "fault": fault.truth.astype(str) if fault is not None else ""}))
        counts["images"] += len(image_us)
        counts["ins_rows"] += len(ins)
        if render:
            _write_images(renderer, run, (x, y, yaw, *frame_motion(run, route, t)), image_us, fault,
                          folder / "stereo" / "centre", cfg.png_compression, cfg.seed, bar)
    bar.close()
    traversals = pd.DataFrame({"traversal": [r.name for r in runs], "condition": [r.condition for r in runs]})
    with io.atomic_path(root / "traversals.csv") as tmp:
        traversals.to_csv(tmp, index=False, lineterminator="\n")
    truth_df = pd.concat(truth, ignore_index=True)
    io.write_parquet(truth_df, root / "synthetic_truth.parquet", schemas.SYNTHETIC_TRUTH)
    counts["traversals"] = len(runs)
    counts["faults"] = int((truth_df["fault"] != "").sum())
    log.info("wrote %d traversals, %d images, %d INS rows, %d planted image faults under %s",
             counts["traversals"], counts["images"], counts["ins_rows"], counts["faults"], root)
    return counts


def _write_images(renderer: Renderer, run: Run, poses: tuple[np.ndarray, ...], image_us, fault: Faults,
                  folder: Path, compression: int, seed: int, bar) -> None:
    """Render, mosaic and write one run's frames (poses: x, y, yaw, speed, yaw rate per frame), the
    camera moving as the car does during each exposure, applying the image faults."""
    x, y, yaw, speed, yaw_rate = poses
    look = renderer.make_look(run.condition, np.random.default_rng([seed, 5, run.index]))
    frame_rng = np.random.default_rng([seed, 6, run.index])
    under, over = set(fault.under), set(fault.over)
    truncated, missing = set(fault.truncated), set(fault.missing)
    for i, ts in enumerate(image_us):
        mosaic = renderer.render_bayer(float(x[i]), float(y[i]), float(yaw[i]), look, frame_rng,
                                       Motion(float(speed[i]), float(yaw_rate[i])))
        bar.update(1)
        if i in missing:
            continue
        if i in under or i in over:
            mosaic = expose(mosaic, "under" if i in under else "over")
        data = encode_png(mosaic, compression)
        if i in truncated:
            data = data[: len(data) // 2]
        (folder / f"{int(ts)}.png").write_bytes(data)
