"""How much of a `dvc repro` is DVC's own fixed cost, and how much the stages' work (issue 18).

    .venv/bin/python benchmarks/bench_dvc_overhead.py [--project DIR] [-- dvc repro args...]

Runs `dvc repro` in DIR (default: the current directory) with a `python` shim first on PATH: every
stage command (`python -m pipeline.<stage> ...`) goes through the shim, which records when the
real interpreter started and ended. Then

    stage time  = the sum of the stage commands' wall times (their imports included),
    DVC's cost  = the whole `dvc repro` wall time minus the stage time
                  (graph and status, hashing deps and outs, run-cache, dvc.lock reads and writes),

and it prints both with the per-stage table, so the fixed cost per stage and its share of the
run are measured, not guessed. Nothing tracked is written: the timings go to stdout and to
reports/telemetry/dvc_overhead.json (git-ignored).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SHIM = """#!/bin/sh
start=$(date +%s.%N)
"{python}" "$@"
rc=$?
end=$(date +%s.%N)
echo "$start $end $*" >> "{log}"
exit $rc
"""


def run(project: Path, dvc_args: list[str]) -> dict:
    """Run `dvc repro` with the shim; the wall time, each stage command's span and the split."""
    python = Path(sys.executable)
    with tempfile.TemporaryDirectory() as tmp:
        shim_dir, log = Path(tmp) / "bin", Path(tmp) / "stages.log"
        shim_dir.mkdir()
        for name in ("python", "python3"):
            shim = shim_dir / name
            shim.write_text(SHIM.format(python=python, log=log))
            shim.chmod(0o755)
        env = {**os.environ, "PATH": f"{shim_dir}{os.pathsep}{python.parent}{os.pathsep}{os.environ['PATH']}"}
        dvc = shutil.which("dvc", path=str(python.parent)) or "dvc"
        start = time.perf_counter()
        subprocess.run([dvc, "repro", *dvc_args], cwd=project, env=env, check=True)
        wall = time.perf_counter() - start
        spans = [line.split(" ", 2) for line in log.read_text().splitlines()] if log.exists() else []
    stages = [{"command": cmd, "seconds": round(float(end) - float(begin), 2)} for begin, end, cmd in spans]
    stage_s = sum(s["seconds"] for s in stages)
    return {"wall_s": round(wall, 1), "stage_commands": len(stages), "stage_s": round(stage_s, 1),
            "dvc_s": round(wall - stage_s, 1), "dvc_share": round((wall - stage_s) / wall, 3) if wall else 0.0,
            "dvc_s_per_stage": round((wall - stage_s) / len(stages), 2) if stages else 0.0, "stages": stages}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, default=Path("."))
    parser.add_argument("dvc_args", nargs="*", help="arguments after `dvc repro` (e.g. -f, a target)")
    args = parser.parse_args()
    result = run(args.project.resolve(), args.dvc_args)
    for s in result["stages"]:
        print(f"{s['seconds']:8.1f} s  {s['command']}")
    print(f"dvc repro wall {result['wall_s']} s over {result['stage_commands']} stage commands: "
          f"stages {result['stage_s']} s, DVC's own cost {result['dvc_s']} s "
          f"({100 * result['dvc_share']:.1f} %, {result['dvc_s_per_stage']} s per stage)")
    out = args.project / "reports" / "telemetry" / "dvc_overhead.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
