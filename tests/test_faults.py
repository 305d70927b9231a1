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
"""

from __future__ import annotations

import copy
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np
import pandas as pd
import pytest
import yaml

from softloc import clean, index as tuples
from softloc.config import ParamsError
from softloc.datasets.formats import robotcar_raw as robotcar
from softloc.config import Split
from softloc.params import load_params

sys.path.insert(0, str(Path(__file__).parent))
import test_tuples  # noqa: E402  (its hand-made images table and split params)

ROOT = Path(__file__).resolve().parents[1]
PARAMS_TEXT = (ROOT / "params.yaml").read_text()
PARAMS = yaml.safe_load(PARAMS_TEXT)
CLEAN = load_params(ROOT / "params.yaml").clean
T0 = 1_418_000_000_000_000
A, B, UNLISTED = "2014-12-01-10-00-00", "2014-12-02-10-00-00", "2014-12-05-10-00-00"
N_IMAGES = 20


@dataclass(frozen=True)
class Error:
    """The stage stops with an exception whose message matches `pattern` (names the key or file)."""

    pattern: str


@dataclass(frozen=True)
class Counted:
    """The clean stage goes on and its report counts the fault: report[section][key] == n."""

    section: str
    key: str
    n: int


@dataclass(frozen=True)
class Fault:
    name: str
    stage: str                      # params | clean | index
    inject: Callable[[Any], Any]    # params: dict -> dict or str; clean: root -> None; index: (images, split) -> None
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


def mosaic(shape: tuple[int, ...] = (24, 32), value: int = 120, dtype=np.uint8) -> np.ndarray:
    return np.full(shape, value, dtype)


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
    Fault("yaml_exponent_is_a_string", "params", text("lr: 5.0e-4", "lr: 5e-4"), Error(r"train\.lr = '5e-4': .*write 1\.0e-3")),
    Fault("yaml_off_is_a_boolean", "params", text("amp: bf16", "amp: off"), Error(r"train\.amp = False: .*quote the value")),
    Fault("key_given_twice", "params", text("  lr: 5.0e-4", "  lr: 5.0e-4\n  lr: 1.0e-2"), Error(r"params\.yaml: .*key 'lr' given twice")),
    Fault("not_yaml", "params", text("\ntrain:\n", "\ntrain:\n\t"), Error(r"params\.yaml: not valid YAML: .*'\\t' that cannot start any token")),
    Fault("method_named_dotdot", "params", rename_method("soft_sum", ".."), Error(r"methods\['\.\.'\] = '\.\.': String should match pattern")),
    Fault("method_named_with_slash", "params", rename_method("soft_sum", "a/b"), Error(r"methods\['a/b'\]")),
    Fault("unknown_loss", "params", edit("methods.soft.loss", "soft"), Error(r"methods\.soft\.loss = 'soft': a loss name")),
    Fault("soft_form_key_of_other_form", "params", edit("methods.soft_paper.alpha", 2.0), Error(r"methods\.soft_paper\.alpha = 2\.0: only with form: released")),
    Fault("quadruplet_without_extra_image", "params", edit("methods.quadruplet.n_extra", 0), Error(r"methods\.quadruplet\.n_extra = 0: 1 \(extra images")),
    Fault("boolean_as_string", "params", edit("methods.multisimilarity.ms_mining", "yes"), Error(r"methods\.multisimilarity\.ms_mining = 'yes': Input should be a valid boolean")),
    Fault("loss_key_of_another_loss", "params", edit("methods.triplet.gamma", 0.8), Error(r"methods\.triplet\.gamma = 0\.8: unknown key; allowed keys: loss, margin, n_extra, r1, r2")),
    Fault("condition_capitalised_in_params", "params", edit("split.query_conditions", ["night", "Overcast"]), Error(r"split\.query_conditions\[1\] = 'Overcast': String should match pattern")),
    Fault("reference_condition_capitalised", "params", edit("split.reference_condition", "Overcast"), Error(r"split\.reference_condition = 'Overcast'")),
    Fault("query_condition_twice", "params", edit("split.query_conditions", ["night", "night"]), Error(r"split\.query_conditions\[1\] = 'night': each value once")),
    Fault("synthetic_condition_capitalised", "params", edit("synthetic.traversals[1].condition", "Sunny"), Error(r"synthetic\.traversals\[1\]\.condition = 'Sunny'")),
    Fault("more_reverse_runs_than_runs", "params", edit("synthetic.traversals[1].reverse", 2), Error(r"synthetic\.traversals\[1\]\.reverse = 2: at most runs \(1\)")),
    Fault("region_fraction_reversed", "params", edit("synthetic.regions.test", [0.9, 0.5]), Error(r"synthetic\.regions\.test = \[0\.9, 0\.5\]: .*start < end")),
    Fault("box_inverted", "params", edit("split.test_region.easting_min", 621500.0), Error(r"split\.test_region\.easting_min = 621500\.0: below split\.test_region\.easting_max")),
    Fault("box_key_missing", "params", edit("split.val_region.northing_min", DELETE), Error(r"split\.val_region\.northing_min = \(missing\): missing required key")),
    Fault("exposure_thresholds_crossed", "params", edit("clean.underexposed_below", 245.0), Error(r"clean\.underexposed_below = 245\.0: below clean\.overexposed_above")),
    Fault("intensity_out_of_range", "params", edit("clean.overexposed_above", 300), Error(r"clean\.overexposed_above = 300: Input should be less than or equal to 255")),
    Fault("zero_epochs", "params", edit("train.epochs", 0), Error(r"train\.epochs = 0: Input should be greater than or equal to 1")),
    Fault("fraction_above_one", "params", edit("train.mining.hard_fraction", 1.5), Error(r"train\.mining\.hard_fraction = 1\.5")),
    Fault("unknown_device", "params", edit("train.device", "gpu"), Error(r"train\.device = 'gpu': Input should be 'auto', 'cpu' or 'cuda'")),
    Fault("unknown_backbone", "params", edit("model.backbone", "resnet"), Error(r"model\.backbone = 'resnet'")),
    Fault("imagenet_for_small_backbone", "params", edit("model.init", "imagenet"), Error(r"model\.init = 'imagenet': imagenet needs model\.backbone: vgg16")),
    Fault("stale_model_seed", "params", edit("model.seed", 3), Error(r"model\.seed = 3: unknown key")),
    Fault("seed_listed_twice", "params", edit("seeds", [0, 0]), Error(r"seeds\[1\] = 0: each value once")),
    Fault("negative_seed", "params", edit("seeds", [-1]), Error(r"seeds\[0\] = -1: Input should be greater than or equal to 0")),
    Fault("no_seed", "params", edit("seeds", []), Error(r"seeds = \[\]: List should have at least 1 item")),
    Fault("unknown_testset_format", "params", edit("testsets.robotcar.format", "robotcar_v2"), Error(r"testsets\.robotcar\.format = 'robotcar_v2': a test-set format")),
    Fault("testset_format_key_missing", "params", edit("testsets.robotcar.utm_zone", DELETE), Error(r"testsets\.robotcar\.utm_zone = \(missing\)")),
    Fault("testset_format_key_malformed", "params", edit("testsets.robotcar.utm_zone", "30"), Error(r"testsets\.robotcar\.utm_zone = '30': String should match")),
    Fault("robotcar_testset_reads_another_root", "params", edit("testsets.robotcar.images", "data/raw/other"), Error(r"testsets\.robotcar\.images = 'data/raw/other': data\.raw_root")),
    Fault("unknown_pca_fit", "params", edit("testsets.robotcar.pca_fit", "test"), Error(r"testsets\.robotcar\.pca_fit = 'test'")),
    Fault("recall_beyond_top_k", "params", edit("evaluate.recall_at", [1, 50]), Error(r"evaluate\.recall_at = \[1, 50\]: at most evaluate\.top_k")),
    Fault("headline_beyond_curve", "params", edit("evaluate.headline_m", 30), Error(r"evaluate\.headline_m = 30\.0: <= evaluate\.curve_max_m")),
    Fault("missing_section", "params", edit("pca", DELETE), Error(r"pca = \(missing\): missing required key")),
    Fault("empty_raw_root", "params", edit("data.raw_root", ""), Error(r"data\.raw_root = '': String should have at least 1 character")),

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
    ins["latitude"], ins["longitude"] = 51.75 + 1e-6 * ins_s, -1.25 + 1e-6 * ins_s
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


def run_fault(fault: Fault, tmp_path: Path, raw_world: Path) -> dict | None:
    """Inject the fault and run the stage's code; returns the clean report when there is one."""
    if fault.stage == "params":
        params = fault.inject(copy.deepcopy(PARAMS))
        path = tmp_path / "params.yaml"
        path.write_text(params if isinstance(params, str) else yaml.safe_dump(params, sort_keys=False))
        load_params(path)
        return None
    if fault.stage == "clean":
        root = tmp_path / "raw"
        shutil.copytree(raw_world, root)
        fault.inject(root)
        return clean.clean_dataset(root, CLEAN)[1]
    images, split = test_tuples.make_images(), copy.deepcopy(test_tuples.SPLIT_KEYS)
    fault.inject((images, split))
    tuples.split_images(images, Split(**split), 25.0)
    return None


@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
def test_no_fault_passes_silently(fault: Fault, tmp_path: Path, raw_world: Path) -> None:
    if isinstance(fault.expect, Error):
        with pytest.raises((ValueError, FileNotFoundError)) as err:
            run_fault(fault, tmp_path, raw_world)
        message = str(err.value)
        assert re.search(fault.expect.pattern, message), message
        if fault.stage == "params":
            assert isinstance(err.value, ParamsError) and "\n" not in message
    else:
        report = run_fault(fault, tmp_path, raw_world)
        assert report[fault.expect.section][fault.expect.key] == fault.expect.n, report


def test_the_table_is_large_and_names_are_unique() -> None:
    assert len(FAULTS) >= 30 and len({f.name for f in FAULTS}) == len(FAULTS)
