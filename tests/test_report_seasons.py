"""Table 2, Figure 2, Figure 3's drawing and the supplementary lists on small hand-built tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from softloc import datasets
from softloc import config
from softloc.gradcam import MatchCam
from softloc.io import write_json
from softloc.report.figure2 import figure2_section, near_training, set_sizes
from softloc.report.figure3 import FIGURE3_DIR, Figure3Row, draw_figure3, figure3_section
from softloc.report.lists import TESTSET_COLUMNS, TRAIN_COLUMNS, lists_section, write_lists
from softloc.report.table2 import table2_sections
from softloc.schemas import SPLIT_IMAGES

PNG = b"\x89PNG\r\n\x1a\n"


def train_table(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    table = pd.DataFrame({
        "image_id": np.arange(n), "traversal": np.where(np.arange(n) % 3, "2014-05-06-11-00-00", "2014-05-15-13-00-00"),
        "condition": np.where(np.arange(n) % 3, "overcast", "sunny"), "timestamp": np.arange(n) * 1000,
        "path": [f"t/stereo/centre/{i}.png" for i in range(n)], "easting": 620000 + rng.uniform(0, 500, n),
        "northing": 5735000 + rng.uniform(0, 500, n), "yaw": 0.0, "latitude": 51.7, "longitude": -1.2})
    return table[list(SPLIT_IMAGES)]


def sample_testsets() -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
    robotcar_ref = datasets.testset_table({"path": [f"r{i}.png" for i in range(6)], "condition": "overcast",
                                           "easting": 620400.0 + np.arange(6), "northing": 5735400.0, "utm_zone": "30U",
                                           "latitude": 51.75, "longitude": -1.25}, 6)
    robotcar_q = datasets.testset_table({"path": [f"q{i}.png" for i in range(5)],
                                         "condition": ["night"] * 2 + ["snow"] * 3,
                                "easting": 620400.5 + np.arange(5), "northing": 5735401.0, "utm_zone": "30U"}, 5)
    seasons_ref = datasets.testset_table({"path": [f"overcast-reference/rear/{i}.jpg" for i in range(4)],
                                 "condition": "overcast-reference", "camera": "rear",
                                 "easting": np.arange(4.0), "northing": 0.0}, 4)
    seasons_q = datasets.testset_table({"path": ["night/rear/9.jpg", "sun/rear/8.jpg", "sun/rear/7.jpg"],
                               "condition": ["night", "sun", "sun"], "camera": "rear",
                               "easting": [0.5, np.nan, np.nan], "northing": [0.1, np.nan, np.nan]}, 3)
    return {"robotcar": (robotcar_ref, robotcar_q), "seasons_synthetic": (seasons_ref, seasons_q)}


def test_lists_hold_one_row_per_table_row(tmp_path: Path) -> None:
    train, sets = train_table(40), sample_testsets()
    paths = write_lists(train, sets, tmp_path / "lists")
    assert sorted(paths) == ["robotcar/queries", "robotcar/reference", "seasons_synthetic/queries",
                             "seasons_synthetic/reference", "train_images"]
    listed = pd.read_csv(paths["train_images"])
    assert list(listed.columns) == TRAIN_COLUMNS and len(listed) == len(train)
    assert listed["path"].tolist() == train["path"].tolist()
    for name, (ref, queries) in sets.items():
        for split, table in (("reference", ref), ("queries", queries)):
            listed = pd.read_csv(paths[f"{name}/{split}"], keep_default_na=False)
            assert list(listed.columns) == TESTSET_COLUMNS and len(listed) == len(table)
    unknown = pd.read_csv(paths["seasons_synthetic/queries"])
    assert unknown["easting"].isna().tolist() == [False, True, True]     # unknown positions stay empty
    section = lists_section(tmp_path / "lists", tmp_path)
    assert "| robotcar/queries | lists/robotcar/queries.csv | 5 |" in section.grids[0].markdown()
    assert "| train_images | lists/train_images.csv | 40 |" in section.grids[0].markdown()


def test_figure2_draws_every_set_and_counts_every_image(tmp_path: Path) -> None:
    train, sets = train_table(40), sample_testsets()
    section = figure2_section(train, sets, tmp_path)
    assert (tmp_path / section.images[0][0]).read_bytes()[:8] == PNG
    assert near_training(train, sets["robotcar"][0]) and not near_training(train, sets["seasons_synthetic"][0])
    sizes = set_sizes(train, sets)
    totals = sizes.groupby(["set", "split"], sort=False)["images"].sum().to_dict()
    assert totals == {("training", "train"): 40, ("robotcar", "reference"): 6, ("robotcar", "queries"): 5,
                      ("seasons_synthetic", "reference"): 4, ("seasons_synthetic", "queries"): 3}
    text = section.grids[0].markdown()
    assert "| robotcar | queries | snow | 3 |" in text and "| training | train | **total** | **40** |" in text


def test_figure3_draws_one_row_per_method_and_its_section_lists_the_errors(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    cam = MatchCam(rng.uniform(0, 1, (48, 64)).astype(np.float32), rng.uniform(0, 1, (48, 64)).astype(np.float32), 0.8)
    rows = [Figure3Row("triplet", image, cam, 42.0), Figure3Row("soft (ours)", image, cam, 3.2)]
    draw_figure3(image, rows, "night query", tmp_path / FIGURE3_DIR / "query_7.png")
    assert (tmp_path / FIGURE3_DIR / "query_7.png").read_bytes()[:8] == PNG
    write_json({"testset": "robotcar", "seed": 0, "condition": "night", "rows": ["triplet", "soft"], "queries": [
        {"row": 7, "path": "q7.png", "methods": {"triplet": {"top1": 3, "error_m": 42.0},
                                                  "soft": {"top1": 1, "error_m": 3.2}}}]},
               tmp_path / FIGURE3_DIR / "selection.json")
    section = figure3_section(tmp_path)
    assert section.images == [(f"{FIGURE3_DIR}/query_7.png", "Grad-CAM, query q7.png")]
    assert section.grids[0].markdown().endswith("| triplet | 42.0 m |\n| soft | 3.2 m |\n")   # ours last


def write_metrics(root: Path, method: str, testset: str, night_fine: float, with_truth: bool) -> None:
    metrics = {"dataset": "robotcar", "n_queries": 10, "n_with_truth": 10 if with_truth else 0}
    if with_truth:
        row = {"0.25m_2deg": night_fine, "0.5m_5deg": 50.0, "5m_10deg": 80.0, "n": 5}
        metrics["by_group"] = {"day": {**row, "0.25m_2deg": 10.0}, "night": row}
        metrics["by_condition"] = {"night": row, "sun": {**row, "0.25m_2deg": 10.0}}
    write_json(metrics, root / method / "seed0" / testset / "pose_metrics.json")


def test_table2_local_results_labelled_and_files_to_upload(tmp_path: Path) -> None:
    base = {"split": "s", "images": "i", "pca_fit": "reference"}
    seasons, robotcar = config.testset_model("seasons"), config.testset_model("robotcar")
    testsets = {"seasons_synthetic": seasons(format="seasons", dataset="robotcar", truth="truth.txt", **base),
                "robotcar_seasons": seasons(format="seasons", dataset="robotcar", **base),
                "robotcar": robotcar(format="robotcar", utm_zone="30U", **base)}
    for method, night in (("triplet", 20.0), ("soft", 40.0)):
        write_metrics(tmp_path, method, "seasons_synthetic", night, True)
        write_metrics(tmp_path, method, "robotcar_seasons", 0.0, False)
    synthetic, real = table2_sections(["triplet", "soft"], [0], testsets, tmp_path, {"soft": "soft (ours)"})     # robotcar: no section
    assert synthetic.title.startswith("Table 2: seasons_synthetic") and real.title.startswith("Table 2: robotcar_seasons")
    assert "LOCAL RESULTS, NOT BENCHMARK RESULTS" in synthetic.text and "truth.txt" in synthetic.text
    groups = synthetic.grids[0].markdown()
    assert "| method | day (5 queries) 0.25 m, 2° |" in groups
    # Ties are all best (bold), as in Table 1.
    assert "| soft (ours) | **10.0** | **50.0** | **80.0** | **40.0** |" in groups
    assert "| triplet | **10.0** | **50.0** | **80.0** | 20.0 |" in groups
    assert "nothing to upload" in synthetic.notes[0]
    assert "LOCAL" not in real.text and "visuallocalization.net" in real.text and len(real.grids) == 1
    assert f"| soft (ours) | 0 | {tmp_path}/soft/seed0/robotcar_seasons/RobotCar_eval_softloc-soft-seed0.txt |" in \
        real.grids[0].markdown()
