"""Reading + resizing colour JPEGs into an image store: images/s per core and the scaling to more cores.

    .venv/bin/python benchmarks/bench_jpeg_store.py [--images 800] [--size 640x480] [--max-side 96] [--workers 1 2]

Writes --images JPEGs of --size (Pittsburgh's 640x480 by default; 32 rendered street views of the
synthetic town, repeated under distinct names) to a temporary folder, then builds a store of them
with softloc.imagestore.build_store as the testset stage does, for each worker count and each
decoder:
  full     the format's load_image (full-size decode), resized by build_store
  reduced  the format's store_loader (JPEG decoded at the smallest DCT scale that covers the
           store size, then area-resampled; softloc.datasets.images)
It reports wall images/s, CPU seconds per image (this process and its pool's workers, from
/proc; the per-core rate without other load on the machine is 1 / that), and the speed-up over
1 worker. The page
cache is warm (each build reads files read before), as in a pipeline run right after download.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from softloc.synthetic import town
from softloc.synthetic.render import Renderer
from bench_datapath import cpu_seconds  # this folder: /proc/<pid>/stat of the given processes
from softloc.chunked import worker_pool
from softloc.datasets import pittsburgh
from softloc.datasets.images import ColourStoreLoader
from softloc.imagestore import build_store


def write_jpegs(folder: Path, n: int, width: int, height: int) -> list[Path]:
    """n JPEGs (quality 90): 32 distinct street views of the synthetic town, cycled under n names."""
    route, scenery = town.build_town(5, 400.0)
    renderer = Renderer(scenery, width, height)
    look = renderer.make_look("sunny", np.random.default_rng(0))
    rng = np.random.default_rng(1)
    x, y, heading = route.at(town.EXTENSION_M + np.linspace(10, 390, 32))
    encoded = []
    for i in range(32):
        view = renderer.render(float(x[i]), float(y[i]), float(heading[i]) + rng.uniform(0, 2 * np.pi), look, rng)
        encoded.append(cv2.imencode(".jpg", view[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes())
    paths = [folder / f"{i:06d}.jpg" for i in range(n)]
    for i, path in enumerate(paths):
        path.write_bytes(encoded[i % 32])
    return paths


def pool_pids(workers: int) -> list[int]:
    """This process and, with more than one worker, the pool's workers (softloc.chunked keeps one
    pool per process alive, so its workers are never reaped and rusage would miss them)."""
    return [os.getpid()] + (list(worker_pool(workers)._processes) if workers > 1 else [])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=800)
    parser.add_argument("--size", default="640x480", help="JPEG width x height")
    parser.add_argument("--max-side", type=int, default=96, help="store's longest side (params model.image_max_side)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=2, help="best of this many builds")
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    loaders = {"full": pittsburgh.load_image, "reduced": ColourStoreLoader(args.max_side)}   # pittsburgh.store_loader, store_aspect null
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_jpegs(Path(tmp), args.images, width, height)
        build_store(paths[:64], Path(tmp) / "warm.npy", args.max_side, load=loaders["full"], workers=1)
        print(f"{args.images} JPEGs {width}x{height} -> store of longest side {args.max_side}")
        print(f"{'decoder':8} {'workers':>7} {'images/s':>9} {'CPU ms/img':>10} {'img/s/core':>10} {'speed-up':>8}")
        for name, load in loaders.items():
            base = None
            for workers in args.workers:
                best_wall, best_cpu = float("inf"), float("inf")
                build_store(paths[:64], Path(tmp) / "warm.npy", args.max_side, load=load, workers=workers)  # pool started
                pids = pool_pids(workers)
                for _ in range(args.repeats):
                    wall, cpu = time.perf_counter(), cpu_seconds(pids)
                    build_store(paths, Path(tmp) / "store.npy", args.max_side, load=load, workers=workers)
                    best_wall = min(best_wall, time.perf_counter() - wall)
                    best_cpu = min(best_cpu, cpu_seconds(pids) - cpu)
                rate = args.images / best_wall
                base = base or rate
                print(f"{name:8} {workers:7d} {rate:9.0f} {1000 * best_cpu / args.images:10.2f} "
                      f"{args.images / best_cpu:10.0f} {rate / base:8.2f}")


if __name__ == "__main__":
    main()
