"""synthesize_seasons stage: write the embedded Seasons set in the RobotCar Seasons layout.

    python -m pipeline.synthesize_seasons [--params params.yaml] [--out data/raw/seasons_synthetic]

Reads params `synthetic_seasons` and the town of params `synthetic` (seed, route_length_m: the
same town as the training world, its held-out test part); writes the whole folder atomically
(a temporary sibling renamed onto the output once complete): images, intrinsics, extrinsics, the
NVM model, the per-location query lists and the query truth (synthetic_truth.txt).
"""

from __future__ import annotations

import logging
import time

from pipeline import folder_stage
from softloc.data import synthetic_seasons
from softloc.io import atomic_dir

log = logging.getLogger("synthesize_seasons")
DEFAULT_OUT = "data/raw/seasons_synthetic"


def main(argv: list[str] | None = None) -> None:
    params, out = folder_stage(__doc__, DEFAULT_OUT, argv)
    town = {k: v for k, v in (params.get("synthetic") or {}).items() if k in ("seed", "route_length_m")}
    start = time.perf_counter()
    with atomic_dir(out) as tmp:
        counts = synthetic_seasons.write_seasons(town, params["synthetic_seasons"], tmp)
    log.info("wrote %s: %d reference and %d query images in %.1f s", out, counts["reference"],
             counts["queries"], time.perf_counter() - start)


if __name__ == "__main__":
    main()
