"""The embedded Pittsburgh-format set (softloc.synthetic.pittsburgh_world): the real layout, a list
file the real reader reads, the two pitches' geometry, and byte-identical output on any core count."""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from softloc.datasets.formats import pittsburgh_mat as pittsburgh
from softloc.synthetic import pittsburgh_world as synthetic_pittsburgh
from softloc.datasets import pittsburgh as pittsburgh_format

from conftest import TINY_PITTSBURGH, pittsburgh_world, params_testset


def test_layout_and_list_file_as_the_real_download(tiny_pittsburgh: Path) -> None:
    reference, queries = pittsburgh.read_lists(tiny_pittsburgh / synthetic_pittsburgh.LIST_FILE)
    assert len(reference) == 6 * 24 and len(queries) == 3 * 24
    assert reference["path"].iloc[:2].tolist() == ["000/000000_pitch1_yaw1.jpg", "000/000000_pitch1_yaw2.jpg"]
    for table, folder in ((reference, tiny_pittsburgh), (queries, tiny_pittsburgh / "queries_real")):
        assert table["path"].str.fullmatch(r"\d{3}/\d{6}_pitch[12]_yaw\d{1,2}\.jpg").all()
        assert all((folder / p).is_file() for p in table["path"])
        assert table.groupby(["easting", "northing"]).size().eq(24).all()     # 24 views share a place
        assert table["latitude"].between(40.40, 40.49).all() and table["longitude"].between(-80.05, -79.94).all()
    assert sorted(p.name for p in tiny_pittsburgh.iterdir()) == ["000", synthetic_pittsburgh.LIST_FILE, "queries_real"]
    view = cv2.imread(str(tiny_pittsburgh / reference["path"].iloc[0]), cv2.IMREAD_UNCHANGED)
    assert view.shape == (48, 64, 3)
    # References every 15 m along the route; each query place within 3 m of the centreline, so
    # within sqrt(7.5^2 + 5^2) m of its nearest reference place.
    places = reference[["easting", "northing"]].drop_duplicates().to_numpy()
    assert np.allclose(np.linalg.norm(np.diff(places, axis=0), axis=1), 15.0, atol=1.5)
    query_places = queries[["easting", "northing"]].drop_duplicates().to_numpy()
    nearest = np.linalg.norm(query_places[:, None] - places[None], axis=2).min(axis=1)
    assert nearest.max() <= np.hypot(7.5, 5.0)


def test_pitch_two_looks_up_from_pitch_one(tiny_pittsburgh: Path) -> None:
    """Both pitches come from one render: pitch 2's lower half is pitch 1's upper half."""
    for pano in range(3):
        for yaw in (1, 7):
            one, two = (cv2.imread(str(tiny_pittsburgh / f"000/{pano:06d}_pitch{p}_yaw{yaw}.jpg")).astype(int)
                        for p in (1, 2))
            assert np.abs(two[24:] - one[:24]).mean() < 6.0       # same pixels up to JPEG loss
            assert np.abs(two[:24] - one[24:]).mean() > 20.0      # sky above vs road below


def test_same_params_same_bytes_on_any_core_count(tiny_pittsburgh: Path, tmp_path: Path) -> None:
    synthetic_pittsburgh.write_pittsburgh(TINY_PITTSBURGH, tmp_path, workers=2)

    def digest(root: Path) -> dict[str, str]:
        return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(root.rglob("*")) if p.is_file()}

    assert digest(tmp_path) == digest(tiny_pittsburgh)


def test_the_protocol_on_the_embedded_set(tiny_pittsburgh: Path) -> None:
    split = pittsburgh_format.read_split(params_testset("pittsburgh", split=str(tiny_pittsburgh / synthetic_pittsburgh.LIST_FILE),
                                                 images=str(tiny_pittsburgh)))
    assert split.counts["queries"] == {"read": 72, "dropped": {"other_pitch": 36}, "kept": 36}
    assert split.counts["reference"]["dropped"]["other_pitch"] == 72


def test_unknown_keys_and_conditions_are_errors() -> None:
    with pytest.raises(ValueError, match=r"route_length\n  Extra inputs are not permitted"):   # the section's model
        pittsburgh_world(route_length=100)
    with pytest.raises(ValueError, match="unknown condition 'fog'"):
        synthetic_pittsburgh.check_conditions(pittsburgh_world(query_condition="fog"))
