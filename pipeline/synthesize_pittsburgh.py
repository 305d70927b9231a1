"""synthesize_pittsburgh stage: write the embedded Pittsburgh-format test set.

    python -m pipeline.synthesize_pittsburgh [--params params.yaml] [--out data/raw/synthetic_pittsburgh]

Reads params `synthetic_pittsburgh` (softloc.data.synthetic_pittsburgh); writes the views in the
Pittsburgh 250k layout and the flat list file pitts_synthetic_test_lists.mat, atomically: into a
temporary sibling folder that replaces the output folder only once complete.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import tempfile
import time
from pathlib import Path

from pipeline import setup_logging
from softloc.data import synthetic_pittsburgh
from softloc.params import load_params

log = logging.getLogger("synthesize_pittsburgh")
DEFAULT_OUT = "data/raw/synthetic_pittsburgh"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--out", default=DEFAULT_OUT, help=f"folder to write (default {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    setup_logging()
    cfg = load_params(args.params).get("synthetic_pittsburgh") or {}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    start = time.perf_counter()
    try:
        counts = synthetic_pittsburgh.write_pittsburgh(cfg, tmp)
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    log.info("wrote %s: %d reference and %d query panoramas (%d + %d views) in %.1f s", out,
             counts["reference_panoramas"], counts["query_panoramas"], counts["reference_views"],
             counts["query_views"], time.perf_counter() - start)


if __name__ == "__main__":
    main()
