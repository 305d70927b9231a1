"""lists stage: the supplementary image lists (CSV) of the training images and every test set.

    python -m pipeline.lists

Reads data/processed/train_images.parquet and data/testsets/<t>/{reference,queries}.parquet for
every params `testsets` entry; writes reports/lists/train_images.csv and
reports/lists/<t>/{reference,queries}.csv (softloc.report.lists), one row per table row.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from pipeline import fresh_outputs, setup_logging, stage_params
from softloc.io import read_parquet
from softloc.report.lists import read_testsets, write_lists
from softloc.schemas import SPLIT_IMAGES

log = logging.getLogger("pipeline.lists")


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    setup_logging()
    params = stage_params()
    train = read_parquet("data/processed/train_images.parquet", SPLIT_IMAGES)
    with fresh_outputs("reports/lists"):
        paths = write_lists(train, read_testsets(list(params.testsets)), Path("reports/lists"))
    log.info("wrote %d lists under reports/lists", len(paths))


if __name__ == "__main__":
    main()
