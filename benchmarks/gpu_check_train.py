"""benchmarks/gpu_check.py part 1, training: the model step on synthetic device batches against
the FLOP limit, eager and compiled, and the mining-cache refresh (the data path: gpu_check_datapath)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from gpu_check_table import Clock, Table, median_seconds, run_row, sync
from gpu_check_world import Sizes, configs

from softloc.training import TrainData, Trainer
from softloc.training.feed import refresh_cache
from softloc.training.prefetch import StepBatch


def flops_per_trained_image(net: torch.nn.Module, height: int, width: int, device: torch.device) -> float:
    """Convolution FLOPs of one forward (2 x MACs, hooks on every Conv2d) x 3 for forward + backward,
    less the first layer's input gradient (no one needs it)."""
    per_layer: list[float] = []

    def hook(module: torch.nn.Conv2d, _inputs: Any, output: torch.Tensor) -> None:
        kh, kw = module.kernel_size
        per_layer.append(2.0 * module.in_channels // module.groups * module.out_channels * kh * kw * output.shape[2] * output.shape[3])

    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    was_training = net.training
    try:
        with torch.no_grad():
            net.eval()(torch.zeros(1, 3, height, width, device=device).to(memory_format=torch.channels_last))
    finally:
        net.train(was_training)
        for h in handles:
            h.remove()
    return 3.0 * sum(per_layer) - per_layer[0]


class TrainCheck:
    """softloc.training's Trainer on the check's world: model steps on synthetic device batches, for
    the eager network and (last, see main) the compiled one; the mining-cache refresh."""

    def __init__(self, sizes: Sizes, device: torch.device, data: TrainData, params: dict[str, Any], table: Table,
                 peak_tflops: float, tmp: Path) -> None:
        self.sizes, self.device, self.data, self.table = sizes, device, data, table
        _, _, self.train_section = configs(sizes, device, params)
        self.trainer = Trainer("soft", *configs(sizes, device, params), 0, data, tmp / "reports", tmp / "resume")
        self.eager = self.trainer.net.train()
        self.m = self.trainer.feed.spec.size
        self.height, self.width = data.train.images.shape[1:3]
        flops = flops_per_trained_image(self.eager, self.height, self.width, device)
        self.limit = peak_tflops * 1e12 / flops
        table.add("train", "FLOPs per trained image (conv, fwd + bwd)", flops / 1e9, "GFLOP", f"limit {self.limit:,.0f} img/s at {peak_tflops:g} TFLOP/s")
        self.order = self.trainer.feed.sampler.epoch_order(np.random.default_rng(0))
        self.window = self.order[: sizes.refresh_steps * sizes.tuples]  # anchors whose features the cache holds
        self.eager_step_s: float | None = None

    def of_limit(self, rate: float) -> str:
        return f"{100 * rate / self.limit:.1f}% of FLOP limit" if self.device.type == "cuda" else "(FLOP limit: GPU only)"

    def synthetic(self, tuples: int) -> Callable[[int], float]:
        """A model step on fixed random uint8 images and positions already on the device."""
        gen = torch.Generator(device=self.device).manual_seed(0)
        images = torch.randint(0, 256, (tuples * self.m, self.height, self.width, 3), dtype=torch.uint8, device=self.device, generator=gen)
        positions = torch.rand((tuples, self.m, 2), device=self.device, generator=gen) * 30.0
        batch = StepBatch(np.zeros((tuples, self.m), np.int64), images, positions)
        return lambda _i: self.trainer.train_step(batch)

    def measure(self, variant: str, tuples: int) -> float:
        """Median step time on synthetic batches; adds the images/s row."""
        cuda = self.device.type == "cuda"
        if cuda:
            torch.cuda.reset_peak_memory_stats(self.device)
        seconds = median_seconds(self.synthetic(tuples), self.sizes.warmup_steps, self.sizes.steps, self.device)
        rate = tuples * self.m / seconds
        peak = f", peak {torch.cuda.max_memory_allocated(self.device) / 2**30:.1f} GiB" if cuda else ""
        self.table.add("train", f"synthetic, {variant}, {tuples}x{self.m} img", rate, "img/s", self.of_limit(rate), f"step {seconds * 1e3:.1f} ms{peak}")
        return seconds

    def eager_variants(self) -> None:
        """NCHW vs channels_last, then cudnn.benchmark (kept on for every later row) and a larger batch."""
        sizes = self.sizes
        self.eager.to(memory_format=torch.contiguous_format)
        run_row(self.table, "train", "synthetic, eager NCHW", lambda: self.measure("eager NCHW", sizes.tuples))
        self.eager.to(memory_format=torch.channels_last)
        run_row(self.table, "train", "synthetic, eager channels_last", lambda: self.measure("eager channels_last", sizes.tuples))
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True
        bench = "eager channels_last + cudnn.benchmark" if self.device.type == "cuda" else "eager channels_last (cudnn n/a)"
        self.eager_step_s = run_row(self.table, "train", f"synthetic, {bench}", lambda: self.measure(bench, sizes.tuples))
        run_row(self.table, "train", f"synthetic, {bench}, larger batch", lambda: self.measure(bench, sizes.big_tuples))

    def refresh(self) -> None:
        """The mining cache refresh (cache_size random images + the window's anchors), amortised per step."""
        tr = self.trainer

        def once() -> float:
            start = time.perf_counter()
            tr.state.cache = refresh_cache(tr.net, tr.sources.train, self.window, np.random.default_rng(1), self.train_section, tr.placement)
            sync(self.device)
            return time.perf_counter() - start

        once()  # warm-up: eval-mode kernels
        seconds = once()
        tr.net.train()
        n_images = len(tr.state.cache.rows) + len(tr.state.cache.anchor_rows)
        amortised = f"{100 * seconds / self.sizes.refresh_steps / self.eager_step_s:.1f}% of a step amortised over {self.sizes.refresh_steps} steps" if self.eager_step_s else ""
        self.table.add("train", f"mining cache refresh ({n_images} images)", seconds, "s", amortised)

    def compiled(self, clock: Clock) -> torch.nn.Module | None:
        """torch.compile of the network: first-step (compile) time and synthetic steps; returns the
        compiled network (None: skipped, too little time left) for the data-path rows."""
        sizes = self.sizes
        if clock.left() < sizes.compile_reserve_s:
            self.table.add("train", "torch.compile", "skipped", "", "", f"{clock.left():.0f} s left < {sizes.compile_reserve_s:.0f} s reserve")
            return None
        net = torch.compile(self.eager, backend=sizes.compile_backend)
        self.trainer.step_net = net
        step = self.synthetic(sizes.tuples)
        start = time.perf_counter()
        step(0)
        sync(self.device)
        self.table.add("train", f"torch.compile ({sizes.compile_backend}) first step", time.perf_counter() - start, "s", "", "compile time, paid once per run")
        seconds = self.measure(f"compiled ({sizes.compile_backend}) channels_last", sizes.tuples)
        if self.eager_step_s:
            self.table.add("train", "compiled vs eager (synthetic step)", self.eager_step_s / seconds, "x", "speed-up")
        return net
