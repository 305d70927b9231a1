"""Stage report: Table 1, Figures 1 and 4 and reports/index.html from every method's evaluation.

    python -m pipeline.report

Reads params.yaml (methods, model, evaluate, report) and reports/eval/<method>/{metrics.json,
curves.csv} for every method and reports/train/<method>/metrics.json (rows that kept the initial
weights are marked); writes reports/table1.md, reports/figures/*.png, reports/index.html.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pipeline import setup_logging
from softloc.params import load_params
from softloc.report import build_report


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    setup_logging()
    build_report(load_params(), Path("reports/eval"), Path("reports"), train_root=Path("reports/train"))


if __name__ == "__main__":
    main()
