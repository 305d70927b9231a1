"""softloc.datasets.formats.robotcar_raw: INS interpolation against known motion, Bayer round trip, clear errors."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from softloc.datasets.formats import robotcar_raw as robotcar
from softloc.synthetic.robotcar_world import bayer_gbrg  # the mosaic the generator writes

T0 = 1_418_000_000_000_000  # microseconds, December 2014 like RobotCar's traversals


def write_ins(folder: Path, ins: pd.DataFrame) -> Path:
    """Write `ins` (a subset of RobotCar's columns) as <folder>/gps/ins.csv, the rest zero."""
    table = pd.DataFrame({c: ins[c] if c in ins else 0.0 for c in robotcar.INS_COLUMNS})
    if "ins_status" not in ins:
        table["ins_status"] = "INS_SOLUTION_GOOD"
    table["utm_zone"] = "30U"
    path = folder / "gps" / "ins.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(path, index=False, float_format="%.10f")
    return path


def circle_track(t_s: np.ndarray) -> dict[str, np.ndarray]:
    """A car on a 20 m radius circle at 10 m/s, clockwise seen from above (heading increases)."""
    radius, speed = 20.0, 10.0
    phase = speed / radius * t_s  # radians around the centre, from north, clockwise
    return {
        "easting": 620_000.0 + radius * np.sin(phase),
        "northing": 5_735_000.0 + radius * np.cos(phase),
        "yaw": np.angle(np.exp(1j * (phase + np.pi / 2))),  # tangent heading, radians in (-pi, pi]
    }


def test_interpolation_recovers_true_poses_on_a_circle(tmp_path):
    ins_s = np.arange(0, 20, 0.02)  # 50 Hz, 1.6 laps: the heading wraps through +-180 degrees
    track = circle_track(ins_s)
    write_ins(tmp_path, pd.DataFrame({"timestamp": T0 + np.round(ins_s * 1e6).astype(np.int64),
                                      "latitude": 51.75 + ins_s * 1e-5, "longitude": -1.25 + ins_s * 2e-5,
                                      **track}))
    image_s = np.random.default_rng(0).uniform(0, 19.98, 500)
    poses = robotcar.interpolate_poses(robotcar.read_ins(tmp_path), T0 + np.round(image_s * 1e6).astype(np.int64))

    truth = circle_track(np.round(image_s * 1e6) / 1e6)
    position_error = np.hypot(poses["easting"] - truth["easting"], poses["northing"] - truth["northing"])
    yaw_error = robotcar.wrap_degrees(poses["yaw"] - np.degrees(truth["yaw"]))
    assert position_error.max() < 0.01  # chord error of a 20 m circle sampled every 0.2 m
    assert np.abs(yaw_error).max() < 0.01
    assert ((poses["yaw"] >= -180) & (poses["yaw"] < 180)).all()
    assert np.allclose(poses["latitude"], 51.75 + np.round(image_s * 1e6) / 1e6 * 1e-5, atol=1e-9)
    assert np.allclose(poses["ins_gap_s"], 0.02)


def test_interpolation_by_hand_wraps_heading_and_leaves_uncovered_times_nan():
    ins = pd.DataFrame({"timestamp": [100, 200], "easting": [0.0, 10.0], "northing": [5.0, 5.0],
                        "latitude": [1.0, 2.0], "longitude": [3.0, 3.0],
                        "yaw": np.radians([179.0, -179.0])})
    poses = robotcar.interpolate_poses(ins, np.array([99, 100, 125, 150, 200, 201]))
    assert poses["easting"].iloc[1:5].tolist() == pytest.approx([0.0, 2.5, 5.0, 10.0])
    assert poses["yaw"].iloc[1:5].tolist() == pytest.approx([179.0, 179.5, -180.0, -179.0])
    assert poses["latitude"].iloc[3] == pytest.approx(1.5)
    assert poses.iloc[[0, 5]].isna().all().all()


def test_bayer_round_trip_recovers_colours(tmp_path):
    rgb = np.zeros((48, 64, 3), np.uint8)
    colours = [(200, 40, 10), (10, 180, 60), (30, 60, 220), (240, 240, 20)]
    for k, colour in enumerate(colours):  # four flat quadrants of distinct colours
        rgb[(k // 2) * 24:(k // 2 + 1) * 24, (k % 2) * 32:(k % 2 + 1) * 32] = colour
    path = tmp_path / "1.png"
    cv2.imwrite(str(path), bayer_gbrg(rgb))

    image = robotcar.load_image(path)
    assert image.shape == (48, 64, 3) and image.dtype == np.uint8
    for k, colour in enumerate(colours):  # interiors, away from the quadrant edges
        inner = image[(k // 2) * 24 + 4:(k // 2 + 1) * 24 - 4, (k % 2) * 32 + 4:(k % 2 + 1) * 32 - 4]
        assert np.abs(inner.astype(int) - colour).max() <= 1, (k, inner[0, 0], colour)
    swapped = cv2.cvtColor(bayer_gbrg(rgb), cv2.COLOR_BayerRGGB2RGB)  # a wrong pattern fails
    assert np.abs(swapped[4:20, 4:28].astype(int) - colours[0]).max() > 50


def test_unreadable_image_error_names_the_file(tmp_path):
    ok, buffer = cv2.imencode(".png", np.full((48, 64), 90, np.uint8))
    path = tmp_path / "2.png"
    path.write_bytes(buffer.tobytes()[:40])
    with pytest.raises(ValueError, match="2.png"):
        robotcar.load_image(path)
    with pytest.raises(ValueError, match="3.png: missing"):
        robotcar.load_image(tmp_path / "3.png")
    cv2.imwrite(str(tmp_path / "4.png"), np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(ValueError, match="4.png: expected an 8-bit single-channel"):
        robotcar.load_image(tmp_path / "4.png")


def test_missing_ins_file_or_column_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"gps/ins.csv: missing INS file"):
        robotcar.read_ins(tmp_path)
    path = write_ins(tmp_path, pd.DataFrame({"timestamp": [1, 2], "northing": [0.0, 1.0]}))
    pd.read_csv(path).drop(columns=["yaw"]).to_csv(path, index=False)
    with pytest.raises(ValueError, match=r"ins.csv: missing INS columns \['yaw'\]"):
        robotcar.read_ins(tmp_path)


def test_bad_ins_timestamp_names_the_row(tmp_path):
    path = write_ins(tmp_path, pd.DataFrame({"timestamp": [1, 2, 3]}))
    table = pd.read_csv(path, dtype=str)
    table.loc[1, "timestamp"] = ""
    table.to_csv(path, index=False)
    with pytest.raises(ValueError, match="ins.csv, data row 2: timestamp"):
        robotcar.read_ins(tmp_path)


def test_ins_rows_unsorted_are_sorted_and_bad_rows_filtered(tmp_path):
    write_ins(tmp_path, pd.DataFrame({"timestamp": [30, 10, 20], "easting": [3.0, 1.0, np.nan],
                                      "ins_status": ["INS_SOLUTION_GOOD", "INS_SOLUTION_GOOD",
                                                     "INS_SOLUTION_GOOD"]}))
    ins = robotcar.read_ins(tmp_path)
    assert ins["timestamp"].tolist() == [10, 20, 30]
    assert robotcar.good_ins_rows(ins, ["INS_SOLUTION_GOOD"])["timestamp"].tolist() == [10, 30]
    assert len(robotcar.good_ins_rows(ins, ["INS_ALIGNMENT_COMPLETE"])) == 0


def test_timestamps_file_reads_and_rejects_bad_lines(tmp_path):
    with pytest.raises(FileNotFoundError, match="stereo.timestamps"):
        robotcar.read_traversal_timestamps(tmp_path)
    (tmp_path / "stereo.timestamps").write_text("1418000000000000 1\n1418000000062500 1\n")
    assert robotcar.read_traversal_timestamps(tmp_path).tolist() == [1418000000000000, 1418000000062500]
    (tmp_path / "stereo.timestamps").write_text("1418000000000000 1\n14180000x0062500 1\n")
    with pytest.raises(ValueError, match="stereo.timestamps, line 2"):
        robotcar.read_traversal_timestamps(tmp_path)
    (tmp_path / "stereo.timestamps").write_text("5 1\n5 1\n")
    with pytest.raises(ValueError, match="listed twice"):
        robotcar.read_traversal_timestamps(tmp_path)
