"""synthesize stages: write one embedded world in its dataset's real file layout.

    python -m pipeline.synthesize robotcar   [--params params.yaml] [--out data/raw/synthetic]
    python -m pipeline.synthesize pittsburgh [--params params.yaml] [--out data/raw/synthetic_pittsburgh]
    python -m pipeline.synthesize seasons    [--params params.yaml] [--out data/raw/seasons_synthetic]

robotcar reads params `synthetic` and writes the RobotCar raw layout (never params data.raw_root,
which may point at a real download); pittsburgh reads `synthetic_pittsburgh` and writes the
Pittsburgh 250k layout with its flat list .mat; seasons reads `synthetic_seasons` and the town of
`synthetic` (seed, route_length_m: its held-out test part) and writes the RobotCar Seasons layout.
Each writes its whole folder atomically: a temporary sibling replaces the output once complete.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Callable

from pipeline import folder_stage
from softloc.config import Params
from softloc.io import atomic_dir
from softloc.synthetic import pittsburgh_world, robotcar_world, seasons_world

log = logging.getLogger("synthesize")


def write_robotcar(params: Params, out: Path) -> str:
    cfg = params.synthetic
    log.info("synthetic: seed %s, route %s m, %sx%s images", cfg.seed, cfg.route_length_m,
             cfg.image_width, cfg.image_height)
    with atomic_dir(out) as tmp:
        counts = robotcar_world.write_world(cfg, tmp)
    regions = robotcar_world.default_regions(cfg)
    log.info("route extent (UTM 30U): %s", regions["extent"])
    log.info("suggested split boxes: test %s, val %s", regions["test"], regions["val"])
    return (f"{counts['traversals']} traversals, {counts['images']} images, {counts['ins_rows']} INS rows, "
            f"{counts['faults']} planted image faults")


def write_pittsburgh(params: Params, out: Path) -> str:
    with atomic_dir(out) as tmp:
        counts = pittsburgh_world.write_pittsburgh(params.synthetic_pittsburgh, tmp)
    return (f"{counts['reference_panoramas']} reference and {counts['query_panoramas']} query panoramas "
            f"({counts['reference_views']} + {counts['query_views']} views)")


def write_seasons(params: Params, out: Path) -> str:
    with atomic_dir(out) as tmp:
        counts = seasons_world.write_seasons(params.synthetic, params.synthetic_seasons, tmp)
    return f"{counts['reference']} reference and {counts['queries']} query images"


WORLDS: dict[str, tuple[Callable[[Params, Path], str], str]] = {
    "robotcar": (write_robotcar, "data/raw/synthetic"),
    "pittsburgh": (write_pittsburgh, "data/raw/synthetic_pittsburgh"),
    "seasons": (write_seasons, "data/raw/seasons_synthetic"),
}


def main(argv: list[str] | None = None) -> None:
    kind, params, out = folder_stage(__doc__, WORLDS, argv)
    write, _ = WORLDS[kind]
    start = time.perf_counter()
    summary = write(params, out)
    log.info("wrote %s (%s world): %s in %.1f s", out, kind, summary, time.perf_counter() - start)


if __name__ == "__main__":
    main()
