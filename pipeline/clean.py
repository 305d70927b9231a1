"""clean stage: raw RobotCar-layout traversals -> data/interim/images.parquet + reports/clean.json.

    python -m pipeline.clean [--params params.yaml] [--out ...] [--report ...]
"""

from __future__ import annotations

import argparse
import logging
import shutil
import time
from pathlib import Path

from pipeline import setup_logging, stage_params
from softloc import io
from softloc.clean import clean_dataset
from softloc.schemas import IMAGES

log = logging.getLogger("pipeline.clean")
RESUME = Path("data/.resume/clean")  # exposure journals of a killed run (not a DVC output: kept for the rerun)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--out", default="data/interim/images.parquet")
    parser.add_argument("--report", default="reports/clean.json")
    args = parser.parse_args(argv)
    setup_logging()

    params = stage_params(args.params, inputs=["data.raw_root"])
    root = params.data.raw_root
    log.info("cleaning the traversals of %s with %s", root, params.clean.model_dump())
    start = time.perf_counter()
    images, report = clean_dataset(root, params.clean, resume_dir=RESUME)
    io.write_parquet(images, args.out, IMAGES)
    io.write_json(report, args.report)
    shutil.rmtree(RESUME, ignore_errors=True)
    totals = report["totals"]
    log.info("kept %d of %d images in %.1f s; dropped: %s", totals["kept"], totals["images"],
             time.perf_counter() - start, {k: v for k, v in totals.items() if k not in ("images", "kept") and v})


if __name__ == "__main__":
    main()
