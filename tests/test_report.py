"""The report on a hand-built layout of evaluations (methods x seeds x test sets).

The fixture writes the evaluate stage's files as PLAN.md documents them (summary.json,
metrics.json, curves.csv, retrievals.parquet, the test set's queries.parquet, training curves),
computed here with plain numpy so that the report is checked against the format, not against
the code that writes it.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from softloc.config import Params, validate_params
from softloc.io import write_json, write_parquet
from softloc.params import read_params_yaml
from softloc.report import build_report
from softloc.report.provenance import check_inputs, git_state
from softloc.schemas import SPLIT_IMAGES, TESTSET_IMAGES

ROOT = Path(__file__).resolve().parents[1]
THRESHOLDS = [5, 10, 15]
SEEDS = [0, 1]


def make_queries(name: str, road_m: int = 230, conditions_on_road: tuple[str, ...] = ("night", "sunny"),
                 scattered: int = 60) -> pd.DataFrame:
    """car: a road of `road_m` metres driven in each condition (a query per metre); pitt:
    `scattered` queries over a square."""
    if name == "car":
        east = np.tile(np.arange(float(road_m)), len(conditions_on_road))
        north = np.zeros(len(east))
        conditions = np.repeat(list(conditions_on_road), road_m)
    else:
        rng = np.random.default_rng(5)
        east, north = rng.uniform(0, 400, scattered), rng.uniform(0, 400, scattered)
        conditions = np.full(scattered, "pitt")
    n = len(east)
    table = pd.DataFrame({c: np.full(n, np.nan) for c, kind in TESTSET_IMAGES.items() if kind == "float64"})
    table["image_id"] = np.arange(n, dtype=np.int64)
    table["path"] = [f"q/{i}.png" for i in range(n)]
    table["source"] = conditions
    table["condition"] = conditions
    table["camera"] = ""
    table["timestamp"] = np.int64(0)
    table["utm_zone"] = ""
    table["easting"], table["northing"] = east + 600000.0, north + 5.7e6
    return table


def method_errors(method: str, seed: int, testset: str, n: int) -> np.ndarray:
    """Top-1 errors (m): soft good, triplet = soft with a few queries changed both ways, the
    off-the-shelf network (and lazy_triplet, which kept it) bad; correlated along the road."""
    base = 0 if method in ("offtheshelf", "lazy_triplet") else 1
    other = [] if method in ("soft", "triplet", "offtheshelf", "lazy_triplet") else [sum(map(ord, method))]
    rng = np.random.default_rng([base, seed, len(testset), *other])   # any other method: its own draw
    stretch = np.repeat(rng.random(n // 10 + 1), 10)[:n]
    good = stretch < (0.75 if base else 0.35)
    errors = np.where(good, rng.uniform(0, 9, n), rng.uniform(20, 300, n))
    if method == "triplet":
        errors = errors.copy()
        errors[np.flatnonzero(good)[:5]] = 100.0     # five worse ...
        errors[np.flatnonzero(~good)[:3]] = 1.0      # ... three better
    return errors


def write_run(root: Path, method: str, seed: int, testset: str, queries: pd.DataFrame) -> None:
    n = len(queries)
    errors = method_errors(method, seed, testset, n)
    bound = np.minimum(errors, np.random.default_rng(len(testset)).uniform(0, 3, n))
    conditions = queries["condition"].to_numpy(str)
    names = sorted(set(conditions))
    d = np.arange(0.0, 26.0)

    def acc(e: np.ndarray, t: float) -> dict[str, float]:
        per = {c: float(np.mean(e[conditions == c] <= t)) for c in names}
        return {**per, "mean": float(np.mean(list(per.values())))}

    key = {t: f"at_{t:02d}m" for t in THRESHOLDS}
    summary = {"accuracy": {key[t]: acc(errors, t) for t in THRESHOLDS},
               "upper_bound": {key[t]: acc(bound, t) for t in THRESHOLDS},
               "n_queries": {c: int(np.sum(conditions == c)) for c in names},
               "n_reference": 230, "n_queries_position_unknown": 0, "median_error_m": float(np.median(errors)),
               "recall": {"at_01": acc(errors, 25)["mean"], "at_05": min(1.0, acc(errors, 25)["mean"] + 0.1)},
               "recall_radius_m": 25.0}
    metrics = {"mean": {key[t]: round(100 * summary["accuracy"][key[t]]["mean"], 2) for t in THRESHOLDS}}
    curves = pd.DataFrame({"d_m": d})
    for c in [*names, "mean"]:
        curves[c] = [100 * acc(errors, x)[c] for x in d]
    for c in [*names, "mean"]:
        curves[f"upper_bound_{c}"] = [100 * acc(bound, x)[c] for x in d]
    out = root / "reports/eval" / method / f"seed{seed}" / testset
    write_json(summary, out / "summary.json")
    write_json(metrics, out / "metrics.json")
    curves.to_csv(out / "curves.csv", index=False)
    top1 = np.where(errors < 10, np.arange(n) % 230, (np.arange(n) + 50) % 230)
    if method == "triplet":
        top1 = top1 + 1
    retrievals = pd.DataFrame({"query": np.arange(n, dtype=np.int64), "condition": conditions,
                               "top1": top1.astype(np.int64), "error_m": errors})
    path = root / "data/eval" / method / f"seed{seed}" / testset / "retrievals.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    retrievals.to_parquet(path)


def write_layout(root: Path, methods: dict, seeds: list[int] = SEEDS, **sizes: Any) -> None:
    write_json({"read": 470, "kept": 460, "dropped": {"no_pose": 10}}, root / "reports/testsets/car.json")
    for testset in ("car", "pitt"):
        queries = make_queries(testset, **sizes)
        write_parquet(queries, root / f"data/testsets/{testset}/queries.parquet", TESTSET_IMAGES)
        reference = queries[queries["condition"] == queries["condition"].iloc[0]].assign(condition="overcast")
        write_parquet(reference, root / f"data/testsets/{testset}/reference.parquet", TESTSET_IMAGES)
        for method in methods:
            for seed in seeds:
                write_run(root, method, seed, testset, queries)
    # what the index and gradcam stages leave for Figure 2 and Figure 3
    train = make_queries("car", **sizes).rename(columns={"source": "traversal"})
    write_parquet(train[list(SPLIT_IMAGES)], root / "data/processed/train_images.parquet", SPLIT_IMAGES)
    write_json({"testset": "car", "seed": SEEDS[0], "condition": "night", "rows": list(methods), "queries": []},
               root / "reports/figure3/selection.json")
    for method in methods:
        for seed in seeds:
            best = 0 if method == "lazy_triplet" else 40
            out = root / "reports/train" / method / f"seed{seed}"
            write_json({"best_step": best}, out / "metrics.json")
            steps = np.arange(10, 81, 10)   # dvclive's logs: a tsv per metric (validation at 0, 40, 80)
            logs = {"train/loss.tsv": ("loss", steps, 1.0 / (1 + steps / 40 + seed)),
                    "train/lr.tsv": ("lr", steps, np.full(len(steps), 5e-4)),
                    "val/top1.tsv": ("top1", np.array([0, 40, 80]), 0.4 + np.array([0, 40, 80]) / 400)}
            for name, (column, step, value) in logs.items():
                path = out / "plots" / "metrics" / name
                path.parent.mkdir(parents=True, exist_ok=True)
                pd.DataFrame({"step": step, column: value}).to_csv(path, sep="\t", index=False)


def fake_params(methods: dict[str, dict] | None = None, seeds: list[int] = SEEDS, resamples: int = 500) -> Params:
    """The project's params.yaml with the fake layout's methods, seeds, test sets and report."""
    raw = read_params_yaml(ROOT / "params.yaml")
    raw["methods"] = methods or {"soft": {"loss": "soft_contrastive", "r1": 15, "r2": 15},
                                 "triplet": {"loss": "triplet", "r1": 10, "r2": 25},
                                 "lazy_triplet": {"loss": "lazy_triplet", "r1": 10, "r2": 25},
                                 "offtheshelf": {"loss": "none", "r1": 10, "r2": 25}}
    raw["seeds"] = seeds
    raw["model"].update(backbone="small", init="random", clusters=16, train_from_block=None)
    raw["testsets"] = {"car": {"format": "robotcar", "split": "data/processed/test", "images": raw["data"]["raw_root"],
                               "pca_fit": "train", "utm_zone": "30U"},
                       "pitt": {"format": "pittsburgh", "split": "data/pitt", "images": "data/pitt",
                                "pca_fit": "reference"}}
    raw["evaluate"].update(thresholds_m=THRESHOLDS, headline_m=10.0, curve_max_m=25.0)
    raw["report"] = {"table1": ["car", "pitt"], "variants": ["soft", "soft_linear"], "influence_method": "soft",
                     "reference": "soft", "baseline": "offtheshelf", "ranking": ["soft", "triplet", "offtheshelf"],
                     "bootstrap": {"resamples": resamples, "confidence": 0.95, "seed": 0, "block_m": None}}
    raw["gradcam"]["testset"] = "car"
    return validate_params(raw)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Params, dict[str, Path]]:
    root = tmp_path_factory.mktemp("project")
    params = fake_params()
    write_layout(root, params.methods)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / "params.yaml").write_text("seeds: [0, 1]\n")
    git = ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "add", "params.yaml"], check=True)
    subprocess.run([*git, "commit", "-qm", "init", "--date", "2026-01-02T03:04:05+00:00"], check=True,
                   env={"GIT_COMMITTER_DATE": "2026-01-02T03:04:05+00:00", "PATH": "/usr/bin:/bin"})
    return root, params, build_report(params, root)


def table_row(text: str, start: str) -> list[str]:
    line = next(line for line in text.splitlines() if line.startswith(f"| {start}"))
    return [c.strip() for c in line.strip("|").split("|")]


def test_table1_holds_the_seed_mean_and_spread_of_every_cell(built) -> None:
    root, params, out = built
    text = out["table"].read_text()
    header = table_row(text, "method")
    soft = table_row(text, "Soft contrastive [Thoma et al. 2020] (soft)")
    values = [[100 * json.loads((root / f"reports/eval/soft/seed{s}/car/summary.json").read_text())
               ["accuracy"]["at_10m"]["night"] for s in SEEDS]]
    column = header.index("car: night 10 m")
    mean, sd = re.match(r"\**([\d.]+) ±([\d.]+)", soft[column]).groups()
    assert float(mean) == pytest.approx(np.mean(values), abs=0.05)
    assert float(sd) == pytest.approx(np.std(values, ddof=1), abs=0.05)
    # Pittsburgh-style single-condition test set: one column group, in the mean over conditions.
    assert "pitt 10 m" in header and "mean 10 m" in header
    per_seed = []
    for s in SEEDS:
        car = json.loads((root / f"reports/eval/soft/seed{s}/car/summary.json").read_text())["accuracy"]["at_10m"]
        pitt = json.loads((root / f"reports/eval/soft/seed{s}/pitt/summary.json").read_text())["accuracy"]["at_10m"]
        per_seed.append(100 * np.mean([car["night"], car["sunny"], pitt["pitt"]]))
    assert float(soft[header.index("mean 10 m")].strip("*").split()[0]) == pytest.approx(np.mean(per_seed), abs=0.05)


MERGED = "Off-the-shelf (= 1 method that kept its initial weights)"


def test_identical_methods_are_one_row_and_differences_are_marked(built) -> None:
    _, _, out = built
    text = out["table"].read_text()
    accuracy, comparison = text.split("## ")[2:4]  # after the ranking sentence
    rows = [line for line in accuracy.splitlines() if line.startswith("| ") and "Off-the-shelf" in line]
    assert len(rows) == 1 and rows[0].startswith(f"| {MERGED} |")        # a short name, not the members
    footnote = f"{MERGED}: these methods retrieved the same reference for every query in every run"
    assert footnote in accuracy and "Lazy triplet [Uy and Lee 2018] (lazy_triplet) †" in accuracy
    assert "Off-the-shelf (small, random init) (offtheshelf)" in accuracy
    assert text.count("(lazy_triplet) †") == 2             # the footnote under each table, never in a cell
    # The second table: interval, gain over the untrained network, validation, kept initial, difference.
    header = table_row(comparison, "method")
    untrained = table_row(comparison, MERGED)
    assert untrained[-1].endswith("*")                    # soft far better: interval excludes 0
    triplet = table_row(comparison, "Triplet [Arandjelović et al. 2016]")
    assert triplet[-1].endswith("within noise")           # five queries worse, three better
    soft_row = table_row(comparison, "Soft contrastive")
    assert soft_row[-1] == "reference"
    gain = header.index("row − offtheshelf Δ mean 10 m [95%]")
    validation = header.index("validation top-1 initial → kept")
    kept = header.index("kept initial weights (best step 0)")
    assert re.fullmatch(r"[\d.]+ \[[\d.]+, [\d.]+\]", soft_row[header.index("mean 10 m [95%]")])
    assert soft_row[gain].startswith("+") and soft_row[gain].endswith("*")   # soft far better than untrained
    assert untrained[gain] == "baseline"
    assert triplet[gain].startswith("+")
    assert soft_row[validation] == "40.0 → 50.0"        # val 0.4 at step 0, 0.5 at its best step 40
    assert untrained[validation] == "40.0 → 40.0"       # early stopping kept step 0
    assert (untrained[kept], soft_row[kept]) == ("yes", "no")
    assert "early stopping kept the initial weights" in text
    assert "Multi" not in text and "Recall@N" in text
    assert "dropped.no_pose 10; kept 460; read 470" in text    # the testset stage counts


def test_report_names_the_commit_and_its_date_not_the_clock(built) -> None:
    root, _, out = built
    commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                            check=True).stdout.strip()
    for key in ("table", "index"):
        text = out[key].read_text()
        assert f"source commit {commit[:12]} (2026-01-02T03:04:05+00:00)" in text
        assert "DIRTY" not in text
    # Committing the report (an output) does not change the commit it names.
    git = ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "add", "-f", "reports/table1.md"], check=True)
    subprocess.run([*git, "commit", "-qm", "report"], check=True)
    assert git_state(root).commit == commit
    subprocess.run([*git, "reset", "-q", "--soft", "HEAD~1"], check=True)
    subprocess.run([*git, "rm", "-q", "--cached", "reports/table1.md"], check=True)


def test_a_dirty_checkout_is_flagged_with_its_changed_files(built) -> None:
    root, _, _ = built
    (root / "params.yaml").write_text("seeds: [0, 1, 2]\n")
    try:
        state = git_state(root)
        assert state.dirty and state.changed == ["params.yaml"]
        assert "DIRTY: uncommitted changes to params.yaml" in state.describe()
    finally:
        (root / "params.yaml").write_text("seeds: [0, 1]\n")


def test_staleness_is_detected_by_the_cli_and_the_page_carries_the_check(built) -> None:
    root, _, out = built
    assert check_inputs(root) == ([], [])
    page = out["index"].read_text()
    manifest = json.loads((root / "reports/report_inputs.json").read_text())["inputs"]
    assert "reports/eval/soft/seed1/pitt/summary.json" in manifest
    assert "data/eval/soft/seed0/car/retrievals.parquet" in manifest
    assert manifest["reports/eval/soft/seed0/car/summary.json"] in page
    assert 'id="freshness"' in page and "crypto.subtle.digest" in page
    summary = root / "reports/eval/triplet/seed0/car/summary.json"
    original = summary.read_bytes()
    try:
        summary.write_text(original.decode().replace("0.", "0.0", 1))
        changed, absent = check_inputs(root)
        assert changed == ["reports/eval/triplet/seed0/car/summary.json"] and absent == []
        cli = subprocess.run([sys.executable, "-m", "softloc.report", "--check", "--root", str(root)],
                             capture_output=True, text=True)
        assert cli.returncode == 1 and "STALE" in cli.stdout and "triplet/seed0/car/summary.json" in cli.stdout
    finally:
        summary.write_bytes(original)


def test_plot_data_and_figures(built) -> None:
    _, _, out = built
    accuracy = pd.read_csv(out["plot_accuracy"])
    assert set(accuracy["panel"]) == {"car: night", "car: sunny", "pitt", "mean over conditions"}
    assert set(accuracy["method"]) == {"soft", "triplet", "lazy_triplet", "offtheshelf", "upper bound"}
    assert accuracy["accuracy"].between(0, 100).all()
    assert set(pd.read_csv(out["plot_variants"])["method"]) == {"soft"}
    assert len(pd.read_csv(out["plot_train_val"])) == 4 * 2 * 3
    for key in ("curves", "variants", "influence", "training", "blocks"):
        assert out[key].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_dvc_metrics_are_compact_and_say_which_kept_the_init(built) -> None:
    _, _, out = built
    metrics = json.loads(out["metrics"].read_text())
    assert set(metrics) == {"soft", "triplet", "lazy_triplet", "offtheshelf"}
    assert set(metrics["soft"]) == {"mean", "night", "recall1", "kept_initial", "best_step"}
    assert set(metrics["offtheshelf"]) == {"mean", "night", "recall1"}        # untrained: no training facts
    assert metrics["soft"]["kept_initial"] == 0.0 and metrics["soft"]["best_step"] == 40.0   # share over 2 seeds
    assert metrics["lazy_triplet"]["kept_initial"] == 1.0 and metrics["lazy_triplet"]["best_step"] == 0.0
    same = ("mean", "night", "recall1")    # lazy_triplet kept the init: the off-the-shelf row's numbers
    assert [metrics["lazy_triplet"][k] for k in same] == [metrics["offtheshelf"][k] for k in same]
    assert metrics["soft"]["mean"] > metrics["offtheshelf"]["mean"]


def test_a_rerun_writes_byte_identical_files(built) -> None:
    root, params, out = built
    before = {k: p.read_bytes() for k, p in out.items()}
    again = build_report(params, root)
    changed = [k for k, p in again.items() if p.read_bytes() != before[k]]
    assert changed == []


def test_dvc_plots_read_the_files_the_report_writes_with_templates_that_exist() -> None:
    import yaml

    from softloc.report.plotdata import FILES

    project = Path(__file__).resolve().parents[1]
    plots = yaml.safe_load((project / "dvc.yaml").read_text())["plots"]
    written = {f"reports/{path}" for path in FILES.values()}
    for entry in plots:
        (name, spec), = entry.items()
        template = json.loads((project / ".dvc/plots" / f"{spec['template']}.json").read_text())
        text = json.dumps(template)
        assert '"<DVC_METRIC_DATA>"' in text and "<DVC_METRIC_X>" in text and "<DVC_METRIC_Y>" in text, name
        assert '"field": "method"' in text and '"field": "rev"' in text, name   # colour by method, dash by revision
        assert set(spec["y"]) <= written, name
        if spec["x"] == "d_m":   # accuracy charts: the same fixed axis in every revision
            assert template["spec"]["encoding"]["y"]["scale"]["domain"] == [0, 100]


@pytest.mark.slow
def test_full_size_report_fits_the_time_budget(tmp_path: Path) -> None:
    """13 methods x 3 seeds, a 1,200 m road in 4 conditions + 1,000 scattered queries, 2,000
    resamples: the report (bootstrap included) in well under the 30 s it may add to `make repro`
    (CPU time of this process, so that other load on the machine does not count)."""
    losses = ["soft_contrastive"] * 5 + ["triplet", "quadruplet", "lazy_triplet", "lazy_quadruplet",
                                         "triplet_huber", "logratio", "multisimilarity", "none"]
    methods = {f"m{i:02d}": {"loss": loss, "r1": 10, "r2": 25, "n_extra": 1 if "quadruplet" in loss else 0}
               for i, loss in enumerate(losses)}
    methods["soft"] = methods.pop("m00")
    methods["offtheshelf"] = methods.pop(f"m{len(losses) - 1:02d}")   # report.baseline: the untrained network
    params = fake_params(methods, seeds=[0, 1, 2], resamples=2000)
    write_layout(tmp_path, params.methods, seeds=[0, 1, 2], road_m=1200,
                 conditions_on_road=("night", "overcast", "snow", "sunny"), scattered=1000)
    (tmp_path / "params.yaml").write_text("seeds: [0, 1, 2]\n")
    start = time.process_time()
    build_report(params, tmp_path)
    cpu = time.process_time() - start
    print(f"full-size report: {cpu:.1f} s CPU")
    assert cpu < 20.0


def test_curve_axes_zoom_to_the_data() -> None:
    """Night and Pittsburgh curves near 0 get their own range; a full curve keeps 0-100."""
    from softloc.report.figures import zoomed_top

    assert zoomed_top([np.array([0.0, 1.1, 3.2]), np.array([0.5, 2.0])]) == 5.0       # at least 5 %
    assert zoomed_top([np.array([10.0, 40.0])]) == pytest.approx(44.0)
    assert zoomed_top([np.array([30.0, 95.0])]) == 100.0
    assert zoomed_top([np.array([np.nan])]) == 100.0


def test_the_report_says_whether_the_papers_ranking_holds(built) -> None:
    """One sentence near the top, naming each link of params report.ranking with its interval."""
    _, _, out = built
    text = out["table"].read_text()
    sentence = next(line for line in text.splitlines() if line.startswith("The paper's ranking"))
    assert "soft ≥ triplet > offtheshelf" in sentence
    assert re.search(r"soft − triplet [+-][\d.]+ \[[+-][\d.]+, [+-][\d.]+\]", sentence)
    assert ("holds here" in sentence) != ("does not reproduce" in sentence)
    assert text.index(sentence) < text.index("Table 1: localization accuracy")
