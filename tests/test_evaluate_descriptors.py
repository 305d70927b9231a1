"""`softloc evaluate-descriptors` end to end on the tiny synthetic Pittsburgh set: planted
descriptors give the accuracy computed here by hand (positions as descriptors: the upper bound),
with intervals, recall@N, the table and JSON; bad descriptor files are errors naming the file."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import params_testset
from softloc import cli
from softloc.datasets import pittsburgh as pittsburgh_format
from softloc.io import write_parquet
from softloc.schemas import TESTSET_IMAGES
from softloc.synthetic import pittsburgh_world as synthetic_pittsburgh

ROOT = Path(__file__).resolve().parents[1]
THRESHOLDS = (5, 10, 15)


@pytest.fixture(scope="module")
def project(tiny_pittsburgh: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, pd.DataFrame]]:
    """A project root with params.yaml (1 m bootstrap blocks: one per query place) and the built
    lists of test set `tiny`, as the testset stage writes them."""
    root = tmp_path_factory.mktemp("project")
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["report"]["bootstrap"].update(block_m=1.0, resamples=200)
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    cfg = params_testset("pittsburgh", split=str(tiny_pittsburgh / synthetic_pittsburgh.LIST_FILE), images=str(tiny_pittsburgh))
    split = pittsburgh_format.read_split(cfg)
    tables = {"reference": split.reference, "queries": split.queries}
    for name, table in tables.items():
        write_parquet(table, root / "data" / "testsets" / "tiny" / f"{name}.parquet", TESTSET_IMAGES)
    return root, tables


def xy(table: pd.DataFrame) -> np.ndarray:
    return table[["easting", "northing"]].to_numpy(np.float64)


def write(folder: Path, name: str, array: np.ndarray) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / name, array)
    return str(folder / name)


def evaluate(root: Path, reference: str, queries: str, *extra: str) -> int:
    return cli.main(["evaluate-descriptors", "--testset", "tiny", "--reference", reference, "--queries", queries,
                     "--root", str(root), *extra])


def test_planted_descriptors_give_the_accuracy_computed_by_hand(project, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture) -> None:
    root, tables = project
    ref_xy, query_xy = xy(tables["reference"]), xy(tables["queries"])
    origin = ref_xy.mean(axis=0)
    # each query described by the position of another query place: it retrieves the reference
    # nearest that place, metres away from its own
    places, place_of = np.unique(query_xy, axis=0, return_inverse=True)
    target = places[(place_of.ravel() + 1) % len(places)]
    top1 = np.argmin(np.linalg.norm(ref_xy[None] - target[:, None], axis=2), axis=1)
    errors = np.linalg.norm(ref_xy[top1] - query_xy, axis=1)
    nearest = np.linalg.norm(ref_xy[None] - query_xy[:, None], axis=2).min(axis=1)
    reference = write(tmp_path, "reference.npy", (ref_xy - origin).astype(np.float32))
    status = evaluate(root, reference, write(tmp_path, "queries.npy", (target - origin).astype(np.float64)), "--json")
    assert status == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n_reference"] == 72 and result["n_queries"] == {"pittsburgh": 36} and result["dim"] == 2
    for d in THRESHOLDS:
        key = f"at_{d:02d}m"
        cell = result["accuracy"][key]["mean"]
        assert cell["estimate"] == pytest.approx(100 * np.mean(errors <= d), abs=0.01)
        assert cell["low"] <= cell["estimate"] <= cell["high"]
        assert result["upper_bound"][key]["mean"] == pytest.approx(100 * np.mean(nearest <= d), abs=0.01)
    assert 0 < result["accuracy"]["at_15m"]["mean"]["estimate"] < 100   # a real mix: the interval has width
    assert result["accuracy"]["at_15m"]["mean"]["high"] > result["accuracy"]["at_15m"]["mean"]["low"]
    assert result["recall"]["at_01"] == pytest.approx(100 * np.mean(errors <= 25), abs=0.01)
    assert result["intervals"]["block_m"] == 1.0 and result["files"]["reference"] == reference

    # positions as descriptors: every query retrieves its nearest reference, the upper bound
    status = evaluate(root, reference, write(tmp_path, "exact.npy", (query_xy - origin).astype(np.float32)))
    assert status == 0
    printed = capsys.readouterr().out
    bound = {d: 100 * np.mean(nearest <= d) for d in THRESHOLDS}
    mean_row = next(line for line in printed.splitlines() if line.startswith("mean "))
    assert [float(v) for v in mean_row.split()[2::3]] == pytest.approx([bound[d] for d in THRESHOLDS], abs=0.05)
    assert "tiny: 72 references, 36 queries" in printed and "block bootstrap over 1 m cells" in printed
    assert "recall@N within 25 m (%): @1 " in printed


@pytest.mark.parametrize("bad, message", [
    (lambda a: a[:-1], r"queries_bad\.npy: shape \(35, 2\); expected a \(36, D\) floating-point array: one row per row "
                       r"of .*tiny/queries\.parquet \(the test set's queries list, in its order\)"),
    (lambda a: a.astype(np.int64), r"queries_bad\.npy: dtype int64; expected a \(36, D\)"),
    (lambda a: np.where(np.arange(36)[:, None] == 7, np.nan, a), r"queries_bad\.npy: 1 rows hold NaN or infinity .* the first row 7"),
    (lambda a: a[:, :1], r"descriptor sizes differ: references 2-d, queries 1-d"),
], ids=["row_count", "dtype", "nan", "dims"])
def test_bad_descriptor_files_are_errors_naming_the_file(project, tmp_path: Path, capsys: pytest.CaptureFixture,
                                                         bad, message: str) -> None:
    root, tables = project
    reference = write(tmp_path, "reference.npy", xy(tables["reference"]).astype(np.float32) - 5e5)
    queries = write(tmp_path, "queries_bad.npy", bad(xy(tables["queries"]).astype(np.float32) - 5e5))
    assert evaluate(root, reference, queries) == 2
    err = capsys.readouterr().err
    assert err.startswith("softloc evaluate-descriptors: error: ") and len(err.strip().splitlines()) == 1
    assert re.search(message, err), err


def test_an_unknown_test_set_lists_the_built_ones(project, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    root, _ = project
    status = cli.main(["evaluate-descriptors", "--testset", "robotcar", "--reference", "r.npy", "--queries", "q.npy",
                       "--root", str(root)])
    assert status == 2 and "no built test set 'robotcar' (built: tiny)" in capsys.readouterr().err
