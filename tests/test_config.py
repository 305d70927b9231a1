"""The params.yaml schema (softloc.config): the project's params pass, mistakes fail naming the key,
and the per-loss models stay in step with the loss constructors they mirror.

The full table of bad params and bad inputs, stage by stage, is tests/test_faults.py."""

from __future__ import annotations

import copy
import inspect
from pathlib import Path

import pytest
import yaml

from softloc import config
from softloc.config import ParamsError, validate_params
from softloc.losses import LOSSES, SAMPLING_KEYS, loss_hyperparameters
from softloc.losses import soft
from softloc.params import load_params, plain

ROOT = Path(__file__).resolve().parents[1]
RAW = yaml.safe_load((ROOT / "params.yaml").read_text())


def test_project_params_pass_and_load_unchanged() -> None:
    assert plain(load_params(ROOT / "params.yaml")) == RAW


def test_testsets_and_seeds_are_checked_with_the_format_config() -> None:
    raw = copy.deepcopy(RAW)
    raw["seeds"] = [0, 1, 2]
    raw["testsets"] = {"robotcar": {"format": "robotcar", "split": "data/processed/test", "images": "data/raw/synthetic",
                                    "pca_fit": "train", "utm_zone": "30U"}}
    raw["report"]["table1"] = ["robotcar"]
    validate_params(raw)
    raw["report"]["table1"] = ["robotcar", "pitts"]
    with pytest.raises(ParamsError, match=r"report\.table1\[1\] = 'pitts': a test set of params testsets \(robotcar\)"):
        validate_params(raw)
    raw["report"]["table1"] = ["robotcar"]
    raw["testsets"]["robotcar"]["utm_zone"] = "thirty"
    with pytest.raises(ParamsError, match=r"testsets\.robotcar\.utm_zone = 'thirty'"):
        validate_params(raw)


@pytest.mark.parametrize("edit, message", [
    (lambda p: p["train"].update(lrr=1e-3), r"train\.lrr = 0\.001: unknown key \(did you mean lr\?\); allowed keys: amp, "),
    (lambda p: p["methods"]["soft"].update(gamma="abc"), r"methods\.soft\.gamma = 'abc': Input should be a valid number"),
    (lambda p: p["train"].update(lr="1e-3"), r"train\.lr = '1e-3': .*write 1\.0e-3"),
    (lambda p: p["train"].update(epochs=0), r"train\.epochs = 0: Input should be greater than or equal to 1"),
    (lambda p: p.pop("pca"), r"pca = \(missing\): missing required key"),
], ids=["typo", "wrong_type", "yaml_exponent", "out_of_range", "missing_section"])
def test_errors_are_one_line_naming_the_key(edit, message: str) -> None:
    raw = copy.deepcopy(RAW)
    edit(raw)
    with pytest.raises(ParamsError, match=message) as err:
        validate_params(raw)
    assert "\n" not in str(err.value) and str(err.value).startswith("params.yaml: ")


def test_a_key_given_twice_is_an_error_naming_the_file(tmp_path: Path) -> None:
    text = (ROOT / "params.yaml").read_text().replace("  lr: 5.0e-4\n", "  lr: 5.0e-4\n  lr: 1.0e-2\n")
    (tmp_path / "params.yaml").write_text(text)
    with pytest.raises(ParamsError, match=r"params.yaml: .*key 'lr' given twice"):
        load_params(tmp_path / "params.yaml")


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss_models_mirror_the_loss_constructors(name: str) -> None:
    model, n_extra, _ = config.LOSS_MODELS[name]
    own = {k: f.default for k, f in model.model_fields.items() if k not in config.Method.model_fields}
    expected = {k: v for k, v in loss_hyperparameters(name).items() if k not in SAMPLING_KEYS}
    assert own == expected
    assert n_extra == getattr(LOSSES[name], "n_extra", 0)
    required = [k for k, v in loss_hyperparameters(name).items() if v is inspect.Parameter.empty]
    assert set(required) <= SAMPLING_KEYS


def test_loss_names_and_soft_form_keys_match_the_registry() -> None:
    assert set(config.LOSS_MODELS) == set(LOSSES) | {"none"}
    assert set(config.SOFT_FORM_KEYS["paper"]) == set(soft.PAPER_KEYS)
    assert set(config.SOFT_FORM_KEYS["released"]) == set(soft.RELEASED_KEYS)
