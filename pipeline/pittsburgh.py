"""Pittsburgh 250k test split: reference and query tables from the authors' list file.

    python -m pipeline.pittsburgh --mat pitts250k_test_lists.mat [--out data/pittsburgh] [--pitch 1]

Reads the flat MATLAB list (dbImageFns, utmDb, qImageFns, utmQ; softloc.data.pittsburgh) and
writes <out>/test_reference.parquet and <out>/test_queries.parquet with the SPLIT_IMAGES schema
(positions in UTM 17T, paths relative to the Pittsburgh image root), plus <out>/counts.json.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from pipeline import setup_logging
from softloc.data import pittsburgh
from softloc.io import write_json, write_parquet
from softloc.schemas import SPLIT_IMAGES

log = logging.getLogger("pipeline.pittsburgh")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mat", required=True, help="the Pittsburgh list file (.mat)")
    parser.add_argument("--out", default="data/pittsburgh", help="output folder (default data/pittsburgh)")
    parser.add_argument("--pitch", type=int, default=1, help="views of this pitch only (1 = horizon)")
    parser.add_argument("--max-reference-distance-m", type=float, default=100.0,
                        help="references farther than this from every query are left out")
    args = parser.parse_args(argv)
    setup_logging()
    reference, queries = pittsburgh.read_lists(args.mat)
    log.info("read %s: %d references, %d queries", args.mat, len(reference), len(queries))
    ref_table, query_table = pittsburgh.to_split_tables(reference, queries, args.pitch, args.max_reference_distance_m)
    out = Path(args.out)
    write_parquet(ref_table, out / "test_reference.parquet", SPLIT_IMAGES)
    write_parquet(query_table, out / "test_queries.parquet", SPLIT_IMAGES)
    write_json({"source": str(args.mat), "references_in_file": len(reference), "queries_in_file": len(queries),
                "pitch": args.pitch, "references_kept": len(ref_table), "queries_kept": len(query_table),
                "references_dropped_beyond_max_distance_or_other_pitch": len(reference) - len(ref_table),
                "queries_dropped_other_pitch": len(queries) - len(query_table)}, out / "counts.json")


if __name__ == "__main__":
    main()
