"""synthesize stage: write the embedded synthetic world in the RobotCar raw layout.

    python -m pipeline.synthesize [--params params.yaml] [--out data/raw/synthetic]

Reads params `synthetic`; writes the whole raw root atomically: everything goes to a temporary
sibling folder that replaces the output folder only once complete. The output is always
data/raw/synthetic (never params data.raw_root, which may point at a real RobotCar download).
"""

from __future__ import annotations

import logging
import time

from pipeline import folder_stage
from softloc.data import synthetic
from softloc.io import atomic_dir

log = logging.getLogger("synthesize")
DEFAULT_OUT = "data/raw/synthetic"


def main(argv: list[str] | None = None) -> None:
    params, out = folder_stage(__doc__, DEFAULT_OUT, argv)
    cfg = params.get("synthetic") or {}
    log.info("synthetic: seed %s, route %s m, %sx%s images", cfg.get("seed"),
             cfg.get("route_length_m"), cfg.get("image_width"), cfg.get("image_height"))
    start = time.perf_counter()
    with atomic_dir(out) as tmp:
        counts = synthetic.write_world(cfg, tmp)
    regions = synthetic.default_regions(cfg)
    log.info("wrote %s: %d traversals, %d images, %d INS rows, %d planted image faults in %.1f s",
             out, counts["traversals"], counts["images"], counts["ins_rows"], counts["faults"],
             time.perf_counter() - start)
    log.info("route extent (UTM 30U): %s", regions["extent"])
    log.info("suggested split boxes: test %s, val %s", regions["test"], regions["val"])


if __name__ == "__main__":
    main()
