#!/usr/bin/env bash
# The device check of issue 12 (benchmarks/gpu_check.py says what it measures). Run from anywhere:
#   PYTHONUNBUFFERED=1 bash benchmarks/gpu_check.sh            # GPU machine, its own python3; table in $OUT
#   bash benchmarks/gpu_check.sh --cpu --tiny                 # CPU, seconds
# PYTHON picks the interpreter (default python3); the repository root goes first on PYTHONPATH, so
# the checkout's softloc is imported without installing it.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
exec "${PYTHON:-python3}" benchmarks/gpu_check.py "$@"
