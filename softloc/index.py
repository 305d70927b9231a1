"""The index stage's logic: geographic train / validation / test split, reference and query sets,
and the training anchors with every neighbour within the largest radius any method needs.

Regions are axis-aligned UTM boxes (params `split`). Training images lie at least `gap_m` outside
both the test and the validation box, so no held-out place is visible from training; images in
the gap are not used (counted). Inside a box, one traversal of the reference condition is the
reference (subsampled along its route) and the traversals of the query conditions are queries
(of the reference condition: only those of another day).

Anchors are one per `anchor_spacing_m` metre of route: route points are sampled along each
training traversal in name order, and a traversal's point closer than `anchor_merge_radius_m` to
an existing route point is the same stretch of road (another lane, the opposite direction, GPS
spread) and is dropped. Each training image joins its nearest route point; each route point's
anchor is one of its images drawn with `seed`, so anchors mix traversals, conditions and
directions. Neighbour lists (row positions in train_images) reach tuples.max_radius_m, the largest
radius of any method (softloc.config checks it); softloc.training.mining.TupleSampler takes each
method's close set from them.

The test split must serve the evaluation as configured: every condition of
split.query_conditions has queries there and the reference is of split.reference_condition,
else the stage stops (a condition silently missing would change the mean over conditions).
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from tqdm import tqdm

from softloc import geometry, io
from softloc.config import Split, Tuples
from softloc.geometry import Box
from softloc.schemas import IMAGES, SPLIT_IMAGES, TRAIN_ANCHORS

log = logging.getLogger(__name__)

_ANCHOR_CHUNK = 256
# The held-out test split is the input of the `robotcar` test set (softloc.datasets.robotcar): a
# folder of its own, the dependency of its testset stage.
OUTPUT_FILES = {"test_reference": "test/reference.parquet", "test_queries": "test/queries.parquet"}  # anchors per radius query: bounds the memory of SciPy's Python lists


def run_index(split: Split, tuples: Tuples, images_path: str | os.PathLike, out_dir: str | os.PathLike,
              report_path: str | os.PathLike) -> dict[str, Any]:
    """The whole index stage: read images.parquet, write the five split tables (the test split in
    out_dir/test/), train_anchors and the report (params: the `split` and `tuples` sections). Returns the report."""
    start = time.perf_counter()
    out_dir = Path(out_dir)
    images = io.read_parquet(images_path, IMAGES)
    tables, report = split_images(images, split, tuples.max_radius_m)
    for name, table in tables.items():
        io.write_parquet(table, out_dir / OUTPUT_FILES.get(name, f"{name}.parquet"), SPLIT_IMAGES)
    log.info("building training anchors with %s", tuples.model_dump())
    anchors = build_anchors(tables["train_images"], tuples)
    io.write_parquet(anchors, out_dir / "train_anchors.parquet", TRAIN_ANCHORS)
    report["train_anchors"] = anchor_report(anchors, tables["train_images"])
    io.write_json(report, report_path)
    log.info("index done in %.1f s: %s", time.perf_counter() - start,
             {name: len(table) for name, table in tables.items()} | {"train_anchors": len(anchors)})
    return report


def split_images(images: pd.DataFrame, split_cfg: Split,
                 max_radius_m: float) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """Split the kept rows of an IMAGES table into the five SPLIT_IMAGES tables.

    Returns ({split name: table sorted by image_id}, report with counts per region, split,
    condition and every unused image by cause; the counts add up to the kept images).
    """
    test_box = Box.from_dict(split_cfg.test_region.model_dump(), "params split.test_region")
    val_box = Box.from_dict(split_cfg.val_region.model_dump(), "params split.val_region")
    gap_m = split_cfg.gap_m
    if gap_m < max_radius_m:
        raise ValueError(f"params split.gap_m = {gap_m} m is below tuples.max_radius_m = {max_radius_m} m: "
                         "a held-out place could then lie within a training tuple's radius")
    if _boxes_overlap(test_box, val_box):
        raise ValueError(f"params split: test_region {test_box} and val_region {val_box} overlap")

    kept = images[images["kept"]].drop(columns=["kept", "reason"])
    kept = kept.sort_values("image_id", kind="stable").reset_index(drop=True)
    _check_finite_poses(kept)
    xy = kept[["easting", "northing"]].to_numpy()
    d_test = geometry.box_distance(xy, test_box)
    d_val = geometry.box_distance(xy, val_box)
    in_test, in_val = d_test == 0.0, d_val == 0.0
    in_train = (d_test >= gap_m) & (d_val >= gap_m)
    in_gap = ~(in_test | in_val | in_train)

    report: dict[str, Any] = {
        "images": int(len(images)),
        "kept": int(len(kept)),
        "not_kept_by_clean": int(len(images) - len(kept)),
        "regions": {"train": int(in_train.sum()), "gap": int(in_gap.sum()),
                    "test": int(in_test.sum()), "val": int(in_val.sum())},
        "boxes": {"test": test_box._asdict(), "val": val_box._asdict(), "gap_m": gap_m},
    }
    tables = {"train_images": kept[in_train].reset_index(drop=True)}
    for name, mask in (("test", in_test), ("val", in_val)):
        reference, queries, unused = reference_and_queries(kept[mask], split_cfg, name)
        if name == "test":
            require_conditions(reference, queries, split_cfg)
        tables[f"{name}_reference"], tables[f"{name}_queries"] = reference, queries
        report[f"{name}_reference_traversal"] = str(reference["traversal"].iloc[0])
        report[f"unused_in_{name}_region"] = unused
    report["splits"] = {name: _counts(table) for name, table in tables.items()}
    return tables, report


def reference_and_queries(region: pd.DataFrame, split_cfg: Split,
                          name: str) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, int]]:
    """Reference (one traversal, subsampled along its route) and queries of one held-out region.

    Queries: the query conditions' traversals other than the reference, and for the reference
    condition only those of another day (the paper's "overcast of another day"); images heading
    more than split.query_max_yaw_deg away from their nearest reference image are counted, not used.

    Returns (reference, queries, counts of the region's images used by neither, by cause).
    """
    traversal = pick_reference_traversal(region, split_cfg.reference_condition, split_cfg.reference_traversal, name)
    is_reference = (region["traversal"] == traversal).to_numpy()
    # The reference condition's queries come from another day than the reference (names start YYYY-MM-DD).
    same_day = ((region["condition"] == split_cfg.reference_condition)
                & (region["traversal"].str.slice(0, 10) == traversal[:10])).to_numpy() & ~is_reference
    is_query = region["condition"].isin(list(split_cfg.query_conditions)).to_numpy() & ~is_reference & ~same_day

    reference_rows = _subsample_per_traversal(region[is_reference], split_cfg.reference_spacing_m)
    # A query driving the other way sees the far side of the street: no reference shows its view.
    opposite = np.zeros(len(region), dtype=bool)
    if is_query.any():
        opposite[is_query] = opposite_to_reference(region[is_query], region.loc[reference_rows],
                                                   split_cfg.query_max_yaw_deg)
    is_query &= ~opposite
    query_rows = _subsample_per_traversal(region[is_query], split_cfg.query_spacing_m)
    unused = {
        "queries_opposite_direction": int(opposite.sum()),
        "reference_subsampled_away": int(is_reference.sum() - len(reference_rows)),
        "queries_subsampled_away": int(is_query.sum() - len(query_rows)),
        "reference_condition_same_day": int(same_day.sum()),
        "other_conditions": int((~is_reference & ~is_query & ~same_day & ~opposite).sum()),
    }
    if len(query_rows) == 0:
        raise ValueError(f"{name} region: no images of the query conditions {list(split_cfg.query_conditions)} "
                         f"outside the reference traversal {traversal}")
    return (region.loc[reference_rows].reset_index(drop=True),
            region.loc[query_rows].reset_index(drop=True), unused)


def require_conditions(reference: pd.DataFrame, queries: pd.DataFrame, split_cfg: Split) -> None:
    """Stop unless the references are all of split.reference_condition and every condition of
    split.query_conditions has queries (errors name the param and what the split holds)."""
    wanted = split_cfg.reference_condition
    found = sorted(reference["condition"].unique())
    if found != [wanted]:
        raise ValueError(f"test region: the reference (traversal {reference['traversal'].iloc[0]}) is of condition(s) "
                         f"{found}, not params split.reference_condition {wanted!r}")
    per_condition = queries["condition"].value_counts().to_dict()
    for condition in split_cfg.query_conditions:
        if not per_condition.get(condition):
            raise ValueError(f"test region: no query of condition {condition!r} (params split.query_conditions "
                             f"{list(split_cfg.query_conditions)}); queries per condition there: "
                             f"{dict(sorted(per_condition.items()))}; check the conditions in traversals.csv")


def opposite_to_reference(queries: pd.DataFrame, reference: pd.DataFrame, max_yaw_deg: float) -> np.ndarray:
    """True for each query whose heading differs from its nearest reference image's by more than max_yaw_deg."""
    _, nearest = geometry.nearest(geometry.build_tree(reference[["easting", "northing"]].to_numpy()),
                                  queries[["easting", "northing"]].to_numpy())
    yaw_gap = geometry.yaw_difference_deg(queries["yaw"].to_numpy(), reference["yaw"].to_numpy()[nearest])
    return yaw_gap > max_yaw_deg


def pick_reference_traversal(region: pd.DataFrame, condition: str, traversal: str | None, name: str) -> str:
    """The named reference traversal, or the first by name of `condition` with images in the region."""
    present = sorted(region["traversal"].unique())
    if traversal:
        if traversal not in present:
            raise ValueError(f"params split.reference_traversal {traversal!r} has no kept image in the "
                             f"{name} region; traversals there: {present}")
        return traversal
    candidates = sorted(region.loc[region["condition"] == condition, "traversal"].unique())
    if not candidates:
        raise ValueError(f"{name} region: no traversal of the reference condition {condition!r}; "
                         f"conditions there: {sorted(region['condition'].unique())}")
    return str(candidates[0])


def subsample_along_route(xy: np.ndarray, spacing_m: float | None) -> np.ndarray:
    """Positions (in driving order) of the images kept at one per `spacing_m` metre driven.

    The driven path is cut into stretches of `spacing_m` metres; the first image of each stretch
    is kept (a stopped car adds none). None or 0 keeps every image.
    """
    n = len(xy)
    if not spacing_m or n == 0:
        return np.arange(n)
    step = np.hypot(*np.diff(np.asarray(xy, dtype=np.float64), axis=0).T)
    stretch = np.floor(np.concatenate([[0.0], np.cumsum(step)]) / spacing_m).astype(np.int64)
    first = np.ones(n, dtype=bool)
    first[1:] = stretch[1:] != stretch[:-1]
    return np.flatnonzero(first)


def route_points(train: pd.DataFrame, spacing_m: float, merge_radius_m: float) -> np.ndarray:
    """(M, 2) points one per `spacing_m` metre of the training route (see the module docstring)."""
    points = np.empty((0, 2))
    for _, group in train.groupby("traversal", sort=True):
        group = group.sort_values("timestamp", kind="stable")
        xy = group[["easting", "northing"]].to_numpy()
        samples = xy[subsample_along_route(xy, spacing_m)]
        if len(points):
            distance, _ = geometry.nearest(geometry.build_tree(points), samples)
            samples = samples[distance > merge_radius_m]
        points = np.concatenate([points, samples])
    return points


def select_anchors(train: pd.DataFrame, tuples_cfg: Tuples) -> np.ndarray:
    """Row positions in `train` of the anchors: one image per route point, drawn with the seed."""
    if len(train) == 0:
        return np.empty(0, dtype=np.int64)
    points = route_points(train, tuples_cfg.anchor_spacing_m, tuples_cfg.anchor_merge_radius_m)
    _, owner = geometry.nearest(geometry.build_tree(points), train[["easting", "northing"]].to_numpy())
    priority = np.random.default_rng(tuples_cfg.seed).random(len(train))
    order = np.lexsort((priority, owner))
    first = np.ones(len(order), dtype=bool)
    first[1:] = owner[order][1:] != owner[order][:-1]
    return np.sort(order[first])


def build_anchors(train: pd.DataFrame, tuples_cfg: Tuples) -> pd.DataFrame:
    """The TRAIN_ANCHORS table: anchors and every training image within tuples.max_radius_m.

    List columns are Arrow-backed (built from flat arrays and offsets, no Python lists of lists);
    neighbours ascend by row position, the anchor itself excluded.
    """
    radius = tuples_cfg.max_radius_m
    anchors = select_anchors(train, tuples_cfg)
    east, north, yaw = (train[c].to_numpy(dtype=np.float64) for c in ("easting", "northing", "yaw"))
    tree = geometry.build_tree(np.column_stack([east, north])) if len(train) else None
    counts, neighbours, distance, yaw_diff = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)], [], []
    for start in tqdm(range(0, len(anchors), _ANCHOR_CHUNK), desc="anchor neighbours", unit="chunk",
                      disable=len(anchors) <= 10 * _ANCHOR_CHUNK):
        chunk = anchors[start:start + _ANCHOR_CHUNK]
        offsets, flat = geometry.neighbours_within(tree, np.column_stack([east[chunk], north[chunk]]), radius)
        per_anchor = np.diff(offsets)
        not_self = flat != np.repeat(chunk, per_anchor)
        flat = flat[not_self]
        counts.append(per_anchor - 1)
        neighbours.append(flat)
        distance.append(np.hypot(east[flat] - np.repeat(east[chunk], per_anchor - 1),
                                 north[flat] - np.repeat(north[chunk], per_anchor - 1)).astype(np.float32))
        yaw_diff.append(geometry.yaw_difference_deg(yaw[flat], np.repeat(yaw[chunk], per_anchor - 1))
                        .astype(np.float32))
    offsets = np.concatenate([[0], np.cumsum(np.concatenate(counts))])
    if offsets[-1] > np.iinfo(np.int32).max:
        raise ValueError(f"{offsets[-1]} neighbour entries exceed Arrow's list limit; raise anchor_spacing_m")
    arrow_offsets = pa.array(offsets.astype(np.int32))
    return pd.DataFrame({
        "anchor": anchors,
        "neighbours": _arrow_list(arrow_offsets, np.concatenate(neighbours)),
        "distance_m": _arrow_list(arrow_offsets, np.concatenate(distance or [np.zeros(0, np.float32)])),
        "yaw_diff_deg": _arrow_list(arrow_offsets, np.concatenate(yaw_diff or [np.zeros(0, np.float32)])),
    })


def anchor_report(anchors: pd.DataFrame, train: pd.DataFrame) -> dict[str, Any]:
    """Counts of the anchor table: anchors, neighbour entries, neighbours per anchor."""
    counts = anchors["neighbours"].list.len().to_numpy() if len(anchors) else np.zeros(1, dtype=np.int64)
    return {
        "anchors": int(len(anchors)),
        "train_images": int(len(train)),
        "neighbour_entries": int(counts.sum()),
        "neighbours_per_anchor": {"min": int(counts.min()), "mean": float(round(counts.mean(), 2)),
                                  "max": int(counts.max())},
    }


def _arrow_list(offsets: pa.Array, values: np.ndarray) -> pd.arrays.ArrowExtensionArray:
    return pd.arrays.ArrowExtensionArray(pa.ListArray.from_arrays(offsets, pa.array(values)))


def _subsample_per_traversal(rows: pd.DataFrame, spacing_m: float | None) -> pd.Index:
    """Index labels kept by `subsample_along_route`, traversal by traversal, in image_id order."""
    kept = []
    for _, group in rows.groupby("traversal", sort=True):
        group = group.sort_values("timestamp", kind="stable")
        kept.append(group.index[subsample_along_route(group[["easting", "northing"]].to_numpy(), spacing_m)])
    if not kept:
        return pd.Index([], dtype=np.int64)
    return rows.loc[np.concatenate(kept)].sort_values("image_id", kind="stable").index


def _counts(table: pd.DataFrame) -> dict[str, Any]:
    return {"images": int(len(table)), "traversals": int(table["traversal"].nunique()),
            "per_condition": {str(k): int(v) for k, v in table["condition"].value_counts().sort_index().items()}}


def _boxes_overlap(a: Box, b: Box) -> bool:
    return (a.easting_min <= b.easting_max and b.easting_min <= a.easting_max
            and a.northing_min <= b.northing_max and b.northing_min <= a.northing_max)


def _check_finite_poses(kept: pd.DataFrame) -> None:
    bad = ~np.isfinite(kept[["easting", "northing", "yaw"]].to_numpy()).all(axis=1)
    if bad.any():
        row = kept[bad].iloc[0]
        raise ValueError(f"images.parquet: {int(bad.sum())} kept rows have a non-finite pose, e.g. image_id "
                         f"{row['image_id']} ({row['path']}): expected finite easting, northing, yaw")
