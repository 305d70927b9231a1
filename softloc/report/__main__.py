"""`python -m softloc.report`: write the report; `--check`: is the report older than its inputs?

    python -m softloc.report           read params.yaml and every evaluation, write reports/
    python -m softloc.report --check   exit 1 naming every input that changed since the report was
                                       written (0: current; inputs absent from disk are listed, not
                                       counted: a fresh clone has no data/ until `dvc pull`/`repro`)
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from softloc.params import load_params
from softloc.report import build_report
from softloc.report.provenance import MANIFEST, check_inputs


def check(root: Path) -> int:
    """Print the freshness of the report under `root`; 1 when stale."""
    changed, absent = check_inputs(root)
    if absent:
        print(f"not on disk, not checked ({len(absent)}): {', '.join(absent[:5])}{' ...' if len(absent) > 5 else ''}")
    if changed:
        print(f"STALE: the report ({root / MANIFEST}) is older than {len(changed)} of its inputs:")
        for path in changed[:20]:
            print(f"  {path}")
        if len(changed) > 20:
            print(f"  ... and {len(changed) - 20} more")
        print("rerun: dvc repro report")
        return 1
    print("report is current: every input on disk matches it")
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare the report's inputs with the files on disk")
    parser.add_argument("--root", type=Path, default=Path("."), help="project root (default: .)")
    args = parser.parse_args()
    if args.check:
        sys.exit(check(args.root))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    build_report(load_params(args.root / "params.yaml"), args.root)


if __name__ == "__main__":
    main()
