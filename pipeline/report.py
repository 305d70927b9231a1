"""Stage report: Table 1 (seeds, intervals), Figures 1 and 4, training curves, DVC plot data and
reports/index.html from every (method, seed, test set) evaluation.

    python -m pipeline.report

Reads params.yaml (methods, seeds, testsets, model, evaluate, report) and the evaluate / train /
testset outputs (softloc.report.results lists them); writes reports/table1.md, reports/index.html,
reports/figures/*.png, reports/plots/*.csv, reports/metrics.json and reports/report_inputs.json.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pipeline import setup_logging, stage_params
from softloc.report import build_report


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    setup_logging()
    build_report(stage_params(), Path("."))


if __name__ == "__main__":
    main()
