"""softloc.clean / pipeline.clean: every planted fault caught with its reason, no good image lost."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import yaml

from softloc import clean, geometry
from softloc.datasets.formats import robotcar_raw as robotcar
from softloc.synthetic import robotcar_world as synthetic
from softloc.io import read_parquet
from softloc.params import load_params, read_params_yaml
from softloc.schemas import IMAGES

from conftest import robotcar_world

T0 = 1_418_000_000_000_000
PARAMS_YAML = Path(__file__).resolve().parents[1] / "params.yaml"
PARAMS = read_params_yaml(PARAMS_YAML)
CFG = load_params(PARAMS_YAML).clean
SPEED = 10.0  # m/s; images every 0.1 s, INS every 0.02 s
NORTHING = 5_735_000.0


def image_seconds(n: int) -> np.ndarray:
    """Image times, 10 ms after an INS row, so each interpolates between two rows."""
    return 0.1 * np.arange(n) + 0.51


def write_traversal(root: Path, name: str, *, reverse: bool, lane: float, brightness: int,
                    faults: dict[int, str], ins_edit=None, extra_seconds=()) -> dict[int, str]:
    """One straight 100 m traversal of 95 images; returns {timestamp: expected reason}."""
    folder = root / name
    ins_s = np.arange(0, 10.5, 0.02)
    along = SPEED * ins_s if not reverse else 105.0 - SPEED * ins_s
    ins = pd.DataFrame({c: np.zeros(len(ins_s)) for c in robotcar.INS_COLUMNS})
    ins["timestamp"] = T0 + np.round(ins_s * 1e6).astype(np.int64)
    ins["ins_status"] = "INS_SOLUTION_GOOD"
    ins["easting"] = 620_000.0 + along
    ins["northing"] = NORTHING + lane
    ins["utm_zone"] = "30U"
    ins["yaw"] = np.pi / 2 if not reverse else -np.pi / 2
    if ins_edit is not None:
        ins_edit(ins, ins_s)
    # The INS states one solution twice: latitude/longitude are its UTM position's (jumps included).
    ins["latitude"], ins["longitude"] = geometry.utm_to_latlon(ins["easting"], ins["northing"], 30, "U")
    (folder / "gps").mkdir(parents=True)
    ins.to_csv(folder / "gps" / "ins.csv", index=False)

    seconds = np.concatenate([image_seconds(95), extra_seconds])
    stamps = T0 + np.round(seconds * 1e6).astype(np.int64)
    (folder / "stereo.timestamps").write_text("".join(f"{t} 1\n" for t in stamps))
    (folder / "stereo" / "centre").mkdir(parents=True)
    rng = np.random.default_rng(len(faults))
    expected = {}
    for i, t in enumerate(stamps):
        reason = faults.get(i, "")
        expected[int(t)] = reason
        mosaic = np.clip(rng.normal(brightness, 8, (24, 32)), 0, 255).astype(np.uint8)
        if brightness < 40:  # night: dark, with a few bright lamps and windows
            mosaic[4:8, 4:10] = 250
        if reason == "underexposed":
            mosaic = np.clip(rng.normal(3, 2, (24, 32)), 0, 255).astype(np.uint8)
        if reason == "overexposed":
            mosaic = np.full((24, 32), 252, np.uint8)
        if reason == "wrong_size":
            mosaic = mosaic[:, :30]
        if reason == "no_image_file":
            continue
        path = folder / "stereo" / "centre" / f"{t}.png"
        cv2.imwrite(str(path), mosaic)
        if reason == "unreadable_image":
            path.write_bytes(path.read_bytes()[:60])
    return expected


def near(ins_s: np.ndarray, image: int, half_width_s: float) -> np.ndarray:
    return np.abs(ins_s - image_seconds(image + 1)[image]) <= half_width_s + 1e-9


def bad_status(ins, ins_s):
    ins.loc[near(ins_s, 50, 0.05), "ins_status"] = "INS_BAD_GPS_AGREEMENT"  # gap 0.14 s around image 50
    ins.loc[near(ins_s, 60, 0.05), "northing"] = np.nan                     # NaN rows around image 60
    ins.loc[near(ins_s, 65, 0.01), "yaw"] = np.nan                          # two lost rows (0.06 s): fine
    ins.loc[near(ins_s, 70, 0.03), "northing"] += 12.0                      # a jump, yet near the route


def detour(ins, ins_s):
    ins.loc[(ins_s > 3.0) & (ins_s < 5.0), "northing"] += 60.0             # 2 s off the route


def write_world(root: Path) -> dict[tuple[str, int], str]:
    """Three traversals of one street: every fault kind planted, plus a valid night traversal."""
    a, b, c = "2014-12-01-10-00-00", "2014-12-02-10-00-00", "2014-12-03-18-00-00"
    faults_a = {10: "no_image_file", 20: "unreadable_image", 30: "underexposed", 40: "overexposed",
                50: "bad_ins", 60: "bad_ins", 70: "location_outlier", 80: "wrong_size",
                95: "no_ins_coverage", 96: "no_ins_coverage"}
    expected = {}
    for name, kwargs in {
        a: dict(reverse=False, lane=-2.0, brightness=110, faults=faults_a, ins_edit=bad_status,
                extra_seconds=(-1.0, 11.0)),
        b: dict(reverse=False, lane=-2.5, brightness=130, faults={i: "location_outlier" for i in range(25, 45)},
                ins_edit=detour),
        c: dict(reverse=True, lane=2.0, brightness=10, faults={}),  # dark night, all valid
    }.items():
        expected.update({(name, t): r for t, r in write_traversal(root, name, **kwargs).items()})
    (root / "traversals.csv").write_text(f"traversal,condition\n{c},night\n{a},overcast\n{b},sunny\n")
    write_traversal(root, UNLISTED, reverse=False, lane=-2.0, brightness=120, faults={})  # not in the csv
    return expected


UNLISTED = "2014-12-04-10-00-00"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("raw")
    expected = write_world(root)
    images, report = clean.clean_dataset(root, CFG)
    return root, expected, images, report


def test_every_planted_fault_has_its_reason_and_good_images_survive(world):
    _, expected, images, _ = world
    got = {(r.traversal, r.timestamp): r.reason for r in images.itertuples()}
    assert set(got) == set(expected)
    wrong = {k: (got[k], v) for k, v in expected.items() if got[k] != v}
    assert not wrong, wrong
    assert (images["kept"] == (images["reason"] == "")).all()
    assert images["condition"].tolist().count("night") == 95


def test_rows_sorted_and_poses_recovered(world):
    _, _, images, _ = world
    assert images["image_id"].tolist() == list(range(len(images)))
    assert images.equals(images.sort_values(["traversal", "timestamp"]).reset_index(drop=True))
    kept = images[images["kept"]]
    seconds = (kept["timestamp"] - T0) / 1e6
    forward = kept["traversal"] != "2014-12-03-18-00-00"
    along = np.where(forward, SPEED * seconds, 105.0 - SPEED * seconds)
    assert np.abs(kept["easting"] - (620_000.0 + along)).max() < 1e-6
    assert np.abs(kept["yaw"] - np.where(forward, 90.0, -90.0)).max() < 1e-6
    assert images.loc[images["reason"] == "no_ins_coverage", "easting"].isna().all()
    assert images["path"].iloc[0] == f"{images['traversal'].iloc[0]}/stereo/centre/{images['timestamp'].iloc[0]}.png"


def test_report_counts_every_reason_per_traversal(world):
    _, expected, _, report = world
    totals = report["totals"]
    assert set(totals) == {"images", "kept", *clean.REASONS}
    assert totals["images"] == len(expected)
    assert totals["kept"] == sum(r == "" for r in expected.values())
    for reason in clean.REASONS:
        assert totals[reason] == sum(r == reason for r in expected.values()), reason
    assert report["traversals"]["2014-12-02-10-00-00"]["location_outlier"] == 20
    assert report["totals"]["wrong_size"] == 1
    assert sum(t["images"] for t in report["traversals"].values()) == totals["images"]


def test_unlisted_traversal_folders_are_counted_not_read(world, caplog):
    root, _, images, report = world
    assert report["unlisted_traversals"] == {UNLISTED: 95}
    assert UNLISTED not in set(images["traversal"])
    with caplog.at_level("WARNING"):
        assert clean.unlisted_traversals(root, {"2014-12-01-10-00-00"}) == {
            "2014-12-02-10-00-00": 95, "2014-12-03-18-00-00": 95, UNLISTED: 95}
    assert f"{UNLISTED}: traversal folder not listed" in caplog.text


def test_pipeline_twice_gives_byte_identical_outputs(world, tmp_path):
    root = world[0]
    params = {**PARAMS, "data": {"raw_root": str(root)},
              "testsets": {**PARAMS["testsets"], "robotcar": {**PARAMS["testsets"]["robotcar"], "images": str(root)}}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    from pipeline.clean import main

    outputs = []
    for run in ("one", "two"):
        out, report = tmp_path / run / "images.parquet", tmp_path / run / "clean.json"
        main(["--params", str(tmp_path / "params.yaml"), "--out", str(out), "--report", str(report)])
        outputs.append((out.read_bytes(), report.read_bytes()))
    assert outputs[0] == outputs[1]
    images = read_parquet(tmp_path / "one" / "images.parquet", IMAGES)
    assert len(images) == len(world[1])
    assert json.loads(outputs[0][1])["totals"]["images"] == len(images)


@pytest.mark.parametrize("content, message", [
    ("traversal,condition\n2014-12-01-10-00-00,overcast\n2014-12-09-10-00-00,night\n",
     r"traversals.csv, line 3: traversal folder .*2014-12-09-10-00-00"),
    ("traversal,condition\n2014-12-01-10-00-00,\n", "traversals.csv, line 2: expected"),
    ("traversal,condition\n2014-12-01-10-00-00\n", "traversals.csv, line 2: expected"),
    ("traversal,condition\n2014-12-01-10-00-00,overcast,extra\n", "traversals.csv, line 2: expected"),
    ("traversal,condition\n2014-12-01-10-00-00,overcast\n2014-12-01-10-00-00,night\n",
     "traversals.csv, line 3: traversal 2014-12-01-10-00-00 listed twice"),
    ("name,condition\n", "traversals.csv: header"),
])
def test_traversal_list_errors_name_file_and_line(tmp_path, content, message):
    (tmp_path / "2014-12-01-10-00-00").mkdir()
    (tmp_path / "traversals.csv").write_text(content)
    with pytest.raises(ValueError, match=message):
        clean.read_traversal_list(tmp_path)


def test_missing_traversal_list_is_an_error_naming_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="traversals.csv"):
        clean.read_traversal_list(tmp_path)


def test_synthetic_world_faults_all_caught_and_true_poses_recovered(tmp_path):
    cfg = robotcar_world(seed=3, route_length_m=80.0, image_width=64, image_height=48,
                         traversals=[{"condition": "overcast", "runs": 2, "reverse": 1},
                                     {"condition": "night", "runs": 1, "reverse": 0},
                                     {"condition": "snow", "runs": 1, "reverse": 0}])
    synthetic.write_world(cfg, tmp_path)
    images, report = clean.clean_dataset(tmp_path, CFG)
    truth = read_parquet(tmp_path / "synthetic_truth.parquet", synthetic.schemas.SYNTHETIC_TRUTH)
    both = images.merge(truth, on=["traversal", "timestamp"], suffixes=("", "_true"), validate="1:1")
    assert len(both) == len(images) == len(truth)
    assert set(truth["fault"]) - {""}, "the generator planted no fault"
    wrong = both[both["reason"] != both["fault"]]
    assert wrong.empty, wrong[["traversal", "timestamp", "fault", "reason"]].to_string()
    kept = both[both["kept"]]
    error_m = np.hypot(kept["easting"] - kept["easting_true"], kept["northing"] - kept["northing_true"])
    assert error_m.max() < 0.05
    assert np.abs(robotcar.wrap_degrees(kept["yaw"] - kept["yaw_true"])).max() < 0.5
    assert (both["condition"] == "night").any()
    assert report["totals"]["kept"] == int((truth["fault"] == "").sum())
