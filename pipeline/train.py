"""Stage train@<method>: train one method of params.yaml `methods` (or initialise it: loss none).

    python -m pipeline.train <method>
Reads params model, train, methods.<method>; data/processed/{train_images,train_anchors,
val_reference,val_queries}.parquet and data/processed/images/. Writes models/<method>/model.pt and
dvclive logs + metrics.json under reports/train/<method>/. A killed run resumes from
models/.resume/<method>/ (not a DVC out, so DVC does not delete it before the rerun).
"""

from __future__ import annotations

import logging
from pathlib import Path

from pipeline import method_stage
from softloc.train import load_train_data, train_method

log = logging.getLogger("pipeline.train")


def main() -> None:
    method, params = method_stage(__doc__)
    methods = params["methods"]
    data = load_train_data("data/processed")
    log.info("training %s: %s (model %s)", method, methods[method], params["model"])
    summary = train_method(
        method,
        methods[method],
        params["model"],
        params["train"],
        data,
        model_path=Path("models") / method / "model.pt",
        report_dir=Path("reports/train") / method,
        resume_root=Path("models/.resume"),
    )
    log.info("done %s: %s", method, summary)


if __name__ == "__main__":
    main()
