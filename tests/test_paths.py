"""Test-set inputs: image paths stay inside their root and are listed once (softloc.datasets.paths),
positions are plausible for their zone (softloc.datasets.positions), grey images are dropped and
counted (softloc.datasets.seam.drop_grayscale)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from softloc import geometry
from softloc import datasets
from softloc.datasets.paths import check_inside
from softloc.datasets.positions import implausible, latlon_disagreement_m


def describe(i: int) -> str:
    return f"list.txt row {i}"


def write_image(path: Path, mode: str = "RGB") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, (8, 6), {"L": 128, "LA": (128, 255)}.get(mode, (10, 200, 30))).save(path)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    images = tmp_path / "disk" / "images"
    for name in ("a/1.jpg", "a/2.jpg", "b/3.jpg"):
        write_image(images / name)
    write_image(tmp_path / "secret.jpg")
    os.symlink(images, tmp_path / "link_to_images")         # the root itself may be a symlink
    os.symlink(images / "a" / "1.jpg", images / "b" / "inside.jpg")
    os.symlink(tmp_path / "secret.jpg", images / "b" / "outside.jpg")
    os.symlink(tmp_path, images / "up")
    return tmp_path


def test_paths_inside_the_root_pass_symlinks_inside_included(root: Path) -> None:
    for images in (root / "disk" / "images", root / "link_to_images"):
        check_inside(images, ["a/./2.jpg", "b/../b/3.jpg", "b/inside.jpg", "missing/not_yet.jpg"], describe)


@pytest.mark.parametrize("path", ["../../secret.jpg", "b/outside.jpg", "up/secret.jpg", "a/../../../secret.jpg",
                                  "/etc/hostname"])
def test_a_path_leading_out_of_the_root_names_its_row(root: Path, path: str) -> None:
    with pytest.raises(ValueError, match=rf"list.txt row 1: image path '{path}' resolves to \S+, outside the image root"):
        check_inside(root / "link_to_images", ["a/1.jpg", path], describe)


def test_two_rows_of_one_file_name_both_rows(root: Path) -> None:
    with pytest.raises(ValueError, match=r"list.txt row 2: image path 'a/./1.jpg' is the file of list.txt row 0 again"):
        check_inside(root / "disk" / "images", ["a/1.jpg", "a/2.jpg", "a/./1.jpg"], describe)
    with pytest.raises(ValueError, match=r"row 1: image path 'b/inside.jpg' is the file of list.txt row 0"):
        check_inside(root / "disk" / "images", ["a/1.jpg", "b/inside.jpg"], describe)


def test_grey_images_are_dropped_counted_and_ids_renumbered(tmp_path: Path) -> None:
    for name, mode in (("r0.jpg", "RGB"), ("r1.png", "L"), ("r2.jpg", "RGB"), ("q0.jpg", "RGB"), ("q1.png", "LA")):
        write_image(tmp_path / name, mode)
    reference = datasets.testset_table({"path": np.array(["r0.jpg", "r1.png", "r2.jpg"], dtype=object)}, 3)
    queries = datasets.testset_table({"path": np.array(["q0.jpg", "q1.png"], dtype=object)}, 2)
    split = datasets.drop_grayscale(datasets.TestSplit(reference, queries, {"queries": {"kept": 2, "dropped": {"other": 1}}}), tmp_path)
    assert split.reference["path"].tolist() == ["r0.jpg", "r2.jpg"] and split.reference["image_id"].tolist() == [0, 1]
    assert split.queries["path"].tolist() == ["q0.jpg"]
    assert split.counts == {"queries": {"kept": 1, "dropped": {"other": 1, "grayscale": 1}},
                            "reference": {"dropped": {"grayscale": 1}}}
    with pytest.raises(ValueError, match="gone.jpg: not a readable image"):
        datasets.drop_grayscale(datasets.TestSplit(datasets.testset_table({"path": np.array(["gone.jpg"], dtype=object)}, 1), queries), tmp_path)


def test_positions_implausible_for_their_zone() -> None:
    pittsburgh = np.array([584_000.0]), np.array([4_477_000.0])                      # 17T, 40.4 N
    assert implausible(*pittsburgh, (17, "T")).tolist() == [""]
    assert implausible(pittsburgh[1], pittsburgh[0], (17, "T"))[0].startswith("easting outside")   # swapped
    assert implausible(*pittsburgh, (17, "V"))[0].startswith("latitude outside band V")
    assert implausible(np.array([500_000.0]), np.array([9_800_000.0]), (17, "T"))[0].startswith("northing outside")
    brisbane = np.array([502_000.0]), np.array([6_960_000.0])                        # 56J, 27.5 S
    assert implausible(*brisbane, (56, "J")).tolist() == [""]
    assert implausible(np.array([502_000.0]), np.array([900_000.0]), (56, "J"))[0].startswith("northing outside")


def test_latlon_disagreement_in_metres() -> None:
    easting, northing = np.array([584_000.0, 584_000.0, 584_000.0, 584_000.0]), np.full(4, 4_477_000.0)
    latitude, longitude = geometry.utm_to_latlon(easting, northing, 17, "T")
    latitude[1] += 0.001                      # about 111 m north
    latitude[2] = np.nan                      # no stated position: not compared
    longitude[3] = 200.0                      # no WGS84 longitude
    off = latlon_disagreement_m(easting, northing, latitude, longitude, (17, "T"))
    assert off[0] < 0.01 and 105 < off[1] < 116 and np.isnan(off[2]) and off[3] == np.inf
    assert latlon_disagreement_m(easting[:1], northing[:1], latitude[:1], longitude[:1], (18, "T"))[0] > 100_000
