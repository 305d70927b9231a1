"""Stage imagestore: decode + demosaic + resize the training and validation images once.

    python -m pipeline.imagestore

Reads params data.raw_root and model.image_max_side and data/processed/{train_images,
val_reference,val_queries}.parquet; writes data/processed/images/<split>.npy. (Test sets have
their own stores: the testset stage.) A killed run resumes from its last finished chunks, kept in
data/.resume/imagestore/.
"""

from __future__ import annotations

import logging
from pathlib import Path

from pipeline import setup_logging, stage_params
from softloc import schemas
from softloc.imagestore import build_store
from softloc.io import read_parquet

SPLITS = ("train_images", "val_reference", "val_queries")
PROCESSED = Path("data/processed")
RESUME = Path("data/.resume/imagestore")  # a killed run's partial stores (not a DVC output: kept for the rerun)

log = logging.getLogger("pipeline.imagestore")


def main() -> None:
    setup_logging()
    params = stage_params(inputs=["data.raw_root"])
    raw_root = Path(params.data.raw_root)
    max_side = params.model.image_max_side
    for split in SPLITS:
        images = read_parquet(PROCESSED / f"{split}.parquet", schemas.SPLIT_IMAGES)
        out = PROCESSED / "images" / f"{split}.npy"
        log.info("storing %d images of %s from %s at longest side %d px", len(images), split, raw_root, max_side)
        build_store([raw_root / p for p in images["path"]], out, max_side, resume_dir=RESUME)


if __name__ == "__main__":
    main()
