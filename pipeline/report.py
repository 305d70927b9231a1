"""Stage report: Table 1, Figures 1 and 4 and reports/index.html from every method's evaluation.

    python -m pipeline.report

Reads params.yaml (methods, seeds, testsets, model, evaluate, report) and the evaluate stage's
reports/eval/<method>/seed<seed>/<testset>/{summary.json,curves.csv}; writes reports/table1.md,
reports/figures/*.png, reports/index.html. (Interim: Table 1 of the first seed on the first test
set, until the report reads every seed and test set.)
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import pandas as pd

from pipeline import setup_logging, stage_params
from softloc.report import build_report


def legacy_layout(params: dict, root: Path) -> Path:
    """The first seed's evaluation on the first test set, in the layout build_report reads."""
    seed, testset = params["seeds"][0], next(iter(params["testsets"]))
    for method in params["methods"]:
        src = Path("reports/eval") / method / f"seed{seed}" / testset
        summary = json.loads((src / "summary.json").read_text())
        metrics = {part: summary[part] for part in ("accuracy", "upper_bound")}
        metrics["n_queries"] = summary["n_queries"]
        curves = pd.read_csv(src / "curves.csv")
        old = pd.DataFrame({"d_m": curves["d_m"], "accuracy": curves["mean"] / 100,
                            "upper_bound": curves["upper_bound_mean"] / 100})
        for condition in summary["n_queries"]:
            old[f"accuracy_{condition}"] = curves[condition] / 100
            old[f"upper_bound_{condition}"] = curves[f"upper_bound_{condition}"] / 100
        out = root / method
        out.mkdir(parents=True)
        (out / "metrics.json").write_text(json.dumps(metrics))
        old.to_csv(out / "curves.csv", index=False)
        train = Path("reports/train") / method / f"seed{seed}" / "metrics.json"
        (root / "train" / method).mkdir(parents=True)
        (root / "train" / method / "metrics.json").write_text(train.read_text())
    return root


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    setup_logging()
    params = stage_params()
    with tempfile.TemporaryDirectory() as tmp:
        root = legacy_layout(params, Path(tmp))
        build_report(params, root, Path("reports"), train_root=root / "train")


if __name__ == "__main__":
    main()
