"""Checks before any work: params.yaml against its schema and every input path it names.

    python -m pipeline.check [--params params.yaml] [--dvc-yaml dvc.yaml]

`make repro` runs it before `dvc repro`: DVC hashes a stage's dependencies before it runs the
command, so a missing `${data.raw_root}` fails inside DVC with a bare "[Errno 2] No such file or
directory" that names no params key. This check names the key and its value instead. A path that
a stage of dvc.yaml writes (data/raw/synthetic, data/processed/test, ...) may be missing: DVC
writes it before any stage reads it. The stages that read an input path check it too, with the
same message (`stage_params(inputs=...)`), for a stage run outside make.
Outputs are never at risk either way: every output in dvc.yaml is `persist: true`, so DVC keeps
them when a stage fails (tests/test_outputs_kept.py).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pipeline import check_inputs, input_paths, stage_outputs, stage_params


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--dvc-yaml", default="dvc.yaml", type=Path)
    args = parser.parse_args(argv)
    params = stage_params(args.params)
    check_inputs(params, input_paths(params), args.params, stage_outputs(args.dvc_yaml))
    print(f"{args.params}: schema and input paths ok")


if __name__ == "__main__":
    main()
