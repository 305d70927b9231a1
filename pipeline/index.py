"""index stage: data/interim/images.parquet -> data/processed/{train_images, train_anchors,
val_reference, val_queries}.parquet, data/processed/test/{reference,queries}.parquet + reports/index.json.

    python -m pipeline.index [--params params.yaml] [--images ...] [--out-dir ...] [--report ...]
"""

from __future__ import annotations

import argparse

from pipeline import setup_logging, stage_params
from softloc.index import run_index


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--images", default="data/interim/images.parquet")
    parser.add_argument("--out-dir", default="data/processed")
    parser.add_argument("--report", default="reports/index.json")
    args = parser.parse_args(argv)
    setup_logging()
    params = stage_params(args.params)
    run_index(params.split, params.tuples, args.images, args.out_dir, args.report)


if __name__ == "__main__":
    main()
