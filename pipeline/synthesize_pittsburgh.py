"""synthesize_pittsburgh stage: write the embedded Pittsburgh-format test set.

    python -m pipeline.synthesize_pittsburgh [--params params.yaml] [--out data/raw/synthetic_pittsburgh]

Reads params `synthetic_pittsburgh` (softloc.data.synthetic_pittsburgh); writes the views in the
Pittsburgh 250k layout and the flat list file pitts_synthetic_test_lists.mat, atomically: into a
temporary sibling folder that replaces the output folder only once complete.
"""

from __future__ import annotations

import logging
import time

from pipeline import folder_stage
from softloc.data import synthetic_pittsburgh
from softloc.io import atomic_dir

log = logging.getLogger("synthesize_pittsburgh")
DEFAULT_OUT = "data/raw/synthetic_pittsburgh"


def main(argv: list[str] | None = None) -> None:
    params, out = folder_stage(__doc__, DEFAULT_OUT, argv)
    cfg = params["synthetic_pittsburgh"]
    start = time.perf_counter()
    with atomic_dir(out) as tmp:
        counts = synthetic_pittsburgh.write_pittsburgh(cfg, tmp)
    log.info("wrote %s: %d reference and %d query panoramas (%d + %d views) in %.1f s", out,
             counts["reference_panoramas"], counts["query_panoramas"], counts["reference_views"],
             counts["query_views"], time.perf_counter() - start)


if __name__ == "__main__":
    main()
