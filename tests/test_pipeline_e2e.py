"""The whole DVC pipeline end to end on a tiny world, in a temporary copy of the project:
synthesize -> clean -> index -> imagestore -> testset -> train/features/evaluate (two methods,
one seed) -> report, then a second `dvc repro` that must run nothing."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from softloc.config import Synthetic
from softloc.synthetic import robotcar_world as synthetic

from conftest import TINY_PITTSBURGH

ROOT = Path(__file__).resolve().parents[1]
TINY_WORLD = {
    "seed": 1,
    "route_length_m": 400.0,
    "frame_spacing_m": 1.0,
    "image_width": 64,
    "image_height": 48,
    "traversals": [{"condition": "overcast", "runs": 2, "reverse": 0},
                   {"condition": "night", "runs": 1, "reverse": 0}],
    "faults": {"location_outlier": 1, "location_outlier_images": 2, "bad_ins": 1, "bad_ins_burst_s": 1.0,
               "nan_rows": 2, "underexposed": 1, "overexposed": 1, "unreadable_image": 1,
               "no_image_file": 1, "no_ins_coverage": 2},
    "png_compression": 1,
    "regions": {"val": [0.55, 0.67], "test": [0.75, 1.0]},
}


def tiny_params() -> dict:
    """The project's params.yaml shrunk to a world and schedule that run in about a minute."""
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["synthetic"] = TINY_WORLD
    params["synthetic_pittsburgh"].update(TINY_PITTSBURGH.model_dump())
    params["synthetic_seasons"].update(locations=2, location_length_m=4.0, queries_per_location=1, image_size=48,
                                       route_fractions=[0.8, 0.95])   # inside the tiny world's test part
    regions = synthetic.default_regions(Synthetic(**TINY_WORLD))
    params["split"]["test_region"], params["split"]["val_region"] = regions["test"], regions["val"]
    params["split"]["query_conditions"] = ["night", "overcast"]     # the tiny world's conditions
    params["model"].update(clusters=4, image_max_side=32, small_channels=[8, 8, 16, 16])
    params["train"].update(epochs=1, max_steps_per_epoch=3, batch_tuples=1, n_close=4, n_far=4,
                           init_images=40, val_max_queries=40, checkpoint_every_steps=2)
    params["train"]["mining"].update(cache_size=60, refresh_steps=2)
    params["methods"] = {"soft": params["methods"]["soft"], "offtheshelf": params["methods"]["offtheshelf"]}
    params["pca"].update(dim=16, fit_images=60)
    params["report"].update(variants=["soft"], influence_method="soft")
    return params


def project_copy(dest: Path) -> Path:
    """The project's tracked and unignored files in a fresh git repository at `dest`."""
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
                           cwd=ROOT, check=True, capture_output=True, text=True).stdout.split("\0")
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    git = ["git", "-c", "user.name=softloc tests", "-c", "user.email=tests@softloc.invalid"]
    subprocess.run(git + ["init", "-q"], cwd=dest, check=True)
    subprocess.run(git + ["add", "-A"], cwd=dest, check=True)
    subprocess.run(git + ["commit", "-q", "-m", "project copy"], cwd=dest, check=True)   # dvclive needs a HEAD
    return dest


def dvc(args: list[str], cwd: Path) -> str:
    """Run dvc with the test's Python first on PATH (the stages run `python -m pipeline.<stage>`)."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run([sys.executable, "-m", "dvc", *args], cwd=cwd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, f"dvc {' '.join(args)} failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return done.stdout + done.stderr


@pytest.mark.slow
def test_dvc_repro_end_to_end_on_a_tiny_world(tmp_path: Path) -> None:
    project = project_copy(tmp_path / "project")
    (project / "params.yaml").write_text(yaml.safe_dump(tiny_params(), sort_keys=False))

    dvc(["repro"], project)

    clean = json.loads((project / "reports/clean.json").read_text())
    assert clean["totals"]["kept"] > 0.9 * clean["totals"]["images"]
    for method in ("soft", "offtheshelf"):
        assert (project / f"models/{method}/seed0/model.pt").is_file()
        run = project / f"reports/eval/{method}/seed0/robotcar"
        metrics = json.loads((run / "metrics.json").read_text())
        assert sorted(metrics) == ["at_10m", "mean"] and sorted(metrics["mean"]) == ["at_05m", "at_10m", "at_15m"]
        assert sorted(metrics["at_10m"]) == ["night", "overcast"]
        assert all(0.0 <= v <= 100.0 for v in _numbers(metrics))
        summary = json.loads((run / "summary.json").read_text())
        for key in ("accuracy", "upper_bound"):
            values = list(_numbers(summary[key]))
            assert len(values) == 3 * 3 and all(0.0 <= v <= 1.0 for v in values)   # 3 thresholds x (night, overcast, mean)
        for d in ("at_05m", "at_10m", "at_15m"):
            assert summary["accuracy"][d]["mean"] <= summary["upper_bound"][d]["mean"]
        assert summary["n_queries"]["night"] > 0 and summary["n_queries"]["overcast"] > 0
        curves = pd.read_csv(run / "curves.csv")
        assert curves["d_m"].tolist() == list(range(0, 26))
        assert curves["mean"].between(0, 100).all() and (curves["mean"] <= curves["upper_bound_mean"] + 1e-9).all()
        assert curves["mean"].is_monotonic_increasing
        retrievals = pd.read_parquet(project / f"data/eval/{method}/seed0/robotcar/retrievals.parquet")
        assert len(retrievals) == sum(summary["n_queries"].values())
    pittsburgh = json.loads((project / "reports/eval/soft/seed0/pittsburgh/summary.json").read_text())
    assert list(pittsburgh["n_queries"]) == ["pittsburgh"] and set(pittsburgh["recall"]) == {"at_01", "at_05", "at_10", "at_20"}
    counts = json.loads((project / "reports/testsets/pittsburgh.json").read_text())
    assert counts["reference"]["dropped"]["other_pitch"] > 0      # the paper's protocol, counted
    table = (project / "reports/table1.md").read_text()
    assert "Soft contrastive" in table and "Off-the-shelf" in table and "pittsburgh" in table
    cells = [float(x) for x in re.findall(r"\b\d{1,3}\.\d\b", table)]
    assert cells and all(0.0 <= x <= 100.0 for x in cells)
    for figure in ("accuracy_curves.png", "influence_variants.png", "influence_functions.png", "training_curves.png"):
        assert (project / "reports/figures" / figure).stat().st_size > 10_000
    seasons = json.loads((project / "reports/eval/soft/seed0/seasons_synthetic/summary.json").read_text())
    table1_part, table2_part = table.split("Table 2", 1)
    assert seasons["n_queries"] and "seasons_synthetic" not in table1_part and "LOCAL RESULTS" in table2_part
    assert (project / "reports/seasons/soft/seed0/seasons_synthetic/RobotCar_eval_softloc-soft-seed0.txt").is_file()
    assert set(json.loads((project / "reports/seasons.json").read_text())["seasons_synthetic"]) == {"soft", "offtheshelf"}
    assert list((project / "reports/figure3").glob("*.png")) and (project / "reports/lists/train_images.csv").is_file()
    page = (project / "reports/index.html").read_text()
    assert "<table" in page and "Table 2" in page and "Figure 2" in page and "Figure 3" in page
    assert set(json.loads((project / "reports/metrics.json").read_text())) == {"soft", "offtheshelf"}

    again = dvc(["repro"], project)
    assert "Running stage" not in again, again


def _numbers(tree):
    """Every number in a nested JSON structure."""
    if isinstance(tree, dict):
        for value in tree.values():
            yield from _numbers(value)
    elif isinstance(tree, list):
        for value in tree:
            yield from _numbers(value)
    elif isinstance(tree, (int, float)):
        yield tree
