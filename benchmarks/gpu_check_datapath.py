"""benchmarks/gpu_check.py part 1, the data path: what the host spends per step (tuple sampling with
hard negatives, store read + pin), and training steps fed by it, made serially at each step and
prefetched as softloc.training runs them, against synthetic steps of the same network."""

from __future__ import annotations

import statistics
import time

import numpy as np
import torch
from gpu_check_table import median_seconds, run_row, sync
from gpu_check_train import TrainCheck

from softloc.training.prefetch import host_batch


class DataPathCheck:
    """The data-path rows of a TrainCheck's trainer, over the anchors its mining cache holds."""

    def __init__(self, train: TrainCheck) -> None:
        self.train, self.trainer, self.table = train, train.trainer, train.table
        self.sizes, self.device, self.data = train.sizes, train.device, train.data

    @property
    def window_steps(self) -> int:
        """Steps whose anchors the cache holds: the check cycles through them."""
        return len(self.train.window) // self.sizes.tuples

    def tuples_of(self, i: int) -> np.ndarray:
        b, s = self.sizes.tuples, i % self.window_steps
        return self.trainer.feed.build_tuples(self.train.window[s * b : (s + 1) * b], np.random.default_rng([0, i]), self.trainer.state.cache)

    def host_parts(self) -> None:
        """What the host spends per step: tuple sampling with hard negatives, store read + pin."""
        cpu, pin = torch.device("cpu"), self.device.type == "cuda"
        sample_s = median_seconds(self.tuples_of, 1, self.sizes.steps, cpu)
        self.table.add("train", "host: tuple sampling + hard negatives", sample_s * 1e3, "ms/step", f"{self.sizes.tuples} tuples")
        rows = self.tuples_of(0)
        read_s = median_seconds(lambda _i: host_batch(self.data.train.images, self.data.train.xy, rows, pin), 1, self.sizes.steps, cpu)
        self.table.add("train", "host: store read + pin", read_s * 1e3, "ms/step", f"{rows.size} images, {self.data.train.images[0].nbytes * rows.size / 1e6:.1f} MB")

    def run(self, name: str, net: torch.nn.Module) -> None:
        """Steps fed by our data path, serial and prefetched, against synthetic steps of the same network."""
        sizes, tr, b = self.sizes, self.trainer, self.sizes.tuples
        tr.step_net = net
        steps = min(self.window_steps, sizes.warmup_steps + sizes.steps)

        def serial() -> float:
            """Each step's batch made when the step starts (no feed)."""
            def step(i: int) -> float:
                s = i % steps
                return tr.train_step(tr.feed.prefetcher.take(("serial", i), lambda: tr.feed.host_batch(self.train.window, 0, s, tr.state.cache)))
            return median_seconds(step, sizes.warmup_steps, sizes.steps, self.device)

        def prefetched() -> float:
            """softloc.training's loop: TupleFeed.step_batch takes the prepared batch and starts the next."""
            times = []
            for i in range(sizes.warmup_steps + sizes.steps):
                sync(self.device)
                start = time.perf_counter()
                tr.train_step(tr.feed.step_batch(self.train.window, 0, i % steps, steps, tr.state.cache))
                if i >= sizes.warmup_steps:
                    times.append(time.perf_counter() - start)
            return statistics.median(times)

        reference = median_seconds(self.train.synthetic(b), sizes.warmup_steps, sizes.steps, self.device)  # measured beside it
        for variant, fn in (("made at each step", serial), ("fed (next batch prepared ahead)", prefetched)):
            seconds = run_row(self.table, "train", f"data path {name}, {variant}", fn)
            if seconds is not None:
                rate = b * self.train.m / seconds
                self.table.add("train", f"data path {name}, {variant}", rate, "img/s",
                               f"step {seconds / reference:.2f}x synthetic ({reference * 1e3:.1f} ms)", self.train.of_limit(rate))
        tr.step_net = self.train.eager
