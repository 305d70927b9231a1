"""Time the index stage on a 1M-image pose table (issue 2: at most 60 s on the 2-core machine).

    .venv/bin/python benchmarks/bench_index.py [--route-m 10000] [--runs 100]

The table comes from the synthetic world's pose-only mode (softloc.synthetic.robotcar_world.simulate_poses):
a 10 km route driven 100 times at one frame per metre, like RobotCar's ~100 traversals of ~10 km.
Building the table is not timed; the index is timed end to end: reading images.parquet, the split,
the anchors and their neighbour lists, writing every parquet and the report.
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from softloc import geometry, io
from softloc.config import Split, Synthetic, Tuples
from softloc.params import load_params
from softloc.synthetic import robotcar_world as synthetic
from softloc.schemas import IMAGES
from softloc.index import run_index

CONDITIONS = ("overcast", "sunny", "night", "snow", "rain", "dusk")


def pose_table(route_m: float, runs: int, seed: int = 0) -> tuple[Synthetic, pd.DataFrame]:
    """The synthetic params for `runs` traversals of a `route_m` route, and its IMAGES table
    (split boxes at 55-67 % and 75-100 % of the route)."""
    per = runs // len(CONDITIONS)
    traversals = [{"condition": c, "runs": per + (runs - per * len(CONDITIONS) if c == "overcast" else 0),
                   "reverse": per // 4} for c in CONDITIONS]
    cfg = Synthetic.model_validate({**load_params().synthetic.model_dump(), "seed": seed, "route_length_m": route_m,
                                    "frame_spacing_m": 1.0, "traversals": traversals,
                                    "regions": {"val": [0.55, 0.67], "test": [0.75, 1.0]}})
    poses = synthetic.simulate_poses(cfg).sort_values(["traversal", "timestamp"], kind="stable")
    poses = poses.reset_index(drop=True)
    poses.insert(0, "image_id", np.arange(len(poses), dtype=np.int64))
    poses["path"] = poses["traversal"] + "/stereo/centre/" + poses["timestamp"].astype(str) + ".png"
    poses["latitude"], poses["longitude"] = geometry.utm_to_latlon(poses["easting"], poses["northing"], 30, "U")
    poses["kept"] = True
    poses["reason"] = ""
    return cfg, poses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--route-m", type=float, default=10_000.0)
    parser.add_argument("--runs", type=int, default=100)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    cfg, images = pose_table(args.route_m, args.runs)
    regions = synthetic.default_regions(cfg)
    split = Split(test_region=regions["test"], val_region=regions["val"], gap_m=25.0, reference_condition="overcast",
                  reference_traversal=None, query_max_yaw_deg=90.0, reference_spacing_m=1.0,
                  query_conditions=["night", "overcast", "snow", "sunny"], query_spacing_m=None)
    tuples = Tuples(anchor_spacing_m=1.0, anchor_merge_radius_m=6.0, max_radius_m=25.0, seed=0)
    with tempfile.TemporaryDirectory(prefix="bench_index_") as tmp:
        tmp = Path(tmp)
        io.write_parquet(images, tmp / "images.parquet", IMAGES)
        start = time.perf_counter()
        report = run_index(split, tuples, tmp / "images.parquet", tmp / "processed", tmp / "index.json")
        seconds = time.perf_counter() - start
        sizes = {p.name: round(p.stat().st_size / 2**20, 1) for p in sorted((tmp / "processed").iterdir())}

    anchors = report["train_anchors"]
    print(json.dumps({
        "images": len(images), "route_m": args.route_m, "traversals": int(images["traversal"].nunique()),
        "index_seconds": round(seconds, 1),
        "splits": {k: v["images"] for k, v in report["splits"].items()},
        "anchors": anchors["anchors"], "neighbour_entries": anchors["neighbour_entries"],
        "neighbours_per_anchor": anchors["neighbours_per_anchor"], "file_mib": sizes,
    }, indent=2))


if __name__ == "__main__":
    main()
