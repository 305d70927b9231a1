"""The report on a tiny fake set of evaluations: files exist and hold numbers in range."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from softloc.io import write_json
from softloc.metrics import evaluate_localization
from softloc.report import build_report

CONDITIONS = np.repeat(["night", "snow", "sunny"], [30, 20, 25])


def fake_params(methods: dict) -> dict:
    return {
        "model": {"backbone": "small", "init": "random"},
        "methods": methods,
        "evaluate": {"thresholds_m": [5, 10, 15], "curve_max_m": 25},
        "report": {"variants": ["soft", "soft_linear", "soft_tanh", "soft_sum"], "influence_method": "soft"},
    }


def write_fake_eval(root: Path, method: str, error_scale: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    bound = rng.uniform(0, 3, len(CONDITIONS))
    errors = bound + rng.exponential(error_scale, len(CONDITIONS))
    metrics, curves = evaluate_localization(errors, bound, CONDITIONS, [5, 10, 15], 25)
    write_json(metrics, root / method / "metrics.json")
    curves.to_csv(root / method / "curves.csv", index=False)


def table_numbers(text: str) -> list[float]:
    rows = [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| method")]
    return [float(x) for row in rows for x in re.findall(r"\d+\.\d", row.split("|", 2)[2])]


def test_two_method_report_without_soft_variants(tmp_path: Path) -> None:
    methods = {"offtheshelf": {"loss": "none"}, "triplet": {"loss": "triplet"}}
    for seed, (method, scale) in enumerate([("offtheshelf", 40.0), ("triplet", 4.0)]):
        write_fake_eval(tmp_path / "eval", method, scale, seed)
    out = build_report(fake_params(methods), tmp_path / "eval", tmp_path / "reports")
    for path in out.values():
        assert path.is_file() and path.stat().st_size > 500, path
    for key in ("curves", "variants", "influence"):
        assert out[key].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = out["table"].read_text()
    assert "upper bound" in table and "off-the-shelf, small init random" in table
    # 3 rows x (3 conditions + mean) x 3 thresholds, all percentages.
    numbers = table_numbers(table)
    assert len(numbers) == 3 * 4 * 3
    assert all(0.0 <= v <= 100.0 for v in numbers)
    # The much better method is bold in every column; the upper bound is never bold.
    triplet_row = next(line for line in table.splitlines() if line.startswith("| triplet"))
    assert triplet_row.count("**") == 2 * 12
    assert "**" not in next(line for line in table.splitlines() if "upper bound" in line)
    page = out["index"].read_text()
    assert 'src="figures/accuracy_curves.png"' in page and "<table" in page and "offtheshelf" in page
    assert "none present in params" in page


def test_table_values_match_the_metrics_and_upper_bound_dominates(tmp_path: Path) -> None:
    methods = {"offtheshelf": {"loss": "none"}, "soft": {"loss": "soft_contrastive", "gamma": 0.5, "tau": 12.0},
               "soft_linear": {"loss": "soft_contrastive", "influence": "linear"},
               "soft_sum": {"loss": "soft_contrastive", "combine": "sum"}}
    for seed, method in enumerate(methods):
        write_fake_eval(tmp_path / "eval", method, 3.0 + 5 * seed, seed)
    out = build_report(fake_params(methods), tmp_path / "eval", tmp_path / "reports")
    metrics = json.loads((tmp_path / "eval" / "soft" / "metrics.json").read_text())
    soft_row = next(line for line in out["table"].read_text().splitlines() if line.startswith("| soft ("))
    first_cell = soft_row.split("|")[2].strip().strip("*")
    assert float(first_cell) == pytest.approx(100 * metrics["accuracy"]["5m"]["night"], abs=0.05)
    numbers = np.array(table_numbers(out["table"].read_text())).reshape(1 + len(methods), -1)
    assert np.all(numbers[0] >= numbers[1:].max(axis=0))
    assert "soft, soft_linear, soft_sum" in out["index"].read_text()


def test_missing_evaluation_is_an_error_naming_the_file(tmp_path: Path) -> None:
    write_fake_eval(tmp_path / "eval", "offtheshelf", 10.0, 0)
    params = fake_params({"offtheshelf": {"loss": "none"}, "soft": {"loss": "soft_contrastive"}})
    with pytest.raises(FileNotFoundError, match="soft/metrics.json"):
        build_report(params, tmp_path / "eval", tmp_path / "reports")


def test_methods_that_kept_the_initial_weights_are_marked(tmp_path: Path) -> None:
    methods = {"offtheshelf": {"loss": "none"}, "triplet": {"loss": "triplet"}, "lazy_triplet": {"loss": "lazy_triplet"}}
    for seed, method in enumerate(methods):
        write_fake_eval(tmp_path / "eval", method, 10.0 + seed, seed)
    for method, best_step in (("offtheshelf", 0), ("triplet", 120), ("lazy_triplet", 0)):
        (tmp_path / "train" / method).mkdir(parents=True)
        (tmp_path / "train" / method / "metrics.json").write_text(json.dumps({"best_step": best_step}))
    out = build_report(fake_params(methods), tmp_path / "eval", tmp_path / "reports", train_root=tmp_path / "train")
    rows = {line.split("|")[1].strip(): line for line in out["table"].read_text().splitlines() if line.startswith("| ")}
    marked = [name for name in rows if name.endswith("†")]
    assert marked == ["lazy_triplet †"]           # trained, best at step 0; the off-the-shelf row is not marked
    assert "early stopping kept the initial weights" in out["table"].read_text()
    assert "early stopping kept the initial weights" in out["index"].read_text()
