"""Render speed of the synthetic world: frames per second at the params' image size.

    .venv/bin/python benchmarks/bench_render.py [--frames 600] [--params params.yaml]

Prints, per condition and overall: render only (the Bayer mosaic the stage writes, the camera
moving as the car does), render + PNG encode + write (what the synthesize stage does per frame),
and the RGB view (three colour planes, for tests and viewing only); plus the pose-only speed
(simulate_poses for ~1M poses). Wall-clock and process-CPU rates are both printed, since the
machine may be shared.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from softloc.config import SyntheticTraversals
from softloc.params import load_params
from softloc.synthetic import robotcar_world as synthetic
from softloc.synthetic.looks import CONDITION_NAMES
from softloc.synthetic.motion import frame_motion, frame_times, plan_runs, run_pose
from softloc.synthetic.motion_blur import Motion
from softloc.synthetic.render import Renderer


def rate(n: int, fn) -> tuple[float, float]:
    """Frames per second of `fn` over n calls: wall clock and CPU time of this process."""
    wall, cpu = time.perf_counter(), time.process_time()
    for i in range(n):
        fn(i)
    return n / (time.perf_counter() - wall), n / (time.process_time() - cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--frames", type=int, default=600, help="frames per condition and mode")
    args = parser.parse_args()
    base = load_params(args.params).synthetic
    cfg = base.model_copy(update={"traversals": [SyntheticTraversals(condition=c, runs=1, reverse=0)
                                                 for c in CONDITION_NAMES]})
    start = time.perf_counter()
    route, scenery = synthetic.build_world(cfg)
    print(f"town: {len(scenery.walls['x0'])} walls, {len(scenery.sprites['x'])} sprites, "
          f"{len(scenery.tiles)} ground tiles, built in {time.perf_counter() - start:.1f} s")
    renderer = Renderer(scenery, cfg.image_width, cfg.image_height)
    print(f"image {cfg.image_width}x{cfg.image_height}, {args.frames} frames per condition and mode")
    totals = {"render": [], "write": [], "rgb": []}
    with tempfile.TemporaryDirectory() as tmp:
        for run in plan_runs(cfg):
            t = frame_times(run)
            x, y, yaw = run_pose(run, route, t)
            speed, yaw_rate = frame_motion(run, route, t)
            pick = np.linspace(0, len(t) - 1, args.frames).astype(int)
            look = renderer.make_look(run.condition, np.random.default_rng(0))
            rng = np.random.default_rng(1)

            def pose(i):
                j = pick[i]
                return float(x[j]), float(y[j]), float(yaw[j]), look, rng, Motion(float(speed[j]), float(yaw_rate[j]))

            def write(i):
                data = synthetic.encode_png(renderer.render_bayer(*pose(i)), cfg.png_compression)
                (Path(tmp) / f"{i}.png").write_bytes(data)

            results = {"render": rate(args.frames, lambda i: renderer.render_bayer(*pose(i))),
                       "write": rate(args.frames, write),
                       "rgb": rate(args.frames, lambda i: renderer.render(*pose(i)))}
            for k, v in results.items():
                totals[k].append(v)
            print(f"{run.condition:9s} " + "  ".join(f"{k}: {w:6.1f} fps (cpu {c:6.1f})" for k, (w, c) in results.items()))
    for k, v in totals.items():
        wall = len(v) / sum(1 / w for w, _ in v)
        cpu = len(v) / sum(1 / c for _, c in v)
        print(f"all conditions, {k:6s}: {wall:6.1f} frames/s wall clock, {cpu:6.1f} frames/s process CPU")
    big = base.model_copy(update={"route_length_m": 10_000.0,
                                  "traversals": [SyntheticTraversals(condition="overcast", runs=100, reverse=50)]})
    start = time.perf_counter()
    poses = synthetic.simulate_poses(big)
    print(f"pose-only: simulate_poses of {len(poses):,} poses in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
