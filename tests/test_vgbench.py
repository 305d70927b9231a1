"""VG-benchmark folders (softloc.datasets.vgbench): names parsed with empty fields, malformed names
named or counted, the reader agrees with a NetVLAD dbStruct list over the same images, and one
method is evaluated end to end on such a folder (store, features, PCA, top-k, recall@N)."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from softloc.datasets.formats import pittsburgh_mat as pittsburgh
from softloc.synthetic import pittsburgh_world as synthetic_pittsburgh
from softloc.datasets import get
from softloc.datasets import pittsburgh as pittsburgh_format
from softloc.datasets import vgbench
from softloc.features import Whitening, extract_features
from softloc.imagestore import build_store, open_store
from softloc.metrics import accuracy_at, recall_at_n, retrieval_errors
from softloc.models import build_network, preprocess
from softloc.pca import fit_pca
from softloc.retrieval import search_topk

from conftest import params_testset
from softloc.config import Model

N_COPIES = 4   # queries that are byte copies of reference views: their top-1 must be that view


def vg_name(easting: float, northing: float, zone: tuple[str, str] = ("17", "T"), pano: str = "",
            heading: str = "", note: str = "") -> str:
    """A benchmark file name; positions written with repr() so they parse back exactly."""
    fields = [repr(float(easting)), repr(float(northing)), *zone, "", "", pano, "", heading, "", "", "", "", note]
    return "@" + "@".join(fields) + "@.jpg"


def test_parse_name_fields_and_malformed_names() -> None:
    full = "@585003.5@4477004.25@17@T@40.4395@-79.9968@pano7@3@271.5@0@0@260@201311@night@.jpg"
    assert vgbench.parse_name(full) == {"easting": 585003.5, "northing": 4477004.25, "utm_zone": "17T",
                                        "latitude": 40.4395, "longitude": -79.9968, "yaw": 271.5}
    sparse = vgbench.parse_name("@1.0@2.0@@@@@@@@@@@@@.png")
    assert sparse["utm_zone"] == "" and math.isnan(sparse["yaw"]) and math.isnan(sparse["latitude"])
    for name, why in [("@1@2@17@T@.jpg", "expected 14 @-separated fields"),
                      ("photo.jpg", "expected 14 @-separated fields"),
                      ("@@2@17@T@@@@@@@@@@@.jpg", "field utm_east is empty"),
                      ("@x@2@17@T@@@@@@@@@@@.jpg", "field utm_east is 'x', not a number"),
                      ("@1@nan@17@T@@@@@@@@@@@.jpg", "not a finite number"),
                      ("@1@2@17@@@@@@@@@@@@.jpg", "give both or neither"),
                      ("@1@2@75@T@@@@@@@@@@@.jpg", "not a UTM zone")]:
        with pytest.raises(vgbench.MalformedName, match=why):
            vgbench.parse_name(name)


@pytest.fixture(scope="module")
def vg_folder(tiny_pittsburgh: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame, pd.DataFrame]:
    """The tiny Pittsburgh set's pitch-1 views renamed into a benchmark folder <root>/images/test,
    plus N_COPIES queries that copy reference views (named 3 m east of them)."""
    split = pittsburgh_format.read_split(params_testset("pittsburgh", split=str(tiny_pittsburgh / synthetic_pittsburgh.LIST_FILE),
                                                 images=str(tiny_pittsburgh)))
    root = tmp_path_factory.mktemp("vg") / "images" / "test"
    rows = {"database": [], "queries": []}
    copies = split.reference.iloc[np.linspace(0, len(split.reference) - 1, N_COPIES).astype(int)]
    sources = [("database", split.reference, 0.0, ""), ("queries", split.queries, 0.0, ""),
               ("queries", copies, 3.0, "copy")]
    for folder, table, shift, note in sources:
        (root / folder).mkdir(parents=True, exist_ok=True)
        for row in table.itertuples():
            name = vg_name(row.easting + shift, row.northing, pano=Path(row.path).stem, note=note)
            shutil.copyfile(tiny_pittsburgh / row.path, root / folder / name)
            rows[folder].append({"name": name, "easting": row.easting + shift, "northing": row.northing})
    (root / "database" / "README.txt").write_text("not an image")
    tables = {k: pd.DataFrame(v).sort_values("name", ignore_index=True) for k, v in rows.items()}
    return root, tables["database"], tables["queries"]


def test_vgbench_and_dbstruct_readers_agree_on_the_same_images(vg_folder, tmp_path: Path) -> None:
    root, database, queries = vg_folder
    vg = get("vgbench").read_split(params_testset("vgbench", split=str(root), images=str(root), condition="tiny"))
    assert vg.counts["reference"] == {"files": len(database) + 1, "ignored_not_images": 1,
                                      "dropped": {"malformed_name": 0}, "kept": len(database)}
    mat = tmp_path / "tiny_test.mat"
    pittsburgh.write_lists(mat, database.assign(path="database/" + database["name"]),
                           queries.assign(path=queries["name"]), layout="dbStruct")
    db = get("pittsburgh").read_split(params_testset("pittsburgh", split=str(mat), images=str(root), queries_dir="queries", pitch=None,
                                              max_reference_distance_m=None, condition="tiny", utm_zone="17T"))
    pd.testing.assert_frame_equal(vg.reference, db.reference)
    pd.testing.assert_frame_equal(vg.queries, db.queries)
    assert vg.reference["path"].iloc[0].startswith("database/@") and vg.queries["path"].iloc[0].startswith("queries/@")
    for path in (vg.reference["path"].iloc[0], vg.queries["path"].iloc[-1]):
        np.testing.assert_array_equal(vgbench.load_image(root / path), pittsburgh_format.load_image(root / path))
    # Paths are relative to `images`, which may be a parent of the split folder.
    parent = vgbench.read_split(params_testset("vgbench", split=str(root), images=str(root.parent.parent), condition="tiny"))
    assert parent.reference["path"].iloc[0] == "images/test/" + vg.reference["path"].iloc[0]


def test_malformed_names_stop_the_read_or_are_counted(tmp_path: Path) -> None:
    root = tmp_path / "set"
    for folder in ("database", "queries"):
        (root / folder).mkdir(parents=True)
        (root / folder / vg_name(585_000.0, 4_477_000.0)).write_bytes(b"")
    (root / "queries" / "IMG_0001.jpg").write_bytes(b"")
    cfg = {"split": str(root), "images": str(root), "condition": "tiny"}
    with pytest.raises(ValueError, match=r"queries/IMG_0001.jpg: malformed benchmark file name: expected 14"):
        vgbench.read_split(params_testset("vgbench", **cfg))
    split = vgbench.read_split(params_testset("vgbench", **cfg, malformed="drop"))
    assert split.counts["queries"]["dropped"] == {"malformed_name": 1}
    assert split.counts["queries"]["malformed_examples"] == ["IMG_0001.jpg"] and len(split.queries) == 1
    (root / "queries" / vg_name(585_000.0, 4_477_000.0, zone=("18", "T"))).write_bytes(b"")
    with pytest.raises(ValueError, match=r"several UTM zones \['17T', '18T'\]"):
        vgbench.read_split(params_testset("vgbench", **cfg, malformed="drop"))
    with pytest.raises(ValueError, match=r"condition\n  Field required"):   # the format's model: condition is missing
        vgbench.read_split(params_testset("vgbench", split=str(root), images=str(root)))
    with pytest.raises(ValueError, match="is not inside images"):
        vgbench.read_split(params_testset("vgbench", **{**cfg, "images": str(tmp_path / "elsewhere")}))
    with pytest.raises(FileNotFoundError, match="database: no such folder"):
        vgbench.read_split(params_testset("vgbench", **{**cfg, "split": str(tmp_path), "images": str(tmp_path)}))


def test_one_method_end_to_end_on_a_vgbench_folder(vg_folder, tmp_path: Path) -> None:
    root, _, _ = vg_folder
    cfg = params_testset("vgbench", split=str(root), images=str(root), condition="tiny")   # store_aspect default [4, 3]
    split = vgbench.read_split(cfg)
    stores = {}
    for name, table in (("reference", split.reference), ("queries", split.queries)):
        shape = build_store([root / p for p in table["path"]], tmp_path / f"{name}.npy", 48,
                            load=vgbench.store_loader(cfg, 48), workers=1)
        assert shape == (len(table), 36, 48, 3)
        stores[name] = open_store(tmp_path / f"{name}.npy")
    net = build_network(Model(backbone="small", clusters=8, small_channels=[8, 16, 32, 32], image_max_side=48), 0)
    cpu = torch.device("cpu")
    raw = extract_features(net, stores["reference"], preprocess, batch_size=64, device=cpu)
    whitening = Whitening(fit_pca(raw, dim=32, eps=1e-9))                 # PCA fitted on the references
    features = {name: extract_features(net, store, preprocess, batch_size=64, device=cpu, whitening=whitening)
                for name, store in stores.items()}
    topk, squared = search_topk(features["reference"], features["queries"], 20)
    reference_xy = split.reference[["easting", "northing"]].to_numpy()
    query_xy = split.queries[["easting", "northing"]].to_numpy()
    recall = recall_at_n(np.linalg.norm(reference_xy[topk] - query_xy[:, None], axis=2), [1, 5, 10, 20], 25.0)
    assert recall["at_01"] <= recall["at_05"] <= recall["at_10"] <= recall["at_20"] <= 1.0
    assert recall["at_01"] == accuracy_at(retrieval_errors(reference_xy, query_xy, topk[:, 0]), 25.0)
    # The copies (note field "copy") retrieve the very view they copy, at feature distance ~0.
    copies = np.flatnonzero(split.queries["path"].str.endswith("@copy@.jpg").to_numpy())
    assert len(copies) == N_COPIES
    pano = lambda path: Path(path).name.split("@")[7]   # noqa: E731 - the view's own name, unique per view
    for q in copies:
        assert pano(split.reference["path"].iloc[topk[q, 0]]) == pano(split.queries["path"].iloc[q])
        assert squared[q, 0] < 1e-6
