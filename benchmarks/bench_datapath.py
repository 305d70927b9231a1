"""The 1M-image data path on full-size frames: images/s per core, scaling to 2 cores, peak memory.

    .venv/bin/python benchmarks/bench_datapath.py [--frames 32] [--sizes 512 1024] [--max-side 240]

Renders `--frames` distinct full-size 1280x960 Bayer frames with the synthetic generator
(softloc.synthetic.robotcar_world, every condition in turn, PNG compression of params.yaml) and hard-links
them into folders of each size in --sizes (decoding a link costs what decoding a distinct file
does; the files come from the page cache, so this measures the CPU side, not the disk). Then,
each in a fresh process so that peak memory is its own: the clean stage's exposure pass
(softloc.clean.mean_intensities) and the image store (softloc.imagestore.build_store at
--max-side) with 1 and 2 worker processes. Reported: images/s, images/s per core, the scaling
from 1 to 2 cores (rate with 2 / twice the rate with 1), and the peak resident memory of the
parent and of its workers (VmHWM), at each size, so flat memory shows as equal figures. Last,
the projection for 1M images on 16 cores and the disk the store needs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROBOTCAR_W, ROBOTCAR_H = 1280, 960


def render_frames(folder: Path, n: int, compression: int) -> list[Path]:
    """n distinct full-size Bayer PNGs of the synthetic town (seed 0, 1,200 m route; conditions in turn)."""
    from softloc.config import SyntheticTraversals
    from softloc.params import load_params
    from softloc.synthetic import robotcar_world as synthetic
    from softloc.synthetic.looks import CONDITION_NAMES
    from softloc.synthetic.motion import frame_times, plan_runs, run_pose
    from softloc.synthetic.render import Renderer

    cfg = load_params().synthetic.model_copy(update={
        "seed": 0, "route_length_m": 1200.0, "frame_spacing_m": 1.0, "image_width": ROBOTCAR_W, "image_height": ROBOTCAR_H,
        "traversals": [SyntheticTraversals(condition=c, runs=1, reverse=0) for c in CONDITION_NAMES]})
    route, scenery = synthetic.build_world(cfg)
    renderer = Renderer(scenery, ROBOTCAR_W, ROBOTCAR_H)
    runs = plan_runs(cfg)
    paths = []
    for i in range(n):
        run = runs[i % len(runs)]
        t = frame_times(run)
        x, y, yaw = run_pose(run, route, t)
        j = int(len(t) * (i // len(runs) + 0.5) / (n // len(runs) + 1))
        look = renderer.make_look(run.condition, np.random.default_rng(i))
        mosaic = renderer.render_bayer(float(x[j]), float(y[j]), float(yaw[j]), look, np.random.default_rng(i))
        path = folder / f"frame{i:03d}.png"
        path.write_bytes(synthetic.encode_png(mosaic, compression))
        paths.append(path)
    return paths


def link_set(frames: list[Path], folder: Path, n: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        path = folder / f"{i:07d}.png"
        os.link(frames[i % len(frames)], path)
        paths.append(path)
    return paths


def peak_rss_mb(pids: list[int]) -> float:
    """Sum of VmHWM (peak resident set) of the processes, in MB."""
    total = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                total += int(line.split()[1])
    return total / 1024


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds the processes have used so far (/proc/<pid>/stat)."""
    ticks = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def warm_up(module: str) -> None:
    """A pool task: import what the measured pass imports, and take long enough that every worker gets one."""
    import importlib

    importlib.import_module(module)
    time.sleep(0.3)


def child(args: argparse.Namespace) -> None:
    """One measurement in this fresh process; prints a JSON line."""
    import cv2

    from softloc.chunked import worker_pool
    from softloc.clean import mean_intensities
    from softloc.imagestore import build_store

    paths = sorted(Path(args.folder).glob("*.png"))
    pool = worker_pool(args.workers) if args.workers > 1 else None
    if pool is not None:  # workers started and their imports done outside the timing (a stage pays this once)
        list(pool.map(warm_up, ["softloc.clean", "softloc.imagestore"] * args.workers * 2))
    else:
        cv2.setNumThreads(1)  # one worker = this process on one core, as a pool worker runs
    pids = [os.getpid()] + (list(pool._processes) if pool is not None else [])
    cpu, start = cpu_seconds(pids), time.perf_counter()
    if args.child == "exposure":
        mean_intensities(paths, workers=args.workers)
    else:
        with tempfile.TemporaryDirectory(dir=args.folder) as tmp:
            build_store(paths, Path(tmp) / "store.npy", args.max_side, workers=args.workers)
    seconds, cpu = time.perf_counter() - start, cpu_seconds(pids) - cpu
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "images": len(paths), "parent_mb": peak_rss_mb(pids[:1]),
                      "workers_mb": peak_rss_mb(pids[1:]) / max(1, len(pids) - 1)}))


def measure(pass_name: str, folder: Path, workers: int, max_side: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", pass_name, "--folder", str(folder), "--workers", str(workers),
                          "--max-side", str(max_side)], capture_output=True, text=True, check=True,
                         env={**os.environ, "TQDM_DISABLE": "1"})
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=32, help="distinct rendered frames")
    parser.add_argument("--sizes", type=int, nargs=2, default=[512, 1024], help="images per run, two sizes")
    parser.add_argument("--max-side", type=int, default=240)
    parser.add_argument("--child", choices=["exposure", "imagestore"], help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    from softloc.imagestore import resized_shape
    from softloc.params import load_params

    compression = load_params().synthetic.png_compression
    with tempfile.TemporaryDirectory(prefix="bench_datapath_") as tmp:
        start = time.perf_counter()
        (Path(tmp) / "frames").mkdir()
        frames = render_frames(Path(tmp) / "frames", args.frames, compression)
        png_mb = np.mean([p.stat().st_size for p in frames]) / 1e6
        print(f"rendered {len(frames)} distinct {ROBOTCAR_W}x{ROBOTCAR_H} Bayer frames in {time.perf_counter() - start:.0f} s; "
              f"PNG (compression {compression}) {png_mb:.2f} MB each; {os.cpu_count()} CPUs (shared machine: wall-clock figures)")
        rows = []
        for n in args.sizes:
            folder = Path(tmp) / f"set{n}"
            link_set(frames, folder, n)
            for pass_name in ("exposure", "imagestore"):
                rates, per_cpu = {}, {}
                for workers in (1, 2):
                    r = measure(pass_name, folder, workers, args.max_side)
                    rates[workers], per_cpu[workers] = r["images"] / r["seconds"], r["images"] / r["cpu_seconds"]
                    rows.append((pass_name, n, workers, per_cpu[workers]))
                    print(f"{pass_name:10s} {n:6d} images, {workers} worker(s): {rates[workers]:6.1f} img/s wall, "
                          f"{per_cpu[workers]:5.1f} img per CPU-second (parent + workers); peak RSS parent "
                          f"{r['parent_mb']:.0f} MB, each worker {r['workers_mb']:.0f} MB", flush=True)
                print(f"{pass_name:10s} {n:6d} images: 1 -> 2 cores: wall {100 * rates[2] / (2 * rates[1]):.0f}% of linear; "
                      f"CPU per image {100 * per_cpu[2] / per_cpu[1]:.0f}% as cheap (the parallel overhead)", flush=True)
        h, w = resized_shape(ROBOTCAR_H, ROBOTCAR_W, args.max_side)
        store_gb = 1e6 * h * w * 3 / 1e9
        print("\nprojection for 1M images on 16 cores (images per CPU-second of the larger run with 2 workers, x 16 "
              "cores; assumes the per-core cost stays as measured and a disk that keeps up):")
        for pass_name in ("exposure", "imagestore"):
            rate = next(r[3] for r in rows if r[0] == pass_name and r[1] == args.sizes[1] and r[2] == 2)
            print(f"  {pass_name:10s}: {1e6 / (16 * rate) / 60:5.0f} min  ({16 * rate:,.0f} img/s, "
                  f"reading {16 * rate * png_mb:,.0f} MB/s of PNG)")
        print(f"  store: 1M x {h}x{w}x3 uint8 = {store_gb:.0f} GB (+ {png_mb * 1e6 / 1e3:,.0f} GB of raw PNGs at this "
              f"compression); the partial store is renamed in place, so the build needs the store's size free once")


if __name__ == "__main__":
    main()
