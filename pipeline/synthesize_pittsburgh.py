"""synthesize_pittsburgh stage: write the embedded Pittsburgh-format test set.

    python -m pipeline.synthesize_pittsburgh [--params params.yaml] [--out data/raw/synthetic_pittsburgh]

Reads params `synthetic_pittsburgh` (softloc.data.synthetic_pittsburgh); writes the views in the
Pittsburgh 250k layout and the flat list file pitts_synthetic_test_lists.mat, atomically: into a
temporary sibling folder that replaces the output folder only once complete.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from pipeline import setup_logging, stage_params
from softloc.data import synthetic_pittsburgh
from softloc.io import atomic_dir

log = logging.getLogger("synthesize_pittsburgh")
DEFAULT_OUT = "data/raw/synthetic_pittsburgh"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--out", default=DEFAULT_OUT, help=f"folder to write (default {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    setup_logging()
    cfg = stage_params(args.params)["synthetic_pittsburgh"]
    out = Path(args.out)
    start = time.perf_counter()
    with atomic_dir(out) as tmp:
        counts = synthetic_pittsburgh.write_pittsburgh(cfg, tmp)
    log.info("wrote %s: %d reference and %d query panoramas (%d + %d views) in %.1f s", out,
             counts["reference_panoramas"], counts["query_panoramas"], counts["reference_views"],
             counts["query_views"], time.perf_counter() - start)


if __name__ == "__main__":
    main()
