"""The synthetic world: RobotCar format, determinism, planted faults, conditions, pose-only scale."""

from __future__ import annotations

import filecmp
import re
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import utm

from softloc import io, schemas
from softloc.synthetic import robotcar_world as synthetic, town as synthetic_town
from softloc.synthetic.ins import GOOD_STATUS, INS_COLUMNS
from softloc.synthetic.render import Renderer

from conftest import robotcar_world

TINY_KEYS = {
    "seed": 3,
    "route_length_m": 80.0,
    "frame_spacing_m": 1.0,
    "image_width": 64,
    "image_height": 48,
    "traversals": [{"condition": "overcast", "runs": 2, "reverse": 1},
                   {"condition": "night", "runs": 1, "reverse": 0},
                   {"condition": "snow", "runs": 1, "reverse": 0}],
    "faults": {"location_outlier": 1, "location_outlier_images": 2, "bad_ins": 1, "bad_ins_burst_s": 1.0,
               "nan_rows": 3, "underexposed": 1, "overexposed": 1, "unreadable_image": 1,
               "no_image_file": 1, "no_ins_coverage": 2},
}
TINY = robotcar_world(**TINY_KEYS)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synthetic") / "raw"
    synthetic.write_world(TINY, root)
    return root


@pytest.fixture(scope="module")
def truth(world) -> pd.DataFrame:
    return io.read_parquet(world / "synthetic_truth.parquet", schemas.SYNTHETIC_TRUTH)


def read_ins(world: Path, traversal: str) -> pd.DataFrame:
    return pd.read_csv(world / traversal / "gps" / "ins.csv")


def good_pose(ins: pd.DataFrame, ts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Linear interpolation of easting, northing and the timestamp gap from good, finite INS rows."""
    good = ins[(ins["ins_status"] == GOOD_STATUS) & ins["easting"].notna()]
    t = good["timestamp"].to_numpy()
    hi = np.clip(np.searchsorted(t, ts, side="right"), 1, len(t) - 1)
    gap = (t[hi] - t[hi - 1]) / 1e6
    return np.interp(ts, t, good["easting"]), np.interp(ts, t, good["northing"]), gap


def image_means(world: Path, rows: pd.DataFrame) -> np.ndarray:
    return np.array([cv2.imread(str(world / r.traversal / "stereo" / "centre" / f"{r.timestamp}.png"),
                                cv2.IMREAD_UNCHANGED).mean() for r in rows.itertuples()])


def test_robotcar_layout(world, truth):
    traversals = pd.read_csv(world / "traversals.csv")
    assert list(traversals.columns) == ["traversal", "condition"]
    assert sorted(traversals["condition"]) == ["night", "overcast", "overcast", "snow"]
    days = set()
    for name in traversals["traversal"]:
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}", name)
        days.add(name[:10])
        lines = (world / name / "stereo.timestamps").read_text().splitlines()
        stamps = np.array([int(line.split()[0]) for line in lines])
        assert all(line.split()[1] == "1" and len(line.split()) == 2 for line in lines)
        assert np.all(np.diff(stamps) > 0)
        assert np.array_equal(stamps, truth[truth["traversal"] == name]["timestamp"].to_numpy())
        pngs = {int(p.stem) for p in (world / name / "stereo" / "centre").glob("*.png")}
        missing = set(truth[(truth["traversal"] == name) & (truth["fault"] == "no_image_file")]["timestamp"])
        assert pngs == set(stamps) - missing
    assert len(days) == len(traversals)


def test_ins_columns_units_and_rate(world, truth):
    for name in truth["traversal"].unique():
        ins = read_ins(world, name)
        assert list(ins.columns) == INS_COLUMNS
        assert np.all(np.diff(ins["timestamp"]) == 20_000)                     # 50 Hz, microseconds
        assert set(ins["utm_zone"]) == {"30U"}
        assert set(ins["ins_status"]) <= {"INS_SOLUTION_GOOD", "INS_HIGH_VARIANCE"}
        ok = ins.dropna()
        assert ok["latitude"].between(51.7, 51.8).all() and ok["longitude"].between(-1.3, -1.2).all()
        e, n, zone, letter = utm.from_latlon(ok["latitude"].to_numpy(), ok["longitude"].to_numpy())
        assert (zone, letter) == (30, "U")
        assert np.abs(e - ok["easting"]).max() < 1e-3 and np.abs(n - ok["northing"]).max() < 1e-3
        assert np.allclose(ok["down"], -ok["altitude"])
        assert ok["yaw"].between(-np.pi, np.pi).all() and ok["roll"].abs().max() < 0.1
        speed = np.hypot(ok["velocity_north"], ok["velocity_east"])
        assert speed.between(3, 14).all()


def test_images_are_single_channel_gbrg_mosaics(world, truth):
    row = truth[truth["fault"] == ""].iloc[0]
    mosaic = cv2.imread(str(world / row.traversal / "stereo" / "centre" / f"{row.timestamp}.png"), cv2.IMREAD_UNCHANGED)
    assert mosaic.shape == (48, 64) and mosaic.dtype == np.uint8
    flat = np.zeros((8, 8, 3), np.uint8)
    flat[:] = (200, 100, 50)
    mosaic = synthetic.bayer_gbrg(flat)
    assert mosaic[0, 0] == 100 and mosaic[0, 1] == 50 and mosaic[1, 0] == 200 and mosaic[1, 1] == 100
    assert np.array_equal(cv2.cvtColor(mosaic, cv2.COLOR_BayerGBRG2RGB)[2:-2, 2:-2], flat[2:-2, 2:-2])


def test_render_bayer_is_the_mosaic_of_render():
    route, scenery = synthetic.build_world(TINY)
    renderer = Renderer(scenery, 64, 48)
    x, y, yaw = route.at(np.array([synthetic_town.EXTENSION_M + 30.0]))
    look = renderer.make_look("rain", np.random.default_rng(0))
    rgb = renderer.render(float(x[0]), float(y[0]), float(yaw[0]), look, np.random.default_rng(1))
    mosaic = renderer.render_bayer(float(x[0]), float(y[0]), float(yaw[0]), look, np.random.default_rng(1))
    assert np.abs(mosaic.astype(int) - synthetic.bayer_gbrg(rgb)).max() <= 1


def test_same_params_write_byte_identical_files(world, tmp_path):
    again = tmp_path / "raw"
    synthetic.write_world(TINY, again)
    files = sorted(p.relative_to(world) for p in world.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    _, mismatch, errors = filecmp.cmpfiles(world, again, [str(f) for f in files], shallow=False)
    assert mismatch == [] and errors == []


def test_planted_faults_are_recorded_and_on_disk(world, truth):
    counts = truth["fault"].value_counts()
    faults = TINY_KEYS["faults"]
    assert counts["location_outlier"] == faults["location_outlier"] * faults["location_outlier_images"]
    assert counts["bad_ins"] >= int(np.ceil(faults["bad_ins_burst_s"] * 7))   # a second of frames at <= 10 m/s
    for kind in ("underexposed", "overexposed", "unreadable_image", "no_image_file", "no_ins_coverage"):
        assert counts[kind] == faults[kind]
    assert set(counts.index) <= {"", *synthetic_reasons()}
    folder = lambda r: world / r.traversal / "stereo" / "centre" / f"{r.timestamp}.png"  # noqa: E731
    for r in truth[truth["fault"] == "unreadable_image"].itertuples():
        assert folder(r).is_file() and cv2.imread(str(folder(r)), cv2.IMREAD_UNCHANGED) is None
    assert image_means(world, truth[truth["fault"] == "underexposed"]).max() < 3
    assert image_means(world, truth[truth["fault"] == "overexposed"]).min() > 250
    nan_rows = 0
    for name, rows in truth.groupby("traversal"):
        ins = read_ins(world, name)
        nan_rows += int(ins["easting"].isna().sum())
        ts = rows["timestamp"].to_numpy()
        e, n, gap = good_pose(ins, ts)
        err = np.hypot(e - rows["easting"], n - rows["northing"]).to_numpy()
        fault = rows["fault"].to_numpy()
        covered = (ts >= ins["timestamp"].iloc[0]) & (ts <= ins["timestamp"].iloc[-1])
        assert np.all(covered == (fault != "no_ins_coverage"))
        good = fault == ""
        assert err[good].max() < 0.02 and gap[good].max() <= 0.0401      # NaN rows cost no image
        assert np.all(gap[fault == "bad_ins"] >= faults["bad_ins_burst_s"])
        finite = ins.dropna(subset=["easting"])                           # any status
        raw_e = np.interp(ts, finite["timestamp"], finite["easting"])
        raw_n = np.interp(ts, finite["timestamp"], finite["northing"])
        jump = np.hypot(raw_e - rows["easting"], raw_n - rows["northing"]).to_numpy()
        assert np.all(jump[fault == "location_outlier"] > 40) and np.all(jump[good] < 0.05)
    assert nan_rows == faults["nan_rows"]


def synthetic_reasons() -> set[str]:
    return {"no_image_file", "unreadable_image", "underexposed", "overexposed", "no_ins_coverage", "bad_ins",
            "location_outlier"}


def test_conditions_look_different(world, truth):
    conditions = pd.read_csv(world / "traversals.csv").set_index("traversal")["condition"]
    good = truth[truth["fault"] == ""].assign(condition=lambda d: d["traversal"].map(conditions))
    means = {c: image_means(world, rows) for c, rows in good.groupby("condition")}
    assert means["night"].max() < 0.6 * means["overcast"].mean()
    assert means["snow"].mean() > means["overcast"].mean()
    assert min(m.min() for m in means.values()) > 10 and max(m.max() for m in means.values()) < 240


def test_simulated_poses_match_the_written_truth(truth):
    poses = synthetic.simulate_poses(TINY)
    assert list(poses.columns) == ["traversal", "condition", "timestamp", "easting", "northing", "yaw"]
    assert np.array_equal(poses["timestamp"], truth["timestamp"])
    assert np.allclose(poses[["easting", "northing", "yaw"]], truth[["easting", "northing", "yaw"]])


def test_route_turns_and_regions_separate():
    cfg = robotcar_world(route_length_m=1200.0, traversals=[{"condition": "overcast", "runs": 1, "reverse": 0}])
    poses = synthetic.simulate_poses(cfg)
    assert 1050 < len(poses) < 1350                                       # about one frame per metre
    assert np.ptp(np.unwrap(np.deg2rad(poses["yaw"]))) > np.deg2rad(60)   # not a straight line
    regions = synthetic.default_regions(cfg)
    inside = {k: poses["easting"].between(b["easting_min"], b["easting_max"])
              & poses["northing"].between(b["northing_min"], b["northing_max"]) for k, b in regions.items()}
    assert 0.22 < inside["test"].mean() < 0.33 and 0.09 < inside["val"].mean() < 0.18
    assert not (inside["test"] & inside["val"]).any()
    t, v = regions["test"], regions["val"]
    dx = max(t["easting_min"] - v["easting_max"], v["easting_min"] - t["easting_max"], 0)
    dy = max(t["northing_min"] - v["northing_max"], v["northing_min"] - t["northing_max"], 0)
    assert np.hypot(dx, dy) >= 25.0


def test_pose_only_mode_scales(tmp_path):
    cfg = robotcar_world(route_length_m=10_000.0, traversals=[{"condition": "overcast", "runs": 20, "reverse": 10}])
    start = time.perf_counter()
    poses = synthetic.simulate_poses(cfg)
    assert len(poses) > 180_000 and time.perf_counter() - start < 10.0
    step = np.hypot(np.diff(poses["easting"]), np.diff(poses["northing"]))
    assert 0.8 < np.median(step) < 1.2
    small = robotcar_world(**{**TINY_KEYS, "traversals": [{"condition": "night", "runs": 1, "reverse": 0}]})
    synthetic.write_world(small, tmp_path / "raw", render=False)
    folder = next(p for p in (tmp_path / "raw").iterdir() if p.is_dir())
    assert (folder / "gps" / "ins.csv").is_file() and (folder / "stereo.timestamps").is_file()
    assert not list(folder.rglob("*.png"))
