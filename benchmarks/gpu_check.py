"""Device check at the paper's scale: is the GPU near its FLOP limit, and does our data path feed it?

    PYTHONUNBUFFERED=1 bash benchmarks/gpu_check.sh              # the GPU machine: <= 8 min on an H100
    bash benchmarks/gpu_check.sh --cpu --tiny                    # here: seconds (tests/test_gpu_check.py)

One run measures, in this order, and prints one table (also written to $OUT/gpu_check.md and
$OUT/gpu_check.json, rewritten after every row so a killed run keeps what it measured):

1. Training of VGG-16 + NetVLAD (64 clusters, longest side 240 px, tuples of 1 + 12 + 12 = 25
   images, the soft loss of params.yaml `methods.soft`, random init) in bf16 autocast: images/s
   of the model step on synthetic batches already on the GPU (eager NCHW, eager channels_last,
   + cudnn.benchmark, a larger batch, torch.compile), each against the FLOP limit (counted
   convolution FLOPs x 3 per trained image over --peak-tflops). Then the same step fed by our
   data path (tuples with hard negatives from the mining cache, reads from a memory-mapped
   store, pinned host-to-device copies), made serially at each step and fed by softloc.training's
   prefetcher (TupleFeed.step_batch: the next batch prepared in a thread, copied on a side
   stream); the ratio of step times is what the data path adds. Then the mining-cache refresh,
   amortised over its 250 steps.
2. Extraction images/s: softloc.features.extract_features from the store (with PCA whitening,
   as the extract stage runs it) against the bare forward on batches already on the GPU.
3. Exact top-1 search of 10k queries among 100k references of 256 dims: torch matmul + argmin on
   the device (data resident, and with the host copies), top-20, against faiss-cpu when it is
   importable (else the row says "faiss not installed") and torch on the CPU.

The modules beside this entry point, one part each: gpu_check_world (sizes, the store's world,
the params sections), gpu_check_train and gpu_check_datapath (1.), gpu_check_extract (2.),
gpu_check_search (3.), gpu_check_table (the table, the deadline, timing).

Only torch, numpy, pandas, scipy, opencv, tqdm and yaml are needed: softloc imports faiss, utm
and dvclive lazily, in functions this check never calls. `--cpu --tiny` runs the same code on
the CPU with a small backbone and sizes (torch.compile with the "eager" backend: dynamo's graph
capture without the C++/Triton compile). A deadline (--budget-s) skips what would not fit and
says so; a failing measurement becomes a FAILED row and the exit status is 1.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, Callable

os.environ.setdefault("TQDM_DISABLE", "1")  # no progress bars in the table's log (set before tqdm is imported)

import torch  # noqa: E402
import yaml  # noqa: E402
from gpu_check_datapath import DataPathCheck  # noqa: E402
from gpu_check_extract import check_extraction  # noqa: E402
from gpu_check_search import check_search  # noqa: E402
from gpu_check_table import Clock, Table, run_row  # noqa: E402
from gpu_check_train import TrainCheck  # noqa: E402
from gpu_check_world import FULL, TINY, build_world  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu", action="store_true", help="run on the CPU even when CUDA is present")
    parser.add_argument("--tiny", action="store_true", help="small backbone and sizes: seconds on a CPU")
    parser.add_argument("--out", default=os.environ.get("OUT", "reports/telemetry/gpu_check"), help="folder of gpu_check.md/json (default $OUT)")
    parser.add_argument("--peak-tflops", type=float, default=790.0, help="dense bf16 rate the FLOP limit is taken against")
    parser.add_argument("--budget-s", type=float, default=420.0, help="deadline: later parts are skipped past it")
    parser.add_argument("--tuples", type=int, default=None,
                        help="tuples per training step (params train.batch_tuples; default 4 full, 2 tiny); the larger batch is twice that")
    args = parser.parse_args(argv)
    if not args.cpu and not torch.cuda.is_available():
        parser.error("no CUDA device: run with --cpu (and --tiny here)")
    device = torch.device("cpu" if args.cpu else "cuda")
    sizes = TINY if args.tiny else FULL
    if args.tuples is not None:
        if args.tuples < 1:
            parser.error(f"--tuples {args.tuples}: at least 1")
        sizes = replace(sizes, tuples=args.tuples, big_tuples=2 * args.tuples)
    clock = Clock(args.budget_s)
    header = {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU ({os.cpu_count()} cores)",
              "torch": torch.__version__, "sizes": "tiny" if args.tiny else "full", "peak_tflops": args.peak_tflops,
              "python": sys.version.split()[0], "config": asdict(sizes)}
    table = Table(Path(args.out), header)
    print(f"gpu_check on {header['device']}, torch {torch.__version__}, sizes {header['sizes']}", flush=True)
    # read, not validated: the schema's pydantic is not on the GPU machine (the pipeline checks it)
    params = yaml.safe_load(Path("params.yaml").read_text())
    with tempfile.TemporaryDirectory(prefix="gpu_check_") as tmp_name:
        tmp = Path(tmp_name)
        data = build_world(sizes, tmp)
        train = run_row(table, "train", "setup", lambda: TrainCheck(sizes, device, data, params, table, args.peak_tflops, tmp))
        steps: list[tuple[str, Callable[[], Any]]] = []
        if train is not None:
            data_path = DataPathCheck(train)

            def compiled() -> None:
                net = train.compiled(clock)
                if net is not None:
                    data_path.run("compiled", net)

            steps += [("train", train.eager_variants), ("train", train.refresh), ("train", data_path.host_parts),
                      ("train", lambda: data_path.run("eager", train.eager))]
        steps += [("extract", lambda: check_extraction(sizes, device, data, params, table, tmp)),
                  ("search", lambda: check_search(sizes, device, table))]
        if train is not None:  # last: the one step whose duration is unknown cannot cost the others
            steps.append(("train", compiled))
        for section, fn in steps:
            if clock.left() <= 0:
                table.add(section, getattr(fn, "__name__", section), "skipped", "", "", "past --budget-s")
            else:
                run_row(table, section, getattr(fn, "__name__", section), fn)
    table.add("total", "wall time", time.perf_counter() - clock.start, "s")
    print()
    print(table.markdown())
    return 1 if table.failed else 0


if __name__ == "__main__":
    sys.exit(main())
