"""Stage train@<method>: train one method of params.yaml `methods` (or initialise it: loss none).

    python -m pipeline.train <method>
Reads params model, train, methods.<method>; data/processed/{train_images,train_anchors,
val_reference,val_queries}.parquet and data/processed/images/. Writes models/<method>/model.pt and
dvclive logs + metrics.json under reports/train/<method>/. A killed run resumes from
models/.resume/<method>/ (not a DVC out, so DVC does not delete it before the rerun).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from softloc.params import load_params
from softloc.train import load_train_data, train_method

log = logging.getLogger("pipeline.train")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("method", help="a key of params.yaml `methods`")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    params = load_params()
    methods = params.get("methods") or {}
    if args.method not in methods:
        raise SystemExit(f"params.yaml methods has no {args.method!r}; known: {sorted(methods)}")
    data = load_train_data("data/processed")
    log.info("training %s: %s (model %s)", args.method, methods[args.method], params["model"])
    summary = train_method(
        args.method,
        methods[args.method],
        params["model"],
        params["train"],
        data,
        model_path=Path("models") / args.method / "model.pt",
        report_dir=Path("reports/train") / args.method,
        resume_root=Path("models/.resume"),
    )
    log.info("done %s: %s", args.method, summary)


if __name__ == "__main__":
    main()
