"""softloc.data.pittsburgh on the real Pittsburgh 250k test lists (/work/shared/data)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from softloc import io
from softloc.data import pittsburgh
from softloc.schemas import SPLIT_IMAGES

# The shared data folder sits beside the checkout (../shared/data); SOFTLOC_SHARED_DATA overrides it.
SHARED = Path(os.environ.get("SOFTLOC_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
LISTS = SHARED / "pitts250k_test_lists.mat"
if not LISTS.exists():
    LISTS = Path("/work/shared/data/pitts250k_test_lists.mat")
needs_lists = pytest.mark.skipif(not LISTS.exists(), reason=f"{LISTS} not on this machine")


@pytest.fixture(scope="module")
def lists():
    return pittsburgh.read_lists(LISTS)


@needs_lists
def test_counts_names_and_positions(lists) -> None:
    reference, queries = lists
    assert (len(reference), len(queries)) == (254_064, 24_000)
    assert reference["path"].iloc[0] == "000/000000_pitch1_yaw1.jpg"
    assert queries["path"].iloc[0] == "000/000015_pitch1_yaw1.jpg"
    for table in (reference, queries):
        # Downtown Pittsburgh, PA (UTM 17T).
        assert table["latitude"].between(40.40, 40.49).all()
        assert table["longitude"].between(-80.05, -79.94).all()
        assert table["easting"].between(580_000, 590_000).all()
        assert table["northing"].between(4_470_000, 4_485_000).all()
        assert set(table["pitch"]) == {1, 2}
        assert set(table["yaw_index"]) == set(range(1, 13))
    # 24 views (2 pitches x 12 yaws) share each panorama's position.
    assert reference.groupby(["easting", "northing"]).size().median() == 24


@needs_lists
def test_split_tables(lists, tmp_path: Path) -> None:
    reference, queries = pittsburgh.to_split_tables(*lists)
    assert list(reference.columns) == list(SPLIT_IMAGES)
    assert len(queries) == 12_000                                  # pitch 1 only
    assert reference["path"].str.contains("_pitch1_").all()
    assert set(reference["traversal"]) == {"pittsburgh-db"} and set(queries["traversal"]) == {"pittsburgh-query"}
    assert (reference["timestamp"] == reference["image_id"]).all()
    assert reference["yaw"].isna().all()
    # Every kept reference lies within 100 m of a query; the far ones are dropped.
    places = np.unique(queries[["easting", "northing"]].to_numpy(), axis=0)     # brute force over places
    ref_xy = reference[["easting", "northing"]].to_numpy()
    distance = np.min(np.hypot(*(ref_xy[:, None, :] - places[None, :, :]).transpose(2, 0, 1)), axis=1)
    assert distance.max() <= 100.0 + 1e-6
    assert 0 < len(reference) < 254_064 // 2
    everything, _ = pittsburgh.to_split_tables(*lists, pitch=None, max_reference_distance_m=None)
    assert len(everything) == 254_064
    io.write_parquet(reference, tmp_path / "ref.parquet", SPLIT_IMAGES)
    back = io.read_parquet(tmp_path / "ref.parquet", SPLIT_IMAGES)
    assert back["path"].tolist() == reference["path"].tolist()


def test_missing_file_and_fields_are_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nowhere.mat"):
        pittsburgh.read_lists(tmp_path / "nowhere.mat")
    names = np.empty((2, 1), dtype=object)
    names[0, 0], names[1, 0] = np.array(["000/000000_pitch1_yaw1.jpg"]), np.array(["000/000000_pitch2_yaw7.jpg"])
    utm = np.array([[585200.0, 585200.0], [4477241.0, 4477241.0]])
    partial = tmp_path / "partial.mat"
    scipy.io.savemat(partial, {"dbImageFns": names, "utmDb": utm, "qImageFns": names})
    with pytest.raises(ValueError, match=r"partial.mat: missing field 'utmQ'"):
        pittsburgh.read_lists(partial)
    scipy.io.savemat(partial, {"dbImageFns": names, "utmDb": utm, "qImageFns": names, "utmQ": utm[:, :1]})
    with pytest.raises(ValueError, match=r"'utmQ' has shape \(2, 1\), expected \(2, 2\)"):
        pittsburgh.read_lists(partial)
    good = tmp_path / "good.mat"
    scipy.io.savemat(good, {"dbImageFns": names, "utmDb": utm, "qImageFns": names, "utmQ": utm})
    reference, _ = pittsburgh.read_lists(good)
    assert reference["pitch"].tolist() == [1, 2] and reference["yaw_index"].tolist() == [1, 7]
    bad_names = names.copy()
    bad_names[1, 0] = np.array(["000/000000.jpg"])
    scipy.io.savemat(good, {"dbImageFns": bad_names, "utmDb": utm, "qImageFns": names, "utmQ": utm})
    with pytest.raises(ValueError, match=r"'dbImageFns' row 1 '000/000000.jpg'"):
        pittsburgh.read_lists(good)


@needs_lists
def test_pittsburgh_split_command_writes_schema_checked_tables(tmp_path) -> None:
    from pipeline import pittsburgh as command

    command.main(["--mat", str(LISTS), "--out", str(tmp_path)])
    reference = io.read_parquet(tmp_path / "test_reference.parquet", SPLIT_IMAGES)
    queries = io.read_parquet(tmp_path / "test_queries.parquet", SPLIT_IMAGES)
    counts = json.loads((tmp_path / "counts.json").read_text())
    assert counts["references_in_file"] == 254_064 and counts["queries_in_file"] == 24_000
    assert counts["references_kept"] == len(reference) > 0 and counts["queries_kept"] == len(queries) > 0
    assert counts["references_kept"] + counts["references_dropped_beyond_max_distance_or_other_pitch"] == 254_064
