"""benchmarks/gpu_check.py part 2, extraction: softloc.features.extract_features from the store
(with PCA whitening, as the extract stage runs it) against the bare forward on device batches."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from gpu_check_table import Table, median_seconds, run_row
from gpu_check_world import Section, Sizes, configs

from softloc.features import Whitening, extract_features
from softloc.pca import Pca
from softloc.training import TrainData, Trainer


def check_extraction(sizes: Sizes, device: torch.device, data: TrainData, params: dict[str, Any], table: Table, tmp: Path) -> None:
    _, model, train = configs(sizes, device, params)
    trainer = Trainer("offtheshelf", Section(loss="none", r1=10, r2=25, n_extra=0), model, train, 0, data, tmp / "reports", tmp / "resume")
    net = trainer.net.eval()
    images = data.train.images[: sizes.extract_images]
    rng = np.random.default_rng(0)
    pca_dim = min(256, net.dim)
    whitening = Whitening(Pca(np.zeros(net.dim, np.float32), rng.standard_normal((net.dim, pca_dim)).astype(np.float32) / np.sqrt(net.dim), np.ones(pca_dim), 1e-9))
    batch = sizes.eval_batch
    on_device = [torch.from_numpy(np.array(images[s : s + batch])).to(device) for s in range(0, len(images), batch)]
    cuda = device.type == "cuda"

    whitening = whitening.to(device)

    def bare(_i: int) -> None:
        with torch.inference_mode():
            for x in on_device:
                with torch.autocast(device_type="cuda", dtype=torch.float16, enabled=cuda):
                    f = net(net.preprocess(x))
                whitening(f)  # in float32, outside autocast, as extract_features

    def stage(_i: int) -> None:
        extract_features(net, images, net.preprocess, batch_size=batch, device=device, whitening=whitening)

    bare_s = run_row(table, "extract", "bare forward", lambda: median_seconds(bare, 1, 2, device))
    stage_s = run_row(table, "extract", "extract_features from the store", lambda: median_seconds(stage, 1, 2, device))
    n = len(images)
    if bare_s is not None:
        table.add("extract", f"bare forward (fp16, batch {batch}, on the device)", n / bare_s, "img/s")
    if stage_s is not None:
        table.add("extract", "extract_features from the memory-mapped store", n / stage_s, "img/s",
                  f"{100 * bare_s / stage_s:.0f}% of bare" if bare_s else "", "store read + pin + copy in a thread, whitening")
