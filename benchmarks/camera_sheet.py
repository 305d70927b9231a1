"""What the camera model does to the synthetic world: a day reference and a night query at a few
places of the default world, rendered before and after the camera model, side by side.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/camera_sheet.py [--out /tmp/camera_sheet.png]
        [--params params.yaml] [--places 4] [--before e3939f4]

"Before" is the renderer of git revision `--before` (the main branch before the camera model),
exported with `git archive` into a temporary folder and run there in a subprocess; "after" is this
checkout. Each row is one place on the test stretch: the night traversal's frame there and the
reference (first overcast) traversal's nearest frame, both demosaiced from the GBRG mosaic as the
pipeline reads them. Columns: day before, night before, day after, night after. Prints each
image's mean and std brightness, and the camera's exposure per condition after the model.
"""

from __future__ import annotations

import argparse
import inspect
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FRACTIONS = (0.5, 0.62, 0.75, 0.88, 0.95, 0.55, 0.68, 0.82)
TEST_START = 0.43     # params synthetic.regions.test starts here (fraction of the route)


def places(params: str, count: int) -> list[tuple[int, int, int]]:
    """(night run, night frame, reference frame) per place: night frames spread over the test stretch,
    each with the reference traversal's nearest frame."""
    from softloc.params import load_params
    from softloc.synthetic import town
    from softloc.synthetic.motion import frame_times, plan_runs, run_pose

    cfg = load_params(params).synthetic
    route = town.seeded_route(cfg.seed, cfg.route_length_m)
    runs = plan_runs(cfg)
    night = next(r for r in runs if r.condition == "night")
    ref = next(r for r in runs if r.condition == "overcast" and not r.reverse)
    nx, ny, _ = run_pose(night, route, frame_times(night))
    rx, ry, _ = run_pose(ref, route, frame_times(ref))
    out = []
    for frac in FRACTIONS[:count]:
        i = int(round((TEST_START + (1 - TEST_START) * frac) * (len(nx) - 1)))
        j = int(np.argmin(np.hypot(rx - nx[i], ry - ny[i])))
        out.append((night.index, i, j))
    return out


def render(params: str, picks: list[tuple[int, int, int]]) -> dict[str, np.ndarray]:
    """Mosaics (places, H, W) of the reference and night frames with whatever renderer is importable,
    looks drawn as the synthesize stage draws them; with the camera model, the car's motion too."""
    from softloc.params import load_params
    from softloc.synthetic import robotcar_world as world
    from softloc.synthetic.motion import frame_times, plan_runs, run_pose
    from softloc.synthetic.render import Renderer

    cfg = load_params(params).synthetic
    route, scenery = world.build_world(cfg)
    renderer = Renderer(scenery, cfg.image_width, cfg.image_height)
    runs = plan_runs(cfg)
    ref = next(r for r in runs if r.condition == "overcast" and not r.reverse)
    moving = "motion" in inspect.signature(Renderer.render_bayer).parameters
    out: dict[str, list] = {"day": [], "night": []}
    for run_index, night_frame, ref_frame in picks:
        for key, run, frame in (("day", ref, ref_frame), ("night", runs[run_index], night_frame)):
            t = frame_times(run)[frame: frame + 1]
            x, y, yaw = run_pose(run, route, t)
            look = renderer.make_look(run.condition, np.random.default_rng([cfg.seed, 5, run.index]))
            extra = ()
            if moving:
                from softloc.synthetic.motion import frame_motion
                from softloc.synthetic.motion_blur import Motion
                speed, yaw_rate = frame_motion(run, route, t)
                extra = (Motion(float(speed[0]), float(yaw_rate[0])),)
                if key == "night":
                    e = look.exposure
                    print(f"  night exposure {e.time_s * 1000:.1f} ms, gain {20 * np.log10(e.gain):.1f} dB")
            out[key].append(renderer.render_bayer(float(x[0]), float(y[0]), float(yaw[0]), look,
                                                  np.random.default_rng([cfg.seed, 6, run.index, frame]), *extra))
    return {k: np.stack(v) for k, v in out.items()}


def render_before(revision: str, params: str, picks: list[tuple[int, int, int]]) -> dict[str, np.ndarray]:
    """`render` with the renderer of git `revision`, in a subprocess over its exported tree."""
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision, "softloc"], check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        npz = Path(tmp) / "before.npz"
        code = ("import sys, numpy as np; sys.path.insert(0, sys.argv[1]); import camera_sheet as s; "
                "picks = [tuple(map(int, p.split(','))) for p in sys.argv[4:]]; "
                "np.savez(sys.argv[3], **s.render(sys.argv[2], picks))")
        env = {**os.environ, "PYTHONPATH": tmp}
        subprocess.run([sys.executable, "-c", code, str(ROOT / "benchmarks"), params, str(npz),
                        *[",".join(map(str, p)) for p in picks]], check=True, env=env, cwd=tmp)
        with np.load(npz) as data:
            return {k: data[k] for k in data.files}


def rgb(mosaic: np.ndarray) -> np.ndarray:
    """The pipeline's view of a GBRG mosaic: demosaiced to RGB."""
    return cv2.cvtColor(mosaic, cv2.COLOR_BayerGBRG2RGB)


def sheet(before: dict[str, np.ndarray], after: dict[str, np.ndarray]) -> np.ndarray:
    """Rows of places, columns day/night before/after, with a header; BGR uint8 for cv2.imwrite."""
    columns = [("day before", before["day"]), ("night before", before["night"]),
               ("day after", after["day"]), ("night after", after["night"])]
    h, w = before["day"].shape[1:]
    header = np.full((24, 4 * w, 3), 255, np.uint8)
    for c, (name, _) in enumerate(columns):
        cv2.putText(header, name, (c * w + 6, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    rows = [np.concatenate([rgb(images[p]) for _, images in columns], axis=1) for p in range(len(before["day"]))]
    return np.concatenate([header, *[r[..., ::-1] for r in rows]], axis=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="/tmp/camera_sheet.png")
    parser.add_argument("--params", default=str(ROOT / "params.yaml"))
    parser.add_argument("--places", type=int, default=4, help=f"1-{len(FRACTIONS)}")
    parser.add_argument("--before", default="e3939f4", help="git revision of the renderer before the camera model")
    args = parser.parse_args()
    picks = places(args.params, args.places)
    print(f"before: renderer of {args.before}")
    before = render_before(args.before, args.params, picks)
    print("after: this checkout")
    after = render(args.params, picks)
    for name, images in (("before", before), ("after", after)):
        for key in ("day", "night"):
            gray = np.stack([rgb(m).mean(-1) for m in images[key]])
            mean, std = gray.mean((1, 2)).round(1).tolist(), gray.std((1, 2)).round(1).tolist()
            print(f"{name:6s} {key:5s} mean {mean}  std {std}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(args.out, sheet(before, after))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
