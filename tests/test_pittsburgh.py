"""Pittsburgh 250k lists: the real flat list file (tests/fixtures/pittsburgh), NetVLAD's dbStruct layout,
the UTM row order, and the test-set format softloc.datasets.pittsburgh with the paper's protocol."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.io

from softloc import io
from softloc.datasets.formats import pittsburgh_mat as pittsburgh
from softloc.datasets import pittsburgh as pittsburgh_format
from softloc.schemas import TESTSET_IMAGES

from conftest import params_testset

# The real list file ships in the repository (tests/fixtures/pittsburgh/README.md: source, licence).
LISTS = Path(__file__).resolve().parent / "fixtures" / "pittsburgh" / "pitts250k_test_lists.mat"


@pytest.fixture(scope="module")
def lists():
    return pittsburgh.read_lists(LISTS)


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


def test_missing_file_and_fields_are_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nowhere.mat: list file not found"):
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


# The counts the README states for the real list file under the paper's protocol.
REAL_COUNTS = {
    "reference": {"read": 254_064, "dropped": {"other_pitch": 127_032, "beyond_max_reference_distance": 108_444},
                  "kept": 18_588},
    "queries": {"read": 24_000, "dropped": {"other_pitch": 12_000}, "kept": 12_000},
}


def test_format_applies_the_papers_protocol_to_the_real_list(tmp_path: Path) -> None:
    split = pittsburgh_format.read_split(params_testset("pittsburgh", split=str(LISTS), images="pitts250k"))
    assert {k: split.counts[k] for k in REAL_COUNTS} == REAL_COUNTS
    assert split.counts["layout"] == "flat" and split.counts["utm_order"] == "easting_northing"
    reference, queries = split.reference, split.queries
    assert list(reference.columns) == list(TESTSET_IMAGES) and list(queries.columns) == list(TESTSET_IMAGES)
    assert reference["path"].str.fullmatch(r"\d{3}/\d{6}_pitch1_yaw\d{1,2}\.jpg").all()
    assert queries["path"].str.fullmatch(r"queries_real/\d{3}/\d{6}_pitch1_yaw\d{1,2}\.jpg").all()
    assert set(reference["utm_zone"]) == {"17T"} and set(queries["condition"]) == {"pittsburgh"}
    assert (reference["image_id"] == np.arange(len(reference))).all()
    # Every kept reference lies within 100 m of a query (KD-tree against brute force on a sample).
    sample = reference.sample(500, random_state=0)[["easting", "northing"]].to_numpy()
    places = np.unique(queries[["easting", "northing"]].to_numpy(), axis=0)
    assert np.min(np.linalg.norm(sample[:, None] - places[None], axis=2), axis=1).max() <= 100.0
    io.write_parquet(reference, tmp_path / "reference.parquet", TESTSET_IMAGES)     # the schema holds
    assert io.read_parquet(tmp_path / "reference.parquet", TESTSET_IMAGES)["path"].tolist() == reference["path"].tolist()


def _tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two panoramas 150 m apart (24 views each) and one query panorama beside the first."""
    def views(pano: int, easting: float, northing: float, prefix: str = "") -> pd.DataFrame:
        names = [f"{prefix}{pano // 1000:03d}/{pano:06d}_pitch{p}_yaw{y}.jpg" for p in (1, 2) for y in range(1, 13)]
        return pd.DataFrame({"path": names, "easting": easting, "northing": northing})
    reference = pd.concat([views(0, 585_000.0, 4_477_000.0), views(1, 585_150.0, 4_477_000.0)], ignore_index=True)
    return reference, views(7, 585_003.0, 4_477_004.0)


@pytest.mark.parametrize("layout", ["flat", "dbStruct"])
@pytest.mark.parametrize("stored", ["easting_northing", "northing_easting"])
def test_both_layouts_and_row_orders_give_the_same_split(tmp_path: Path, layout: str, stored: str) -> None:
    reference, queries = _tables()
    path = tmp_path / f"{layout}.mat"
    pittsburgh.write_lists(path, reference, queries, layout=layout, utm_order=stored)
    lists = pittsburgh.read_mat(path)
    assert (lists.layout, lists.utm_order) == (layout, stored)          # detected, not assumed
    if layout == "dbStruct":
        assert lists.info == {"whichSet": "test", "numImages": 48.0, "numQueries": 24.0, "posDistThr": 25.0,
                              "posDistSqThr": 625.0, "nonTrivPosDistSqThr": 100.0}
    np.testing.assert_array_equal(lists.reference[["easting", "northing"]], reference[["easting", "northing"]])
    split = pittsburgh_format.read_split(params_testset("pittsburgh", split=str(path), images=str(tmp_path)))
    # Pitch 2 and the panorama 150 m from the only query are dropped and counted.
    assert split.counts["reference"] == {"read": 48, "dropped": {"other_pitch": 24, "beyond_max_reference_distance": 12},
                                         "kept": 12}
    assert split.reference["path"].tolist() == [f"000/000000_pitch1_yaw{y}.jpg" for y in range(1, 13)]
    assert split.queries["path"].iloc[0] == "queries_real/000/000007_pitch1_yaw1.jpg"
    assert split.queries["latitude"].between(40.43, 40.45).all()        # downtown Pittsburgh
    everything = pittsburgh_format.read_split(params_testset("pittsburgh", split=str(path), images=str(tmp_path), pitch=None,
                                                      max_reference_distance_m=None, queries_dir=""))
    assert len(everything.reference) == 48 and everything.queries["path"].iloc[0] == "000/000007_pitch1_yaw1.jpg"


def test_utm_order_is_never_guessed(tmp_path: Path) -> None:
    reference, queries = _tables()
    path = tmp_path / "lists.mat"
    pittsburgh.write_lists(path, reference, queries, layout="dbStruct", utm_order="northing_easting")
    with pytest.raises(ValueError, match="utm_order is easting_northing but the values say northing_easting"):
        pittsburgh.read_mat(path, "easting_northing")
    # A local metric frame (both rows small): auto cannot tell and says so; an explicit order is taken.
    local = [t.assign(easting=t["easting"] - 584_000.0, northing=t["northing"] - 4_476_000.0) for t in (reference, queries)]
    pittsburgh.write_lists(path, *local, layout="dbStruct", utm_order="northing_easting")
    with pytest.raises(ValueError, match=r"cannot tell whether the UTM rows .* set utm_order"):
        pittsburgh.read_mat(path)
    lists = pittsburgh.read_mat(path, "northing_easting")
    np.testing.assert_array_equal(lists.reference["easting"], local[0]["easting"])
    with pytest.raises(ValueError, match="utm_order must be auto"):
        pittsburgh.read_mat(path, "xy")


def test_names_without_views_need_pitch_null(tmp_path: Path) -> None:
    reference, queries = _tables()
    reference.loc[3, "path"] = "000/000000.jpg"
    path = tmp_path / "lists.mat"
    pittsburgh.write_lists(path, reference, queries)
    with pytest.raises(ValueError, match=r"'dbImageFns' row 3 '000/000000.jpg' does not end in _pitch<P>_yaw<Y>"):
        pittsburgh_format.read_split(params_testset("pittsburgh", split=str(path), images=str(tmp_path)))
    split = pittsburgh_format.read_split(params_testset("pittsburgh", split=str(path), images=str(tmp_path), pitch=None))
    assert split.counts["reference"]["dropped"] == {"beyond_max_reference_distance": 24}
    with pytest.raises(ValueError, match=r"(?s)utm_zone.*a UTM zone: number 1-60"):   # zone 99: the CONFIG type rejects it
        pittsburgh_format.read_split(params_testset("pittsburgh", split=str(path), images=str(tmp_path), pitch=None, utm_zone="99T"))
