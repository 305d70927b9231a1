"""Are the outputs in a workspace byte-identical to the ones a dvc.lock recorded?

    .venv/bin/python benchmarks/compare_outputs.py OLD_DVC_LOCK [--project DIR]

For every output of every stage in OLD_DVC_LOCK (a file, or a folder's `.dir` hash), hash the
same path in DIR the way DVC does (md5 of a file's bytes; a folder's md5 over its sorted
(relpath, md5) listing) and compare. The stage layout of DIR's dvc.yaml may differ from the one
that wrote OLD_DVC_LOCK (stages merged, folders declared instead of their subfolders): only the
paths are compared. Exit status 1 names every path that differs or is missing. A redesign that
must not change any result (issue 18) is checked with it against the committed dvc.lock.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import yaml


def file_md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def dir_md5(path: Path) -> str:
    """DVC 3's `.dir` hash: md5 of the JSON list of {md5, relpath} sorted by relpath."""
    entries = [{"md5": file_md5(p), "relpath": p.relative_to(path).as_posix()}
               for p in sorted(path.rglob("*")) if p.is_file()]
    entries.sort(key=lambda e: e["relpath"])
    return hashlib.md5(json.dumps(entries, sort_keys=True).encode("utf-8")).hexdigest() + ".dir"


def recorded_outputs(lock: Path, names: set[str] | None = None) -> dict[str, str]:
    """{output path: md5 (folders end in .dir)} of every stage in a dvc.lock (of `names` alone if given)."""
    stages = yaml.safe_load(lock.read_text())["stages"]
    return {out["path"]: out["md5"] for name, stage in stages.items() if names is None or name in names
            for out in stage.get("outs", [])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old_lock", type=Path)
    parser.add_argument("--project", type=Path, default=Path("."))
    parser.add_argument("--stages", type=Path, help="file of stage names, one a line: compare their outputs alone")
    parser.add_argument("--ignore", nargs="*", default=[], help="output paths to skip (e.g. reports/index.html)")
    args = parser.parse_args()
    differ = []
    names = set(args.stages.read_text().split()) if args.stages else None
    outputs = recorded_outputs(args.old_lock, names)
    for path, md5 in sorted(outputs.items()):
        if path in args.ignore:
            continue
        here = args.project / path
        now = dir_md5(here) if md5.endswith(".dir") and here.is_dir() else file_md5(here) if here.is_file() else None
        if now != md5:
            differ.append(f"{path}: recorded {md5}, now {now or 'missing'}")
    print(f"{len(outputs) - len(differ) - len(args.ignore)} of {len(outputs) - len(args.ignore)} recorded outputs "
          f"byte-identical" + (f" ({len(args.ignore)} skipped)" if args.ignore else ""))
    for line in differ:
        print("  DIFFERS", line)
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
