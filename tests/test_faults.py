"""No silent wrong result: one table of faults a hostile but fair user might commit, each injected
into an otherwise good input and run through the code the stage runs. Every fault must end in
an error naming the key (params) or the file (raw input), or in a counted reason in the clean
report; none may pass silently.

    stage "params"  an edit of the project's params.yaml, loaded by softloc.params.load_params
                    (what every stage calls first): ParamsError, one line naming the key
    stage "clean"   an edit of a small raw world in the RobotCar layout, cleaned by
                    softloc.clean.clean_dataset: an error naming the file, or a counted reason
    stage "index"   an edit of the clean stage's images table or the split params, split by
                    softloc.index.split_images: an error naming the param and the condition
    stage "testset" an edit of a small Pittsburgh-format list or benchmark (vgbench) folder with
                    its colour images, read as the testset stage does (read_split, then
                    drop_grayscale): an error naming the list row or file, or a counted drop
    stage "model"   a model.pt written by save_model, then damaged, read by load_model: an
                    error naming the file
    stage "cli"     a `softloc localize` command line: argparse's usage error naming the option
"""

from __future__ import annotations

import contextlib
import copy
import io
import os
import re
import shutil
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from PIL import Image

from softloc import cli, clean, datasets, geometry, index as tuples
from softloc.config import ParamsError, testset_model as entry_model
from softloc.datasets.formats import pittsburgh_mat
from softloc.models import build_network, load_model, save_model
from softloc.datasets.formats import robotcar_raw as robotcar
from softloc.config import Split
from softloc.params import load_params

sys.path.insert(0, str(Path(__file__).parent))
import test_tuples  # noqa: E402  (its hand-made images table and split params)

ROOT = Path(__file__).resolve().parents[1]
LR = re.search(r"^  lr: (\S+)", (ROOT / "params.yaml").read_text(), re.M).group(1)  # train.lr as params.yaml spells it
PARAMS_TEXT = (ROOT / "params.yaml").read_text()
PARAMS = yaml.safe_load(PARAMS_TEXT)
PROJECT = load_params(ROOT / "params.yaml")
CLEAN, MODEL = PROJECT.clean, PROJECT.model
T0 = 1_418_000_000_000_000
A, B, UNLISTED = "2014-12-01-10-00-00", "2014-12-02-10-00-00", "2014-12-05-10-00-00"
N_IMAGES = 20


@dataclass(frozen=True)
class Error:
    """The stage stops with an exception whose message matches `pattern` (names the key or file)."""

    pattern: str


@dataclass(frozen=True)
class Counted:
    """The stage goes on and its report counts the fault: report[section][key] == n (a dotted
    section walks into nested sections: "queries.dropped")."""

    section: str
    key: str
    n: int


@dataclass(frozen=True)
class Fault:
    name: str
    stage: str                      # params | clean | index | testset | model | cli
    inject: Callable[[Any], Any]    # params: dict -> dict or str; clean: root -> None or a Clean section;
                                    # index: (images, split) -> None; testset: root -> Testset entry;
                                    # model: folder -> model.pt path; cli: None -> argv
    expect: Error | Counted


# -- injections ----------------------------------------------------------------------------------


def edit(path: str, value: Any) -> Callable[[dict], dict]:
    """Set params key `path` (dots; [i] for list items) to `value`; value DELETE removes it."""
    def apply(params: dict) -> dict:
        *parents, last = re.findall(r"[^.\[\]]+", path)
        node = params
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if value is DELETE:
            del node[last]
        else:
            node[int(last) if isinstance(node, list) else last] = value
        return params
    return apply


DELETE = object()


def text(old: str, new: str) -> Callable[[dict], str]:
    """Replace text in params.yaml itself (faults PyYAML would otherwise read silently)."""
    def apply(_: dict) -> str:
        assert old in PARAMS_TEXT, old
        return PARAMS_TEXT.replace(old, new, 1)
    return apply


def rename_method(old: str, new: str) -> Callable[[dict], dict]:
    def apply(params: dict) -> dict:
        params["methods"][new] = params["methods"].pop(old)
        return params
    return apply


def write_file(relpath: str, content: bytes | str) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        path = root / relpath
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    return apply


def image(traversal: str, i: int) -> str:
    return f"{traversal}/stereo/centre/{T0 + 100_000 * (i + 5)}.png"


def write_image(traversal: str, i: int, array: np.ndarray) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        cv2.imwrite(str(root / image(traversal, i)), array)
    return apply


def edit_ins(traversal: str, change: Callable[[pd.DataFrame], pd.DataFrame]) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        path = root / traversal / "gps" / "ins.csv"
        change(pd.read_csv(path, dtype={"timestamp": str})).to_csv(path, index=False)
    return apply


def copy_traversal(src: str, dst: str) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        shutil.copytree(root / src, root / dst)
    return apply


def set_condition(traversal: str, condition: str) -> Callable[[tuple], None]:
    def apply(case: tuple) -> None:
        images, _ = case
        images.loc[images["traversal"] == traversal, "condition"] = condition
    return apply


def split_param(key: str, value: Any) -> Callable[[tuple], None]:
    def apply(case: tuple) -> None:
        case[1][key] = value
    return apply


def edit_all_ins(change: Callable[[pd.DataFrame], pd.DataFrame], clean_keys: dict[str, Any] | None = None
                 ) -> Callable[[Path], Any]:
    """Edit every traversal's INS; with `clean_keys`, clean with params clean changed so."""
    def apply(root: Path) -> Any:
        for traversal in (A, B):
            edit_ins(traversal, change)(root)
        return CLEAN.model_copy(update=clean_keys) if clean_keys else None
    return apply


def set_cell(column: str, row: int, value: Any) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def change(ins: pd.DataFrame) -> pd.DataFrame:
        ins[column] = ins[column].astype(object)
        ins.loc[row, column] = value
        return ins
    return change


def symlink_out(relpath: str) -> Callable[[Path], None]:
    """Replace the image at `relpath` with a symlink to a copy of it outside the root."""
    def apply(root: Path) -> None:
        outside = root.parent / f"outside_{Path(relpath).name}"
        shutil.copy(root / relpath, outside)
        (root / relpath).unlink()
        os.symlink(outside, root / relpath)
    return apply


def mosaic(shape: tuple[int, ...] = (24, 32), value: int = 120, dtype=np.uint8) -> np.ndarray:
    return np.full(shape, value, dtype)


# A Pittsburgh-format list of 4 references and 2 queries (UTM 17T) and a benchmark folder of the
# same places, with their colour JPEGs (the test-set worlds below).
PLACES = [(584_000.0 + 10.0 * k, 4_477_000.0) for k in range(4)]
DB_NAMES = [f"000/00000{k}_pitch1_yaw1.jpg" for k in range(4)]
Q_NAMES = [f"000/00000{k}_pitch1_yaw1.jpg" for k in range(2)]


def vg_name(easting: float, northing: float, lat_shift: float = 0.0) -> str:
    latitude, longitude = geometry.utm_to_latlon(np.array([easting]), np.array([northing]), 17, "T")
    return f"@{easting:.2f}@{northing:.2f}@17@T@{latitude[0] + lat_shift:.6f}@{longitude[0]:.6f}@@@@@@@@@.jpg"


def write_jpeg(path: Path, grey: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(len(path.name)).integers(0, 256, (12, 16, 3), dtype=np.uint8)
    image = Image.fromarray(pixels)
    (image.convert("L") if grey else image).save(path, quality=90)


def pitts_list(db_names: list[str] = DB_NAMES) -> Callable[[Path], Any]:
    """The Pittsburgh list rewritten with `db_names` (positions cycle over PLACES); returns the entry."""
    def apply(root: Path) -> Any:
        write_pitts_list(root, db_names)
        return pitts_entry(root)
    return apply


def write_pitts_list(root: Path, db_names: list[str]) -> None:
    def table(names: list[str]) -> pd.DataFrame:
        return pd.DataFrame({"path": names, "easting": [PLACES[i % 4][0] for i in range(len(names))],
                             "northing": [PLACES[i % 4][1] for i in range(len(names))]})
    pittsburgh_mat.write_lists(root / "pitts" / "lists.mat", table(db_names), table(Q_NAMES))


def pitts_entry(root: Path) -> Any:
    return entry_model("pittsburgh")(format="pittsburgh", pca_fit="reference", split=str(root / "pitts" / "lists.mat"),
                                       images=str(root / "pitts"))


def vg_entry(root: Path) -> Any:
    return entry_model("vgbench")(format="vgbench", pca_fit="reference", split=str(root / "vg"),
                                    images=str(root / "vg"), condition="tokyo")


def on_pitts(change: Callable[[Path], None]) -> Callable[[Path], Any]:
    def apply(root: Path) -> Any:
        change(root / "pitts")
        return pitts_entry(root)
    return apply


def on_vg(change: Callable[[Path], None]) -> Callable[[Path], Any]:
    def apply(root: Path) -> Any:
        change(root / "vg")
        return vg_entry(root)
    return apply


def grey_jpeg(relpath: str) -> Callable[[Path], None]:
    return lambda root: write_jpeg(root / relpath, grey=True)


def vg_image(folder: str, name: str) -> Callable[[Path], None]:
    return lambda root: write_jpeg(root / folder / name)


def saved_model(damage: Callable[[Path], None]) -> Callable[[Path], Path]:
    """A model.pt written by save_model, then damaged on disk."""
    def apply(folder: Path) -> Path:
        path = folder / "model.pt"
        save_model(path, build_network(MODEL, 0), MODEL, 0, {"method": "soft"})
        damage(path)
        return path
    return apply


def flip_tensor_bytes(path: Path, n: int = 64) -> None:
    """Flip `n` bytes in the middle of the largest tensor's data inside the zip (stored, not compressed)."""
    with zipfile.ZipFile(path) as archive:
        entry = max((i for i in archive.infolist() if "/data/" in i.filename), key=lambda i: i.file_size)
        data = bytearray(path.read_bytes())
        name_len, extra_len = np.frombuffer(data[entry.header_offset + 26:entry.header_offset + 30], np.uint16)
        start = entry.header_offset + 30 + int(name_len) + int(extra_len) + entry.file_size // 2
    assert entry.compress_type == zipfile.ZIP_STORED and entry.file_size >= 2 * n
    data[start:start + n] = bytes(b ^ 0xFF for b in data[start:start + n])
    path.write_bytes(bytes(data))
    payload = torch.load(path, weights_only=True)        # torch itself reads the damaged file
    assert isinstance(payload, dict) and "state_dict" in payload


def without_checksum(path: Path) -> None:
    """The file as softloc wrote it before model files carried a checksum."""
    payload = torch.load(path, weights_only=True)
    del payload["state_sha256"]
    torch.save({**payload, "format": "softloc-model-1"}, path)


def localize_args(*extra: str) -> Callable[[Any], list[str]]:
    return lambda _: ["localize", "photos", "--method", "soft", "--testset", "robotcar", *extra]


# -- the table -----------------------------------------------------------------------------------

FAULTS = [
    # params.yaml: typos, wrong types, out of range, broken relations, unsafe names
    Fault("typo_in_train", "params", edit("train.lrr", 1e-3), Error(r"train\.lrr = 0\.001: unknown key \(did you mean lr\?\)")),
    Fault("typo_in_section_name", "params", text("\ntrain:\n", "\ntrian:\n"), Error(r"trian = .*unknown key \(did you mean train\?\)")),
    Fault("r1_beyond_max_radius", "params", edit("methods.soft.r1", 40), Error(r"methods\.soft\.r1 = 40\.0: <= tuples\.max_radius_m")),
    Fault("r2_beyond_max_radius", "params", edit("methods.triplet.r2", 30), Error(r"methods\.triplet\.r2 = 30\.0: <= tuples\.max_radius_m")),
    Fault("r1_above_r2_for_triplet", "params", edit("methods.triplet.r1", 30), Error(r"methods\.triplet\.r1 = 30\.0: <= r2")),
    Fault("gap_below_max_radius", "params", edit("split.gap_m", 10), Error(r"split\.gap_m = 10\.0: >= tuples\.max_radius_m")),
    Fault("hyperparameter_not_a_number", "params", edit("methods.soft.gamma", "abc"), Error(r"methods\.soft\.gamma = 'abc': Input should be a valid number")),
    Fault("yaml_exponent_is_a_string", "params", text(f"lr: {LR}", "lr: 5e-4"), Error(r"train\.lr = '5e-4': .*write 1\.0e-3")),
    Fault("yaml_off_is_a_boolean", "params", text("amp: bf16", "amp: off"), Error(r"train\.amp = False: .*quote the value")),
    Fault("key_given_twice", "params", text(f"  lr: {LR}", f"  lr: {LR}\n  lr: 1.0e-2"), Error(r"params\.yaml: .*key 'lr' given twice")),
    Fault("not_yaml", "params", text("\ntrain:\n", "\ntrain:\n\t"), Error(r"params\.yaml: not valid YAML: .*'\\t' that cannot start any token")),
    Fault("method_named_dotdot", "params", rename_method("soft_sum", ".."), Error(r"methods\['\.\.'\] = '\.\.': String should match pattern")),
    Fault("method_named_with_slash", "params", rename_method("soft_sum", "a/b"), Error(r"methods\['a/b'\]")),
    Fault("unknown_loss", "params", edit("methods.soft.loss", "soft"), Error(r"methods\.soft\.loss = 'soft': a loss name")),
    Fault("soft_form_key_of_other_form", "params", edit("methods.soft_paper.alpha", 2.0), Error(r"methods\.soft_paper\.alpha = 2\.0: only with form: released")),
    Fault("quadruplet_without_extra_image", "params", edit("methods.quadruplet.n_extra", 0), Error(r"methods\.quadruplet\.n_extra = 0: 1 \(extra images")),
    Fault("boolean_as_string", "params", edit("methods.multisimilarity.ms_mining", "yes"), Error(r"methods\.multisimilarity\.ms_mining = 'yes': Input should be a valid boolean")),
    Fault("loss_key_of_another_loss", "params", edit("methods.triplet.gamma", 0.8), Error(r"methods\.triplet\.gamma = 0\.8: unknown key; allowed keys: aggregator, loss, margin, n_extra, r1, r2")),
    Fault("condition_capitalised_in_params", "params", edit("split.query_conditions", ["night", "Overcast"]), Error(r"split\.query_conditions\[1\] = 'Overcast': String should match pattern")),
    Fault("reference_condition_capitalised", "params", edit("split.reference_condition", "Overcast"), Error(r"split\.reference_condition = 'Overcast'")),
    Fault("query_condition_twice", "params", edit("split.query_conditions", ["night", "night"]), Error(r"split\.query_conditions\[1\] = 'night': each value once")),
    Fault("synthetic_condition_capitalised", "params", edit("synthetic.traversals[1].condition", "Sunny"), Error(r"synthetic\.traversals\[1\]\.condition = 'Sunny'")),
    Fault("more_reverse_runs_than_runs", "params", edit("synthetic.traversals[1].reverse", 2), Error(r"synthetic\.traversals\[1\]\.reverse = 2: at most runs \(1\)")),
    Fault("region_fraction_reversed", "params", edit("synthetic.regions.test", [0.9, 0.5]), Error(r"synthetic\.regions\.test = \[0\.9, 0\.5\]: .*start < end")),
    Fault("box_inverted", "params", edit("split.test_region.easting_min", 621600.0), Error(r"split\.test_region\.easting_min = 621600\.0: below split\.test_region\.easting_max")),
    Fault("box_key_missing", "params", edit("split.val_region.northing_min", DELETE), Error(r"split\.val_region\.northing_min = \(missing\): missing required key")),
    Fault("exposure_thresholds_crossed", "params", edit("clean.underexposed_below", 245.0), Error(r"clean\.underexposed_below = 245\.0: below clean\.overexposed_above")),
    Fault("intensity_out_of_range", "params", edit("clean.overexposed_above", 300), Error(r"clean\.overexposed_above = 300: Input should be less than or equal to 255")),
    Fault("zero_epochs", "params", edit("train.epochs", 0), Error(r"train\.epochs = 0: Input should be greater than or equal to 1")),
    Fault("fraction_above_one", "params", edit("train.mining.hard_fraction", 1.5), Error(r"train\.mining\.hard_fraction = 1\.5")),
    Fault("unknown_device", "params", edit("train.device", "gpu"), Error(r"train\.device = 'gpu': Input should be 'auto', 'cpu' or 'cuda'")),
    Fault("unknown_backbone", "params", edit("model.backbone", "resnet"), Error(r"model\.backbone = 'resnet'")),
    Fault("imagenet_for_small_backbone", "params", edit("model.backbone", "small"), Error(r"model\.init = 'imagenet': imagenet needs model\.backbone: vgg16")),
    Fault("stale_model_seed", "params", edit("model.seed", 3), Error(r"model\.seed = 3: unknown key")),
    Fault("seed_listed_twice", "params", edit("seeds", [0, 0]), Error(r"seeds\[1\] = 0: each value once")),
    Fault("negative_seed", "params", edit("seeds", [-1]), Error(r"seeds\[0\] = -1: Input should be greater than or equal to 0")),
    Fault("no_seed", "params", edit("seeds", []), Error(r"seeds = \[\]: List should have at least 1 item")),
    Fault("unknown_testset_format", "params", edit("testsets.robotcar.format", "robotcar_v2"), Error(r"testsets\.robotcar\.format = 'robotcar_v2': a test-set format")),
    Fault("testset_format_key_missing", "params", edit("testsets.robotcar.utm_zone", DELETE), Error(r"testsets\.robotcar\.utm_zone = \(missing\)")),
    Fault("testset_format_key_malformed", "params", edit("testsets.robotcar.utm_zone", "30"), Error(r"testsets\.robotcar\.utm_zone = '30': .*a UTM zone: number 1-60")),
    Fault("robotcar_testset_reads_another_root", "params", edit("testsets.robotcar.images", "data/raw/other"), Error(r"testsets\.robotcar\.images = 'data/raw/other': data\.raw_root")),
    Fault("unknown_pca_fit", "params", edit("testsets.robotcar.pca_fit", "test"), Error(r"testsets\.robotcar\.pca_fit = 'test'")),
    Fault("recall_beyond_top_k", "params", edit("evaluate.recall_at", [1, 50]), Error(r"evaluate\.recall_at = \[1, 50\]: at most evaluate\.top_k")),
    Fault("headline_beyond_curve", "params", edit("evaluate.headline_m", 30), Error(r"evaluate\.headline_m = 30\.0: <= evaluate\.curve_max_m")),
    Fault("missing_section", "params", edit("pca", DELETE), Error(r"pca = \(missing\): missing required key")),
    Fault("empty_raw_root", "params", edit("data.raw_root", ""), Error(r"data\.raw_root = '': String should have at least 1 character")),
    Fault("report_reference_not_a_method", "params", edit("report.reference", "nosuch"), Error(r"report\.reference = 'nosuch': a key of methods")),
    Fault("report_baseline_not_a_method", "params", edit("report.baseline", "nosuch"), Error(r"report\.baseline = 'nosuch': a key of methods")),
    Fault("utm_zone_61", "params", edit("testsets.robotcar.utm_zone", "61T"), Error(r"testsets\.robotcar\.utm_zone = '61T': .*number 1-60")),
    Fault("utm_zone_band_letter_o", "params", edit("testsets.pittsburgh.utm_zone", "17O"), Error(r"testsets\.pittsburgh\.utm_zone = '17O': .*without I and O")),
    Fault("clean_utm_zone_zero", "params", edit("clean.utm_zone", "0U"), Error(r"clean\.utm_zone = '0U': .*number 1-60")),
    Fault("robotcar_testset_zone_not_the_ins_zone", "params", edit("testsets.robotcar.utm_zone", "31U"), Error(r"testsets\.robotcar\.utm_zone = '31U': clean\.utm_zone \(30U\)")),

    # raw inputs of the clean stage
    Fault("traversal_folder_not_listed", "clean", copy_traversal(B, UNLISTED), Counted("unlisted_traversals", UNLISTED, N_IMAGES)),
    Fault("condition_capitalised_in_csv", "clean", write_file("traversals.csv", f"traversal,condition\n{A},Overcast\n{B},night\n"), Error(r"traversals\.csv, line 2: condition 'Overcast' is not a lower-case identifier")),
    Fault("listed_folder_missing", "clean", write_file("traversals.csv", f"traversal,condition\n{A},overcast\n{UNLISTED},night\n"), Error(rf"traversals\.csv, line 3: traversal folder .*{UNLISTED} does not exist")),
    Fault("traversal_listed_twice", "clean", write_file("traversals.csv", f"traversal,condition\n{A},overcast\n{A},night\n"), Error(r"traversals\.csv, line 3: traversal .* listed twice")),
    Fault("empty_stereo_timestamps", "clean", write_file(f"{A}/stereo.timestamps", ""), Error(rf"{A}/stereo\.timestamps: lists no image \(empty\)")),
    Fault("malformed_stereo_timestamps", "clean", write_file(f"{A}/stereo.timestamps", f"{T0} 1\nabc 1\n"), Error(rf"{A}/stereo\.timestamps, line 2: expected '<timestamp_us> <chunk>'")),
    Fault("binary_stereo_timestamps", "clean", write_file(f"{A}/stereo.timestamps", b"\x89PNG\r\n\x1a\n\xff\xfe"), Error(rf"{A}/stereo\.timestamps: not a text file")),
    Fault("timestamp_listed_twice", "clean", write_file(f"{A}/stereo.timestamps", f"{T0 + 500_000} 1\n{T0 + 500_000} 1\n"), Error(rf"{A}/stereo\.timestamps: timestamp {T0 + 500_000} listed twice")),
    Fault("image_of_wrong_size", "clean", write_image(A, 7, mosaic((24, 30))), Counted("totals", "wrong_size", 1)),
    Fault("colour_image_instead_of_bayer", "clean", write_image(A, 7, mosaic((24, 32, 3))), Counted("totals", "unreadable_image", 1)),
    Fault("sixteen_bit_image", "clean", write_image(A, 7, mosaic(dtype=np.uint16)), Counted("totals", "unreadable_image", 1)),
    Fault("truncated_png", "clean", write_file(image(A, 7), b"\x89PNG\r\n\x1a\n"), Counted("totals", "unreadable_image", 1)),
    Fault("image_file_missing", "clean", lambda root: (root / image(A, 7)).unlink(), Counted("totals", "no_image_file", 1)),
    Fault("black_image", "clean", write_image(A, 7, mosaic(value=1)), Counted("totals", "underexposed", 1)),
    Fault("ins_file_missing", "clean", lambda root: (root / A / "gps" / "ins.csv").unlink(), Error(rf"{A}/gps/ins\.csv: missing INS file")),
    Fault("ins_column_missing", "clean", edit_ins(A, lambda ins: ins.drop(columns="yaw")), Error(rf"{A}/gps/ins\.csv: missing INS columns \['yaw'\]")),
    Fault("ins_timestamp_not_integer", "clean", edit_ins(A, lambda ins: ins.assign(timestamp=ins["timestamp"].where(ins.index != 3, "12.5"))), Error(rf"{A}/gps/ins\.csv, data row 4: timestamp '12\.5' is not an integer")),
    Fault("ins_file_empty", "clean", write_file(f"{A}/gps/ins.csv", ""), Error(rf"{A}/gps/ins\.csv: not a readable CSV file")),
    Fault("ins_bad_status_everywhere", "clean", edit_ins(A, lambda ins: ins.assign(ins_status="INS_BAD_GPS_AGREEMENT")), Counted("totals", "bad_ins", N_IMAGES)),
    Fault("ins_easting_inf", "clean", edit_ins(A, set_cell("easting", 3, "inf")), Error(rf"{A}/gps/ins\.csv, data row 4: easting inf is not a finite number")),
    Fault("ins_northing_text", "clean", edit_ins(A, set_cell("northing", 5, "5735000x")), Error(rf"{A}/gps/ins\.csv, data row 6: northing '5735000x' is not a finite number")),
    Fault("ins_latitude_longitude_swapped", "clean", edit_all_ins(lambda ins: ins.rename(columns={"latitude": "longitude", "longitude": "latitude"})), Error(rf"{A}/gps/ins\.csv, data row 1: latitude/longitude \(-\S+, 51\.\S+\) lie \d+ m from easting/northing")),
    Fault("ins_zone_column_not_params", "clean", edit_ins(B, lambda ins: ins.assign(utm_zone="31U")), Error(rf"{B}/gps/ins\.csv, data row 1: utm_zone '31U', but params clean\.utm_zone is '30U'")),
    Fault("clean_utm_zone_31U_for_30U_data", "clean", edit_all_ins(lambda ins: ins.assign(utm_zone="31U"), {"utm_zone": "31U"}), Error(rf"{A}/gps/ins\.csv, data row 1: latitude/longitude .* lie \d+ m from easting/northing .* in zone 31U")),
    Fault("ins_one_row_off_its_latlon", "clean", edit_ins(A, set_cell("northing", 7, 5_735_070.0)), Error(rf"{A}/gps/ins\.csv, data row 8: latitude/longitude .* lie 7\d m from easting/northing")),
    Fault("image_symlink_out_of_raw_root", "clean", symlink_out(image(B, 4)), Error(rf"{B}/stereo\.timestamps: image {image(B, 4)}: image path .* resolves to .*outside_.*, outside the image root")),

    # test sets: paths stay inside their image root, each once; positions plausible; grey images counted
    Fault("pittsburgh_list_entry_outside_root", "testset", pitts_list(DB_NAMES + ["../../../../../evil_pitch1_yaw1.jpg"]), Error(r"lists\.mat: 'dbImageFns' row 4: image path '\.\./\.\./\.\./\.\./\.\./evil_pitch1_yaw1\.jpg' resolves to /\S*evil_pitch1_yaw1\.jpg, outside the image root")),
    Fault("pittsburgh_absolute_list_entry", "testset", pitts_list(DB_NAMES + ["/etc/passwd_pitch1_yaw1.jpg"]), Error(r"'dbImageFns' row 4: image path '/etc/passwd_pitch1_yaw1\.jpg' resolves to .*outside the image root")),
    Fault("pittsburgh_query_dir_outside_root", "testset", lambda root: pitts_entry(root).model_copy(update={"queries_dir": "../.."}), Error(r"'qImageFns' row 0 \(under queries_dir\): image path '\.\./\.\./000/000000_pitch1_yaw1\.jpg' .*outside the image root")),
    Fault("symlink_in_image_folder_points_outside", "testset", on_pitts(symlink_out(DB_NAMES[1])), Error(r"'dbImageFns' row 1: image path '000/000001_pitch1_yaw1\.jpg' resolves to .*outside_000001_pitch1_yaw1\.jpg, outside the image root")),
    Fault("pittsburgh_db_entry_listed_twice", "testset", pitts_list(DB_NAMES + [DB_NAMES[0]]), Error(r"'dbImageFns' row 4: image path '000/000000_pitch1_yaw1\.jpg' is the file of .*'dbImageFns' row 0 again")),
    Fault("pittsburgh_grey_query", "testset", on_pitts(grey_jpeg(f"queries_real/{Q_NAMES[1]}")), Counted("queries.dropped", "grayscale", 1)),
    Fault("pittsburgh_grey_reference", "testset", on_pitts(grey_jpeg(DB_NAMES[2])), Counted("reference.dropped", "grayscale", 1)),
    Fault("vgbench_symlink_points_outside", "testset", on_vg(symlink_out(f"database/{vg_name(*PLACES[0])}")), Error(r"vg/database/@584000\.00@.*\.jpg: image path .* resolves to .*outside_.*, outside the image root")),
    Fault("vgbench_name_easting_northing_swapped", "testset", on_vg(vg_image("database", vg_name(4_477_050.0, 584_050.0))), Error(r"vg/database/@4477050\.00@584050\.00@.*: position \(4477050\.0, 584050\.0\) implausible for UTM zone 17T: easting outside a UTM zone's 100-900 km")),
    Fault("vgbench_name_latlon_disagrees", "testset", on_vg(vg_image("queries", vg_name(584_015.0, 4_477_000.0, lat_shift=0.01))), Error(r"vg/queries/@584015\.00@.*: latitude/longitude .* lie 1\d\d\d m from the UTM position")),
    Fault("vgbench_grey_query", "testset", on_vg(grey_jpeg(f"queries/{vg_name(*PLACES[1])}")), Counted("queries.dropped", "grayscale", 1)),

    # a model file damaged on disk or in the DVC cache
    Fault("model_tensor_bytes_flipped", "model", saved_model(flip_tensor_bytes), Error(r"model\.pt: the weights do not match the file's checksum")),
    Fault("model_without_checksum", "model", saved_model(without_checksum), Error(r"model\.pt: a model file without a checksum .*rerun its train stage")),

    # softloc localize's numbers
    Fault("localize_top_k_zero", "cli", localize_args("--top-k", "0"), Error(r"argument --top-k: 0 is not a positive integer")),
    Fault("localize_batch_size_negative", "cli", localize_args("--batch-size", "-4"), Error(r"argument --batch-size: -4 is not a positive integer")),
    Fault("localize_seed_not_a_number", "cli", localize_args("--seed", "x"), Error(r"argument --seed: 'x' is not a non-negative integer")),

    # the index stage: the test split must serve every configured condition
    Fault("query_condition_without_queries", "index", set_condition("2014-01-08-09-00-00", "rain"), Error(r"test region: no query of condition 'snow' \(params split\.query_conditions")),
    Fault("query_condition_absent_from_data", "index", split_param("query_conditions", ["night", "overcast", "dawn"]), Error(r"no query of condition 'dawn'")),
    Fault("reference_traversal_of_another_condition", "index", split_param("reference_traversal", "2014-01-06-13-00-00"), Error(r"is of condition\(s\) \['sunny'\], not params split\.reference_condition 'overcast'")),
    Fault("reference_condition_absent", "index", split_param("reference_condition", "dusk"), Error(r"no traversal of the reference condition 'dusk'")),
]


# -- the raw world and the runner ----------------------------------------------------------------


def write_traversal(root: Path, name: str, lane: float) -> None:
    """A straight 20-image traversal: INS at 50 Hz from 0 to 3 s, images every 0.1 s from 0.5 s."""
    folder = root / name
    ins_s = np.arange(0, 3.0, 0.02)
    ins = pd.DataFrame({c: np.zeros(len(ins_s)) for c in robotcar.INS_COLUMNS})
    ins["timestamp"] = T0 + np.round(ins_s * 1e6).astype(np.int64)
    ins["ins_status"] = "INS_SOLUTION_GOOD"
    ins["easting"], ins["northing"] = 620_000.0 + 10.0 * ins_s, 5_735_000.0 + lane
    ins["latitude"], ins["longitude"] = geometry.utm_to_latlon(ins["easting"], ins["northing"], 30, "U")
    ins["utm_zone"], ins["yaw"] = "30U", np.pi / 2
    (folder / "gps").mkdir(parents=True)
    ins.to_csv(folder / "gps" / "ins.csv", index=False)
    (folder / robotcar.IMAGE_DIR).mkdir(parents=True)
    stamps = [T0 + 100_000 * (i + 5) for i in range(N_IMAGES)]
    (folder / "stereo.timestamps").write_text("".join(f"{t} 1\n" for t in stamps))
    rng = np.random.default_rng(len(name))
    for t in stamps:
        cv2.imwrite(str(folder / robotcar.IMAGE_DIR / f"{t}.png"), rng.integers(60, 180, (24, 32), dtype=np.uint8))


@pytest.fixture(scope="module")
def raw_world(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("raw")
    write_traversal(root, A, lane=-1.5)
    write_traversal(root, B, lane=1.5)
    (root / "traversals.csv").write_text(f"traversal,condition\n{A},overcast\n{B},night\n")
    _, report = clean.clean_dataset(root, CLEAN)
    assert report["totals"]["kept"] == 2 * N_IMAGES and not report["unlisted_traversals"]   # a good world
    return root


@pytest.fixture(scope="module")
def testset_world(tmp_path_factory) -> Path:
    """A good Pittsburgh-format list with its images (pitts/) and a benchmark folder (vg/)."""
    root = tmp_path_factory.mktemp("testsets")
    write_pitts_list(root, DB_NAMES)
    for name in DB_NAMES:
        write_jpeg(root / "pitts" / name)
    for name in Q_NAMES:
        write_jpeg(root / "pitts" / "queries_real" / name)
    for folder, places in (("database", PLACES), ("queries", PLACES[:2])):
        for place in places:
            write_jpeg(root / "vg" / folder / vg_name(*place))
    for entry in (pitts_entry(root), vg_entry(root)):                 # a good world
        counts = read_testset(entry)
        assert counts["reference"]["dropped"]["grayscale"] == counts["queries"]["dropped"]["grayscale"] == 0
    return root


def read_testset(entry: Any) -> dict:
    """What the testset stage does before its image stores: read the split, drop grey images."""
    fmt = datasets.get(entry.format)
    return datasets.drop_grayscale(fmt.read_split(entry), entry.images).counts


def run_cli(argv: list[str]) -> None:
    """`softloc` with `argv`; argparse's exit becomes a ValueError holding what it printed."""
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        try:
            cli.main(argv)
        except SystemExit as err:
            raise ValueError(stderr.getvalue()) from err


def run_fault(fault: Fault, tmp_path: Path, raw_world: Path, testset_world: Path) -> dict | None:
    """Inject the fault and run the stage's code; returns the stage's report when there is one."""
    if fault.stage == "params":
        params = fault.inject(copy.deepcopy(PARAMS))
        path = tmp_path / "params.yaml"
        path.write_text(params if isinstance(params, str) else yaml.safe_dump(params, sort_keys=False))
        load_params(path)
        return None
    if fault.stage == "clean":
        root = tmp_path / "raw"
        shutil.copytree(raw_world, root, symlinks=True)
        cfg = fault.inject(root) or CLEAN
        return clean.clean_dataset(root, cfg)[1]
    if fault.stage == "testset":
        root = tmp_path / "sets"
        shutil.copytree(testset_world, root, symlinks=True)
        return read_testset(fault.inject(root))
    if fault.stage == "model":
        load_model(fault.inject(tmp_path))
        return None
    if fault.stage == "cli":
        run_cli(fault.inject(None))
        return None
    images, split = test_tuples.make_images(), copy.deepcopy(test_tuples.SPLIT_KEYS)
    fault.inject((images, split))
    tuples.split_images(images, Split(**split), 25.0)
    return None


@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
def test_no_fault_passes_silently(fault: Fault, tmp_path: Path, raw_world: Path, testset_world: Path) -> None:
    if isinstance(fault.expect, Error):
        with pytest.raises((ValueError, FileNotFoundError)) as err:
            run_fault(fault, tmp_path, raw_world, testset_world)
        message = str(err.value)
        assert re.search(fault.expect.pattern, message), message
        if fault.stage == "params":
            assert isinstance(err.value, ParamsError) and "\n" not in message
    else:
        report = run_fault(fault, tmp_path, raw_world, testset_world)
        section = report
        for part in fault.expect.section.split("."):
            section = section[part]
        assert section[fault.expect.key] == fault.expect.n, report


def test_the_table_is_large_and_names_are_unique() -> None:
    assert len(FAULTS) >= 30 and len({f.name for f in FAULTS}) == len(FAULTS)
