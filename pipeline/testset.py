"""Stage testset@<name>: one test set's tables and image stores, through its dataset module.

    python -m pipeline.testset <name>

Reads params `testsets.<name>` (format, split, images, ...) and `model.image_max_side`; the
format's module (softloc.datasets) reads its own files. Writes data/testsets/<name>/
{reference,queries}.parquet (TESTSET_IMAGES schema) and images/{reference,queries}.npy (uint8
images at the network's input size, row i = row i of the parquet), and
reports/testsets/<name>.json (what was read, kept and dropped, and per-condition counts).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from pipeline import setup_logging, stage_params, testset_dir
from softloc import datasets
from softloc.imagestore import build_store
from softloc.io import write_json, write_parquet
from softloc.schemas import TESTSET_IMAGES

log = logging.getLogger("pipeline.testset")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", help="a key of params.yaml `testsets`")
    name = parser.parse_args().name
    setup_logging()
    params = stage_params(inputs=[f"testsets.{name}.{key}" for key in ("split", "images", "truth")])
    if name not in params.testsets:
        raise SystemExit(f"unknown test set {name!r}; params.yaml testsets: {sorted(params.testsets)}")
    cfg = params.testsets[name]
    fmt = datasets.get(cfg.format)
    split = fmt.read_split(cfg)
    if fmt.COLOUR:
        split = datasets.drop_grayscale(split, cfg.images)
    out = testset_dir(name)
    max_side = params.model.image_max_side
    counts = {"format": cfg.format, **split.counts}
    for part, table in (("reference", split.reference), ("queries", split.queries)):
        if len(table) == 0:
            raise ValueError(f"test set {name!r} ({cfg.format} at {cfg.split}): no {part} images")
        write_parquet(table, out / f"{part}.parquet", TESTSET_IMAGES)
        shape = build_store([Path(cfg.images) / p for p in table["path"]], out / "images" / f"{part}.npy",
                            max_side, load=fmt.store_loader(cfg, max_side),
                            resume_dir=Path("data/.resume/testset") / name)
        counts[part] = {**split.counts.get(part, {}), "images": len(table), "store_shape": list(shape),
                        "by_condition": table["condition"].value_counts().sort_index().to_dict()}
    write_json(counts, Path("reports/testsets") / f"{name}.json")


if __name__ == "__main__":
    main()
