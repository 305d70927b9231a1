"""The params.yaml schema (softloc.config): the project's params pass, mistakes fail naming the key,
and each loss's `methods` model is made from the params dataclass in its file.

The full table of bad params and bad inputs, stage by stage, is tests/test_faults.py."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, fields
from pathlib import Path

import pytest
import yaml

from softloc.config import Method, ParamsError, method_model, validate_params
from softloc.losses import LOSSES, LossParams, LossSpec, build_loss, loss_params
from softloc.losses.registry import bounded
from softloc.losses.triplet import TripletLoss
from softloc.params import load_params

ROOT = Path(__file__).resolve().parents[1]
RAW = yaml.safe_load((ROOT / "params.yaml").read_text())


def test_project_params_pass_and_load_unchanged() -> None:
    assert load_params(ROOT / "params.yaml").model_dump(exclude_unset=True, serialize_as_any=True) == RAW


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
    text = re.sub(r"^(  lr: \S+)$", r"\1\n  lr: 1.0e-2", (ROOT / "params.yaml").read_text(), count=1, flags=re.M)
    (tmp_path / "params.yaml").write_text(text)
    with pytest.raises(ParamsError, match=r"params.yaml: .*key 'lr' given twice"):
        load_params(tmp_path / "params.yaml")


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_method_models_are_the_loss_params(name: str) -> None:
    model, params = method_model(name), LOSSES[name].params
    own = {k: f.default for k, f in model.model_fields.items() if k not in Method.model_fields}
    assert own == {f.name: f.default for f in fields(params)}
    entry = model.model_validate({"loss": name, "r1": 10, "r2": 25, "n_extra": LOSSES[name].n_extra})
    assert loss_params(entry) == params()


def test_hyperparameter_bounds_and_form_keys_come_from_the_loss_file() -> None:
    raw = copy.deepcopy(RAW)
    raw["methods"]["multisimilarity"]["ms_eps"] = -0.1
    with pytest.raises(ParamsError, match=r"methods\.multisimilarity\.ms_eps = -0\.1: Input should be greater than or equal to 0"):
        validate_params(raw)
    raw = copy.deepcopy(RAW)
    raw["methods"]["soft"]["eta"] = 10.0
    with pytest.raises(ParamsError, match=r"methods\.soft\.eta = 10\.0: only with form: paper \(this entry has form: released\)"):
        validate_params(raw)
    raw["methods"]["soft"] = {"loss": "soft_contrastive", "r1": 15, "r2": 15, "form": "paper", "eta": 0}
    with pytest.raises(ParamsError, match=r"methods\.soft\.eta = 0: Input should be greater than 0"):
        validate_params(raw)


def test_unknown_loss_lists_the_registered_names() -> None:
    raw = copy.deepcopy(RAW)
    raw["methods"]["soft"]["loss"] = "contrastive"
    names = ", ".join(sorted(LOSSES))
    assert "none" in LOSSES and "soft_contrastive" in LOSSES
    with pytest.raises(ParamsError, match=rf"methods\.soft\.loss = 'contrastive': a loss name: one of {names}$"):
        validate_params(raw)


def test_a_new_loss_is_its_params_dataclass_and_registration(monkeypatch: pytest.MonkeyPatch) -> None:
    @dataclass(frozen=True)
    class WideParams(LossParams):
        margin: float = bounded(0.3, ge=0)

    monkeypatch.setitem(LOSSES, "wide_triplet", LossSpec(TripletLoss, WideParams, disjoint=True))
    raw = copy.deepcopy(RAW)
    raw["methods"]["wide"] = {"loss": "wide_triplet", "r1": 10, "r2": 25}
    method = validate_params(raw).methods["wide"]
    assert method.margin == 0.3 and build_loss(method).margin == 0.3
    raw["methods"]["wide"]["marign"] = 0.5
    with pytest.raises(ParamsError, match=r"methods\.wide\.marign = 0\.5: unknown key \(did you mean margin\?\); allowed keys: aggregator, loss, margin, n_extra, r1, r2"):
        validate_params(raw)
