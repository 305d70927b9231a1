"""softloc.index and the index stage on a small hand-made pose table: regions, reference and
queries, anchor neighbour lists, the training sampler's close / far sets over them, determinism."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from softloc import geometry, io, index as tuples
from softloc.config import Split, Tuples
from softloc.geometry import Box
from softloc.training.mining import TupleSampler, TupleSpec
from softloc.schemas import IMAGES, SPLIT_IMAGES, TRAIN_ANCHORS
from softloc.index import run_index

E0, N0 = 600_000.0, 5_700_000.0
# name, condition, reverse, lane (m, + = north of the road axis)
TRAVERSALS = [
    ("2014-01-01-10-00-00", "overcast", False, 1.5),
    ("2014-01-02-10-00-00", "overcast", True, -1.5),
    ("2014-01-03-10-00-00", "overcast", False, 1.8),
    ("2014-01-04-22-00-00", "night", False, 1.6),
    ("2014-01-05-10-00-00", "snow", True, -1.7),
    ("2014-01-06-13-00-00", "sunny", False, 1.4),
    ("2014-01-07-15-00-00", "rain", False, 1.5),
    ("2014-01-08-09-00-00", "snow", False, 1.7),   # the reversed snow run gives no query: this one does
]
ROAD_M = 600.0
SPLIT_KEYS = {
    "test_region": {"easting_min": E0 + 450, "easting_max": E0 + 620, "northing_min": N0 - 20,
                    "northing_max": N0 + 20},
    "val_region": {"easting_min": E0 + 250, "easting_max": E0 + 320, "northing_min": N0 - 20,
                   "northing_max": N0 + 20},
    "gap_m": 25.0, "reference_condition": "overcast", "reference_traversal": None, "query_max_yaw_deg": 90.0,
    "reference_spacing_m": 1.0, "query_conditions": ["night", "overcast", "snow", "sunny"],
    "query_spacing_m": None,
}
SPLIT = Split(**SPLIT_KEYS)
TUPLES = Tuples(anchor_spacing_m=1.0, anchor_merge_radius_m=6.0, max_radius_m=25.0, seed=0)
TRAIN_ROUTE_M = 225.0 + 80.0      # east < 225 and 345..425: outside both boxes by the 25 m gap
DROPPED = [5, 400, 1234]          # rows the clean stage did not keep


def make_images(seed: int = 0) -> pd.DataFrame:
    """An IMAGES table: straight east-west road, lanes, both directions, ~0.8 m frame spacing."""
    rng = np.random.default_rng(seed)
    frames = []
    for k, (name, condition, reverse, lane) in enumerate(TRAVERSALS):
        along = np.cumsum(rng.uniform(0.6, 1.0, 800))
        along = along[along <= ROAD_M]
        if reverse:
            along = ROAD_M - along
        n = len(along)
        frames.append(pd.DataFrame({
            "traversal": name, "condition": condition,
            "timestamp": 1_388_570_400_000_000 + k * 10**11 + np.arange(n, dtype=np.int64) * 100_000,
            "easting": E0 + along, "northing": N0 + lane + rng.normal(0, 0.05, n),
            "yaw": (270.0 if reverse else 90.0) + rng.normal(0, 4.0, n),
        }))
    images = pd.concat(frames, ignore_index=True)
    images.insert(0, "image_id", np.arange(len(images), dtype=np.int64))
    images["path"] = images["traversal"] + "/stereo/centre/" + images["timestamp"].astype(str) + ".png"
    images["latitude"], images["longitude"] = geometry.utm_to_latlon(images["easting"], images["northing"], 30, "U")
    images["kept"] = True
    images["reason"] = ""
    images.loc[DROPPED, ["kept", "reason"]] = [False, "underexposed"]
    return images[list(IMAGES)]


@pytest.fixture(scope="module")
def images() -> pd.DataFrame:
    return make_images()


@pytest.fixture(scope="module")
def split(images: pd.DataFrame) -> tuple[dict[str, pd.DataFrame], dict]:
    return tuples.split_images(images, SPLIT, TUPLES.max_radius_m)


@pytest.fixture(scope="module")
def anchors(split) -> pd.DataFrame:
    return tuples.build_anchors(split[0]["train_images"], TUPLES)


def _xy(table: pd.DataFrame) -> np.ndarray:
    return table[["easting", "northing"]].to_numpy()


def test_regions_are_disjoint_by_the_gap(split) -> None:
    tables, _ = split
    test_box = Box.from_dict(SPLIT_KEYS["test_region"])
    val_box = Box.from_dict(SPLIT_KEYS["val_region"])
    train = _xy(tables["train_images"])
    assert geometry.box_distance(train, test_box).min() >= 25.0
    assert geometry.box_distance(train, val_box).min() >= 25.0
    held_out = np.concatenate([_xy(tables[n]) for n in ("test_reference", "test_queries", "val_reference",
                                                           "val_queries")])
    distance, _ = geometry.nearest(geometry.build_tree(train), held_out)
    assert distance.min() >= 25.0
    assert geometry.in_box(_xy(tables["test_reference"]), test_box).all()
    assert geometry.in_box(_xy(tables["test_queries"]), test_box).all()
    assert geometry.in_box(_xy(tables["val_queries"]), val_box).all()


def test_every_image_is_counted_once(images, split) -> None:
    tables, report = split
    kept = int(images["kept"].sum())
    assert report["kept"] == kept and report["not_kept_by_clean"] == len(DROPPED)
    assert sum(report["regions"].values()) == kept
    assert report["regions"]["train"] == len(tables["train_images"])
    for name in ("test", "val"):
        used = len(tables[f"{name}_reference"]) + len(tables[f"{name}_queries"])
        assert used + sum(report[f"unused_in_{name}_region"].values()) == report["regions"][name]
    all_ids = np.concatenate([t["image_id"].to_numpy() for t in tables.values()])
    assert len(np.unique(all_ids)) == len(all_ids)
    assert not set(DROPPED) & set(all_ids.tolist())
    assert report["regions"]["gap"] > 0


def test_reference_and_queries(split) -> None:
    tables, report = split
    for name in ("test", "val"):
        reference, queries = tables[f"{name}_reference"], tables[f"{name}_queries"]
        assert reference["traversal"].unique().tolist() == ["2014-01-01-10-00-00"]
        assert report[f"{name}_reference_traversal"] == "2014-01-01-10-00-00"
        # The reversed overcast and snow runs drive against the reference: counted, not queries.
        assert set(queries["traversal"]) == {"2014-01-03-10-00-00", "2014-01-04-22-00-00", "2014-01-06-13-00-00",
                                             "2014-01-08-09-00-00"}
        region = make_images()
        region = region[region["kept"] & region["traversal"].isin(["2014-01-02-10-00-00", "2014-01-05-10-00-00"])]
        box = Box.from_dict(SPLIT_KEYS[f"{name}_region"], name)
        n_reversed = int(geometry.in_box(region[["easting", "northing"]].to_numpy(), box).sum())
        assert report[f"unused_in_{name}_region"]["queries_opposite_direction"] == n_reversed > 0
        assert report[f"unused_in_{name}_region"]["other_conditions"] > 0      # the rain traversal
        assert list(reference["image_id"]) == sorted(reference["image_id"])
    # One reference image per metre driven through the test box: 150 m of road there.
    assert 148 <= len(tables["test_reference"]) <= 152


def test_explicit_reference_traversal_and_its_errors(images) -> None:
    params = copy.deepcopy(SPLIT_KEYS)
    params["reference_traversal"] = "2014-01-03-10-00-00"
    tables, _ = tuples.split_images(images, Split(**params), 25.0)
    assert set(tables["test_reference"]["traversal"]) == {"2014-01-03-10-00-00"}
    assert "2014-01-03-10-00-00" not in set(tables["test_queries"]["traversal"])
    assert "2014-01-01-10-00-00" in set(tables["test_queries"]["traversal"])
    same_day = images.copy()       # an overcast run on the reference's day is no query
    same_day.loc[same_day["traversal"] == "2014-01-02-10-00-00", "traversal"] = "2014-01-03-08-00-00"
    tables, report = tuples.split_images(same_day, Split(**params), 25.0)
    assert "2014-01-03-08-00-00" not in set(tables["test_queries"]["traversal"])
    assert report["unused_in_test_region"]["reference_condition_same_day"] > 0
    params["reference_traversal"] = "2099-01-01-00-00-00"
    with pytest.raises(ValueError, match="2099-01-01-00-00-00"):
        tuples.split_images(images, Split(**params), 25.0)


def test_subsample_along_route_hand_values() -> None:
    x = np.array([0.0, 0.4, 0.8, 1.2, 1.6, 2.0, 2.4])
    xy = np.column_stack([x, np.zeros_like(x)])
    assert tuples.subsample_along_route(xy, 1.0).tolist() == [0, 3, 5]
    stopped = np.array([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [3.0, 4.0], [3.0, 4.0]])
    assert tuples.subsample_along_route(stopped, 1.0).tolist() == [0, 3]
    assert tuples.subsample_along_route(xy, None).tolist() == list(range(7))


def test_anchor_neighbour_lists_are_exact(split, anchors) -> None:
    train = split[0]["train_images"]
    xy, yaw = _xy(train), train["yaw"].to_numpy()
    for row in anchors.itertuples(index=False):
        a = row.anchor
        distance = np.hypot(*(xy - xy[a]).T)
        expected = np.flatnonzero(distance <= 25.0)
        expected = expected[expected != a]
        neighbours = np.asarray(row.neighbours)
        np.testing.assert_array_equal(neighbours, expected)
        np.testing.assert_allclose(np.asarray(row.distance_m), distance[expected], atol=1e-4)
        np.testing.assert_allclose(np.asarray(row.yaw_diff_deg),
                                   geometry.yaw_difference_deg(yaw[expected], yaw[a]), atol=1e-4)


@pytest.mark.parametrize("r1, r2", [(10.0, 25.0), (15.0, 15.0)])
def test_sampler_close_and_far_sets_from_the_anchor_lists_are_exact(split, anchors, r1: float, r2: float) -> None:
    """What training runs: mining.TupleSampler over the index stage's anchor lists."""
    train = split[0]["train_images"]
    xy, yaw = _xy(train), train["yaw"].to_numpy()
    sampler = TupleSampler(xy, yaw, anchors, TupleSpec(r1=r1, r2=r2, n_close=12, n_far=4, n_hard=0))
    assert len(sampler.anchors) + sampler.dropped_anchors == len(anchors)
    n_close = []
    for i, a in enumerate(sampler.anchors):
        distance = np.hypot(*(xy - xy[a]).T)
        truly_close = np.flatnonzero((distance <= r1) & (geometry.yaw_difference_deg(yaw, yaw[a]) <= 30.0))
        np.testing.assert_array_equal(np.sort(sampler.close_candidates(i)), truly_close[truly_close != a])
        n_close.append(len(truly_close) - 1)
    assert np.median(n_close) >= 12          # enough close images for the paper's 12 per tuple
    rows = sampler.sample(sampler.anchors[::7], np.random.default_rng(0))
    far = rows[:, 13:17]
    assert (np.hypot(*(xy[far] - xy[rows[:, :1]]).transpose(2, 0, 1)) >= r2).all()


def test_one_anchor_per_metre_of_route_from_many_traversals(split, anchors) -> None:
    train = split[0]["train_images"]
    assert 0.9 * TRAIN_ROUTE_M <= len(anchors) <= 1.05 * TRAIN_ROUTE_M
    assert len(np.unique(anchors["anchor"])) == len(anchors)
    chosen = train.iloc[anchors["anchor"]]
    assert chosen["traversal"].nunique() == len(TRAVERSALS)      # anchors mix traversals...
    assert chosen["condition"].nunique() == 5                     # ... and conditions
    assert ((chosen["yaw"] % 360) > 180).any()                    # ... and both directions


def test_index_stage_is_byte_deterministic_and_schema_checked(images, tmp_path: Path) -> None:
    io.write_parquet(images, tmp_path / "images.parquet", IMAGES)
    shuffled = images.sample(frac=1.0, random_state=3)
    io.write_parquet(shuffled, tmp_path / "shuffled.parquet", IMAGES)
    run_index(SPLIT, TUPLES, tmp_path / "images.parquet", tmp_path / "a", tmp_path / "a.json")
    run_index(SPLIT, TUPLES, tmp_path / "images.parquet", tmp_path / "b", tmp_path / "b.json")
    run_index(SPLIT, TUPLES, tmp_path / "shuffled.parquet", tmp_path / "c", tmp_path / "c.json")
    names = sorted(str(p.relative_to(tmp_path / "a")) for p in (tmp_path / "a").rglob("*.parquet"))
    assert names == sorted(["train_images.parquet", "train_anchors.parquet", "val_reference.parquet",
                            "val_queries.parquet", "test/reference.parquet", "test/queries.parquet"])
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "c" / name).read_bytes(), name
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    train = io.read_parquet(tmp_path / "a" / "train_images.parquet", SPLIT_IMAGES)
    anchors = io.read_parquet(tmp_path / "a" / "train_anchors.parquet", TRAIN_ANCHORS)
    flat = np.concatenate(anchors["neighbours"].to_list())
    assert flat.min() >= 0 and flat.max() < len(train)
    assert anchors["anchor"].max() < len(train)


def test_bad_params_and_poses_are_clear_errors(images) -> None:
    params = copy.deepcopy(SPLIT_KEYS)
    params["gap_m"] = 10.0
    with pytest.raises(ValueError, match="gap_m"):
        tuples.split_images(images, Split(**params), 25.0)
    params = copy.deepcopy(SPLIT_KEYS)
    params["val_region"] = dict(params["test_region"], easting_min=E0 + 440)
    with pytest.raises(ValueError, match="overlap"):
        tuples.split_images(images, Split(**params), 25.0)
    params = copy.deepcopy(SPLIT_KEYS)
    del params["test_region"]["northing_min"]
    with pytest.raises(ValueError, match=r"test_region\.northing_min"):   # the section's model names the key
        tuples.split_images(images, Split(**params), 25.0)
    params = copy.deepcopy(SPLIT_KEYS)
    params["query_conditions"] = ["dusk"]
    with pytest.raises(ValueError, match="dusk"):
        tuples.split_images(images, Split(**params), 25.0)
    bad = images.copy()
    bad.loc[17, "yaw"] = np.nan
    with pytest.raises(ValueError, match="image_id 17"):
        tuples.split_images(bad, SPLIT, 25.0)
    bad.loc[17, "kept"] = False                       # a dropped row may have no pose
    tuples.split_images(bad, SPLIT, 25.0)
