"""Stage train@<method>-<seed>: train one method of params.yaml `methods` from one seed.

    python -m pipeline.train <method> <seed>

Reads params model, aggregators, train, pca (validation whitens as the test does),
methods.<method> (its `aggregator`, if any, replaces model.aggregator); data/processed/{train_images,train_anchors,
val_reference,val_queries}.parquet and data/processed/images/. The seed draws the initial
weights and every random choice of training. Writes models/<method>/seed<seed>/model.pt and the
dvclive logs + metrics.json under reports/train/<method>/seed<seed>/ (deterministic: no
wall-clock figure; timings go to reports/telemetry/, which is not tracked). A killed run resumes
from models/.resume/ (not a DVC output, so DVC does not delete it before the rerun).

With train.nproc_per_node > 1 the stage runs itself again under torchrun, one process per GPU
(softloc.training.distributed: DistributedDataParallel, the same result as one process); rank 0 alone
writes the model, logs and checkpoints.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from pipeline import run_stage
from softloc.training import distributed, load_train_data, pick_device, train_method

log = logging.getLogger("pipeline.train")


def main() -> None:
    run, params = run_stage(__doc__, with_testset=False)
    method, train = params.methods[run.method], params.train
    nproc = train.nproc_per_node
    if nproc > 1 and method.loss != "none" and "WORLD_SIZE" not in os.environ:
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
                   "-m", "pipeline.train", run.method, str(run.seed)]
        log.info("launching %d processes: %s", nproc, " ".join(command))
        os.execv(sys.executable, command)  # this process becomes torchrun: a kill reaches it directly
    if not distributed.init_from_env(pick_device(train.device).type).is_main:
        logging.disable(logging.INFO)  # rank 0 tells the story; the others report only problems
    data = load_train_data("data/processed")
    log.info("training %s seed %d: %r (%r)", run.method, run.seed, method, params.model)
    summary = train_method(
        run.method, method, params.model, train, run.seed, data,
        model_path=run.model_dir / "model.pt",
        report_dir=run.train_report_dir,
        resume_root=Path("models/.resume") / f"seed{run.seed}",
        telemetry_path=Path("reports/telemetry/train") / run.method / f"seed{run.seed}.json",
        aggregators=params.aggregators,
        pca=params.pca,
    )
    log.info("done %s seed %d: %s", run.method, run.seed, summary)


if __name__ == "__main__":
    main()
