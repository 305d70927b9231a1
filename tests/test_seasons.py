"""RobotCar / CMU Seasons: file formats, pose conventions, same-camera retrieval, submission lines,
the benchmark's measure, and the embedded synthetic Seasons set."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import pytest

from softloc import datasets
from softloc.config import ParamsError, validate_params
from softloc.datasets.formats import seasons_files as files
from softloc.synthetic import seasons_world as synthetic_seasons
from softloc.datasets import seasons
from softloc.evaluate import retrieve
from softloc.params import read_params_yaml
from softloc.seasons_eval import pose_errors, pose_metrics, submission_lines

from conftest import robotcar_world, seasons_world, params_testset

ROOT = Path(__file__).resolve().parents[1]


def quaternion_matrix(q: np.ndarray) -> np.ndarray:
    """Rotation matrix of a unit quaternion (w, x, y, z), written out by hand (no library)."""
    w, x, y, z = q
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
                     [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
                     [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]])


def numbers(*values: float) -> str:
    """Values as a pose file writes them: space separated, full precision."""
    return " ".join(repr(float(v)) for v in values)


def level_camera(yaw_deg: float) -> np.ndarray:
    """Unit quaternion (w first) of a level camera looking along `yaw` (clockwise from +y), world z up."""
    r = synthetic_seasons.world_rotation(np.array([np.deg2rad(yaw_deg)]))[0]
    w = np.sqrt(max(0.0, 1 + np.trace(r))) / 2
    return np.array([w, (r[2, 1] - r[1, 2]) / (4 * w), (r[0, 2] - r[2, 0]) / (4 * w), (r[1, 0] - r[0, 1]) / (4 * w)])


def top1_within_cameras(ref_features: np.ndarray, query_features: np.ndarray, reference: pd.DataFrame,
                        queries: pd.DataFrame) -> np.ndarray:
    """The evaluate stage's retrieval (top-1, within each query's camera) on the tables' cameras."""
    topk, _ = retrieve(ref_features, query_features, reference["camera"].to_numpy(str),
                       queries["camera"].to_numpy(str), k=1)
    return topk[:, 0]


def write_robotcar_seasons(root: Path, cameras: dict[str, tuple[np.ndarray, np.ndarray]], queries: list[str]) -> None:
    """A minimal RobotCar Seasons folder: the NVM model of `cameras` (name -> (q, c)), one query list."""
    rows = [{"name": name, "focal": 400.0, **dict(zip(files.POSE_COLUMNS, [*q, *c]))}
            for name, (q, c) in cameras.items()]
    files.write_nvm(root / "3D-models/all-merged/all.nvm", pd.DataFrame(rows))
    lists = root / "3D-models/individual/queries_per_location"
    lists.mkdir(parents=True)
    (lists / "queries_location_001.txt").write_text("".join(f"{q}\n" for q in queries))
    for camera in ("left", "rear", "right"):
        files.write_intrinsics(root / f"intrinsics/{camera}_intrinsics.txt", 400.0, 400.0, 511.5, 511.5)


def test_pose_conventions_written_read_and_exported(tmp_path: Path) -> None:
    """A camera of known centre and rotation: NVM round trip, t = -R c, w x y z order, same camera."""
    q_left = level_camera(-60.0)
    c_left = np.array([12.5, -3.0, 1.6])
    q_rear = level_camera(120.0)
    c_rear = np.array([11.5, -3.2, 1.6])
    write_robotcar_seasons(tmp_path, {"overcast-reference/left/1000.png": (q_left, c_left),
                                      "./overcast-reference/rear/1000.png": (q_rear, c_rear)},
                           ["night/left/2000.jpg", "night/rear/2000.jpg"])
    nvm = files.read_nvm(tmp_path / "3D-models/all-merged/all.nvm")
    assert nvm["name"].tolist() == ["overcast-reference/left/1000.png", "overcast-reference/rear/1000.png"]
    np.testing.assert_allclose(nvm[["qw", "qx", "qy", "qz"]].to_numpy()[0], q_left, atol=1e-12)
    np.testing.assert_allclose(nvm[["cx", "cy", "cz"]].to_numpy()[0], c_left, atol=1e-12)

    split = datasets.get("seasons").read_split(params_testset("seasons", dataset="robotcar", split=str(tmp_path),
                                                       images=str(tmp_path / "images")))
    ref, queries = split.reference, split.queries
    assert ref["path"].tolist() == ["overcast-reference/left/1000.jpg", "overcast-reference/rear/1000.jpg"]
    assert ref["camera"].tolist() == ["left", "rear"] and queries["camera"].tolist() == ["left", "rear"]
    assert queries["condition"].tolist() == ["night", "night"] and queries["qw"].isna().all()
    # The embedded frame has z up: ground-plane positions are the centres' x and y.
    np.testing.assert_allclose(ref[["easting", "northing"]].to_numpy(), [c_left[:2], c_rear[:2]], atol=1e-9)

    # The query features point at the rear reference, yet the left query may only take the left one.
    ref_features = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)
    query_features = np.array([[0.0, 1.0], [0.0, 1.0]], np.float32)
    top1 = top1_within_cameras(ref_features, query_features, ref, queries)
    assert top1.tolist() == [0, 1]
    with pytest.raises(ValueError, match="within one camera"):
        submission_lines(queries, ref, np.array([1, 1]), "robotcar")

    lines = submission_lines(queries, ref, top1, "robotcar")
    name, *values = lines[0].split()
    assert name == "left/2000.jpg" and len(values) == 7
    q, t = np.array(values[:4], float), np.array(values[4:], float)
    np.testing.assert_allclose(q, q_left, atol=1e-12)       # w first, as written
    rotation = quaternion_matrix(q)
    np.testing.assert_allclose(t, -rotation @ c_left, atol=1e-9)   # translation, not the centre
    np.testing.assert_allclose(rotation @ c_left + t, 0.0, atol=1e-9)
    # Level camera looking along yaw -60: its optical axis (row 2 of R) is (sin, cos, 0) of the yaw.
    np.testing.assert_allclose(rotation[2], [np.sin(np.deg2rad(-60)), np.cos(np.deg2rad(-60)), 0], atol=1e-12)


def test_v2_camera_to_world_matrix_gives_the_nvm_pose(tmp_path: Path) -> None:
    q = level_camera(35.0)
    c = np.array([-4.0, 7.0, 1.5])
    matrix = np.eye(4)
    matrix[:3, :3] = quaternion_matrix(q).T      # camera to world
    matrix[:3, 3] = c
    (tmp_path / "v2.txt").write_text(f"sun/rear/5.png {numbers(*matrix.ravel())}\nnight/left/6.jpg {numbers(*q, *c)}\n")
    poses = files.read_pose_list(tmp_path / "v2.txt")
    for row in range(2):
        np.testing.assert_allclose(poses[files.POSE_COLUMNS].to_numpy()[row], [*q, *c], atol=1e-12)
    (tmp_path / "bad.txt").write_text("x 1 2 3\n")
    with pytest.raises(ValueError, match=r"bad.txt:1: expected"):
        files.read_pose_list(tmp_path / "bad.txt")


def test_ground_plane_of_a_tilted_sfm_frame_keeps_horizontal_distances() -> None:
    """SfM frames are arbitrary: rotate the world, the ground-plane distances stay the same."""
    rng = np.random.default_rng(0)
    yaw = rng.uniform(-np.pi, np.pi, 20)
    centres = np.column_stack([rng.uniform(-50, 50, 20), rng.uniform(-50, 50, 20), np.full(20, 1.6)])
    from scipy.spatial.transform import Rotation

    world = Rotation.from_rotvec([0.4, -1.1, 0.7])
    r_cam = synthetic_seasons.world_rotation(yaw) @ world.inv().as_matrix()   # world' = world * x
    quats = Rotation.from_matrix(r_cam).as_quat(scalar_first=True)
    xy = centres[:, :2]
    xy_new = world.apply(centres) @ files.ground_plane_axes(quats).T
    d = np.linalg.norm(xy[:, None] - xy[None], axis=-1)
    d_new = np.linalg.norm(xy_new[:, None] - xy_new[None], axis=-1)
    np.testing.assert_allclose(d_new, d, atol=1e-9)


def test_pose_measure_thresholds_on_known_errors() -> None:
    """Position/rotation errors placed on, just inside and just outside each threshold."""
    errors = [  # (metres, degrees, condition)
        (0.25, 2.0, "night"), (0.2, 2.1, "night"), (0.26, 0.0, "night"), (0.5, 5.0, "night"),
        (4.9, 9.0, "sun"), (5.0, 10.0, "sun"), (5.01, 1.0, "sun"), (0.1, 10.5, "sun"),
    ]
    n = len(errors)
    yaw_true = np.linspace(-150, 150, n)
    truth_q = np.array([level_camera(y) for y in yaw_true])
    truth_c = np.column_stack([np.arange(n) * 100.0, np.zeros(n), np.full(n, 1.6)])
    # Estimated: moved along x by the position error and turned about the vertical by the angle.
    est_q = np.array([level_camera(y + d) for y, (_, d, _) in zip(yaw_true, errors)])
    est_c = truth_c + np.column_stack([[m for m, _, _ in errors], np.zeros(n), np.zeros(n)])
    columns = {"camera": "rear", "path": [f"c/rear/{i}.jpg" for i in range(n)],
               "condition": [c for _, _, c in errors]}
    queries = datasets.testset_table({**columns, **dict(zip(files.POSE_COLUMNS, np.hstack([truth_q, truth_c]).T))}, n)
    reference = datasets.testset_table({**columns, **dict(zip(files.POSE_COLUMNS, np.hstack([est_q, est_c]).T))}, n)
    position, rotation = pose_errors(reference, queries)
    np.testing.assert_allclose(position, [m for m, _, _ in errors], atol=1e-9)
    np.testing.assert_allclose(rotation, [d for _, d, _ in errors], atol=1e-6)

    metrics = pose_metrics(queries, reference, np.arange(n), "robotcar")
    assert metrics["n_with_truth"] == n
    # night: (0.25, 2) on the boundary counts; (0.2, 2.1) fails the angle; (0.26, 0) the distance.
    assert metrics["by_condition"]["night"] == {"0.25m_2deg": 25.0, "0.5m_5deg": 100.0, "5m_10deg": 100.0, "n": 4}
    assert metrics["by_condition"]["sun"] == {"0.25m_2deg": 0.0, "0.5m_5deg": 0.0, "5m_10deg": 50.0, "n": 4}
    assert set(metrics["by_group"]) == {"day", "night"} and metrics["by_group"]["day"]["n"] == 4
    assert metrics["all"]["5m_10deg"] == 75.0
    no_truth = queries.assign(qw=np.nan)
    assert "by_condition" not in pose_metrics(no_truth, reference, np.arange(n), "robotcar")


def test_cmu_slices_cameras_scenes_and_basenames(tmp_path: Path) -> None:
    (tmp_path / "intrinsics.txt").write_text(
        "# camera model w h fx fy cx cy k1 k2 p1 p2\n"
        "c0 OPENCV 1024 768 868.99 866.06 525.94 420.04 -0.39 0.18 0.0 0.0\n"
        "c1 OPENCV 1024 768 873.38 876.49 529.32 397.27 -0.39 0.18 0.0 0.0\n")
    slice_dir = tmp_path / "slice3"
    (slice_dir / "camera-poses").mkdir(parents=True)
    q0, q1 = level_camera(10.0), level_camera(100.0)
    (slice_dir / "ground-truth-database-images-slice3.txt").write_text(
        f"img_00001_c0_1303398475046031us.jpg {numbers(*q0, 1.0, 2.0, 3.0)}\n"
        f"img_00002_c1_1303398475046031us.jpg {numbers(*q1, 1.0, 2.5, 3.0)}\n")
    (slice_dir / "test-images-slice3.txt").write_text(
        "img_01555_c1_1283347879534213us.jpg\nimg_01556_c0_1283347879634213us.jpg\n")
    (slice_dir / "camera-poses" / "some.txt").write_text(
        f"img_01556_c0_1283347879634213us.jpg {numbers(*q0, 1.2, 2.0, 3.0)}\n")
    split = seasons.read_split(params_testset("seasons", dataset="cmu", split=str(tmp_path), images=str(tmp_path),
                                       slices=[3], truth="slice{slice}/camera-poses"))
    ref, queries = split.reference, split.queries
    assert ref["camera"].tolist() == ["slice3/c0", "slice3/c1"]
    assert queries["path"].tolist() == ["slice3/query/img_01555_c1_1283347879534213us.jpg",
                                        "slice3/query/img_01556_c0_1283347879634213us.jpg"]
    assert queries["condition"].tolist() == ["urban", "urban"] and queries["timestamp"][0] == 1283347879534213
    assert queries["qw"].isna().tolist() == [True, False] and split.counts["queries_with_truth"] == 1
    top1 = top1_within_cameras(np.eye(2, dtype=np.float32), np.eye(2, dtype=np.float32)[[0, 0]], ref, queries)
    assert top1.tolist() == [1, 0]
    assert submission_lines(queries, ref, top1, "cmu")[0].startswith("img_01555_c1_1283347879534213us.jpg ")
    metrics = pose_metrics(queries, ref, top1, "cmu")
    assert metrics["by_group"] == {"urban": {"0.25m_2deg": 100.0, "0.5m_5deg": 100.0, "5m_10deg": 100.0, "n": 1}}


TINY = seasons_world(locations=2, location_length_m=4.0, queries_per_location=1, image_size=48,
                     query_conditions={"night": "night", "snow": "snow"})
TINY_TOWN = robotcar_world(seed=3, route_length_m=120.0)


def test_embedded_seasons_set_reads_back_with_its_truth(tmp_path: Path) -> None:
    counts = synthetic_seasons.write_seasons(TINY_TOWN, TINY, tmp_path)
    assert counts == {"reference": 2 * 4 * 3, "queries": 2 * 2 * 1 * 3, "locations": 2, "conditions": 3}
    cfg = params_testset("seasons", dataset="robotcar", split=str(tmp_path), images=str(tmp_path / "images"),
                  truth=str(tmp_path / synthetic_seasons.TRUTH_FILE))
    split = seasons.read_split(cfg)
    ref, queries = split.reference, split.queries
    assert len(ref) == 24 and len(queries) == 12 and queries["qw"].notna().all()
    assert set(queries["condition"]) == {"night", "snow"} and set(ref["condition"]) == {"overcast-reference"}
    assert sorted(set(queries["source"])) == ["queries_location_001", "queries_location_002"]
    image = seasons.load_image(Path(cfg.images) / queries["path"][0])
    assert image.shape == (48, 48, 3) and image.dtype == np.uint8
    # The nearest same-camera reference by pose is within the location's spacing and a few degrees.
    best = top1_within_cameras(ref[["cx", "cy", "cz"]].to_numpy(np.float32),
                               queries[["cx", "cy", "cz"]].to_numpy(np.float32), ref, queries)
    position, rotation = pose_errors(ref.iloc[best], queries)
    assert position.max() < 1.2 and rotation.max() < 8.0
    metrics = pose_metrics(queries, ref, best, "robotcar")
    assert metrics["by_group"]["night"]["5m_10deg"] == 100.0
    # Same params, byte-identical files.
    again = tmp_path.parent / "again"
    synthetic_seasons.write_seasons(TINY_TOWN, TINY, again)
    for name in ("3D-models/all-merged/all.nvm", synthetic_seasons.TRUTH_FILE, "images/" + queries["path"][3]):
        assert (tmp_path / name).read_bytes() == (again / name).read_bytes()


@pytest.mark.parametrize("edit, message", [
    (lambda p: p["testsets"]["seasons_synthetic"].update(dataset="oxford"), r"testsets\.seasons_synthetic\.dataset"),
    (lambda p: p["testsets"]["seasons_synthetic"].update(slices=[1]), r"testsets\.seasons_synthetic\.slices"),
    (lambda p: p["synthetic_seasons"].update(route_fractions=[0.1, 0.5]), r"synthetic_seasons\.route_fractions"),
    (lambda p: p["synthetic_seasons"].update(reference_condition="sun"), r"synthetic_seasons\.reference_condition"),
    (lambda p: p["gradcam"].update(testset="nowhere"), r"gradcam\.testset = 'nowhere'"),
    (lambda p: p["gradcam"].update(method="nomethod"), r"gradcam\.method = 'nomethod'"),
    (lambda p: p["gradcam"].update(seed=7), r"gradcam\.seed = 7"),
])
def test_params_of_the_seasons_sets_and_figure3_are_checked(edit: Callable[[dict], Any], message: str) -> None:
    raw = read_params_yaml(ROOT / "params.yaml")
    edit(raw)
    with pytest.raises(ParamsError, match=message):
        validate_params(raw)


def test_seasons_names_leading_out_of_images_or_twice_are_errors(tmp_path: Path) -> None:
    """An NVM name `../left/<ts>` or a query image symlinked out of `images` names its row; a
    reference listed twice names both rows."""
    cameras = {"overcast-reference/left/1000.png": (level_camera(0.0), np.zeros(3)),
               "overcast-reference/left/1001.png": (level_camera(0.0), np.ones(3))}
    entry = params_testset("seasons", dataset="robotcar", split=str(tmp_path), images=str(tmp_path / "images"))
    write_robotcar_seasons(tmp_path, {**cameras, "../left/1002.png": (level_camera(0.0), np.ones(3))},
                           ["night/left/2000.jpg"])
    with pytest.raises(ValueError, match=r"reference row 2 \(from overcast-reference\): image path '\.\./left/1002\.jpg' "
                                         r"resolves to \S+, outside the image root"):
        datasets.get("seasons").read_split(entry)
    shutil.rmtree(tmp_path / "3D-models")
    write_robotcar_seasons(tmp_path, {**cameras, "./overcast-reference/left/1000.png": (level_camera(0.0), np.ones(3))},
                           ["night/left/2000.jpg"])
    with pytest.raises(ValueError, match=r"reference row 2 .* is the file of .*reference row 0 \(from overcast-reference\) again"):
        datasets.get("seasons").read_split(entry)
    shutil.rmtree(tmp_path / "3D-models")
    write_robotcar_seasons(tmp_path, cameras, ["night/left/2000.jpg"])
    (tmp_path / "images" / "night").mkdir(parents=True)
    os.symlink(tmp_path, tmp_path / "images" / "night" / "left")
    with pytest.raises(ValueError, match=r"queries row 0 \(from queries_location_001\): image path 'night/left/2000\.jpg' "
                                         r"resolves to \S+, outside the image root"):
        datasets.get("seasons").read_split(entry)
