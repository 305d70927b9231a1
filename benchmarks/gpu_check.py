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

Only torch, numpy, pandas, scipy, opencv, tqdm and yaml are needed: softloc imports faiss, utm
and dvclive lazily, in functions this check never calls. `--cpu --tiny` runs the same code on
the CPU with a small backbone and sizes (torch.compile with the "eager" backend: dynamo's graph
capture without the C++/Triton compile). A deadline (--budget-s) skips what would not fit and
says so; a failing measurement becomes a FAILED row and the exit status is 1.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable

os.environ.setdefault("TQDM_DISABLE", "1")  # no progress bars in the table's log

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
import yaml  # noqa: E402
from scipy.spatial import cKDTree  # noqa: E402

from softloc.features import Whitening, extract_features  # noqa: E402
from softloc.imagestore import open_store  # noqa: E402
from softloc.models import preprocess  # noqa: E402
from softloc.pca import Pca  # noqa: E402
from softloc.training import Split, TrainData, Trainer  # noqa: E402
from softloc.training.feed import refresh_cache  # noqa: E402
from softloc.training.prefetch import StepBatch, host_batch  # noqa: E402

TUPLE_RADIUS_M = 25.0  # neighbour lists reach this far (params tuples.max_radius_m)
SEARCH_GOAL_MS = 50.0  # issue 12: 10k x 100k x 256 on the GPU in <= 50 ms


@dataclass(frozen=True)
class Sizes:
    """Everything that differs between the device run and the tiny CPU run."""

    backbone: str
    small_channels: tuple[int, ...]
    clusters: int
    max_side: int
    n_close: int
    n_far: int
    tuples: int  # tuples per step (params train.batch_tuples)
    big_tuples: int  # the larger batch tried once
    warmup_steps: int
    steps: int
    route_m: int  # the store's world: a straight street of this length ...
    runs: int  # ... driven this many times, one frame per metre
    cache_size: int
    refresh_steps: int
    eval_batch: int
    extract_images: int
    queries: int
    references: int
    dim: int
    compile_backend: str
    compile_reserve_s: float  # torch.compile is skipped when less than this is left


FULL = Sizes("vgg16", (), 64, 240, 12, 12, 4, 8, 3, 20, 1000, 8, 1000, 250, 256, 8192, 10_000, 100_000, 256, "inductor", 200.0)
TINY = Sizes("small", (8, 16, 16, 16), 4, 32, 2, 2, 2, 4, 1, 3, 60, 4, 60, 4, 32, 240, 200, 2000, 32, "eager", 5.0)


class Table:
    """The check's rows, printed as they come and rewritten to OUT after each."""

    def __init__(self, out: Path, header: dict[str, Any]) -> None:
        self.out, self.header, self.rows = out, header, []
        out.mkdir(parents=True, exist_ok=True)

    def add(self, section: str, variant: str, value: float | str, unit: str, versus: str = "", note: str = "") -> None:
        row = {"section": section, "variant": variant, "value": value, "unit": unit, "vs": versus, "note": note}
        self.rows.append(row)
        print(f"[{section}] {variant}: {_fmt(value)} {unit}  {versus}  {note}".rstrip(), flush=True)
        self.write()

    @property
    def failed(self) -> bool:
        return any(r["value"] == "FAILED" for r in self.rows)

    def markdown(self) -> str:
        lines = [f"{k}: {v}" for k, v in self.header.items()] + ["", "| section | variant | value | unit | vs | note |", "|---|---|---:|---|---|---|"]
        lines += [f"| {r['section']} | {r['variant']} | {_fmt(r['value'])} | {r['unit']} | {r['vs']} | {r['note']} |" for r in self.rows]
        return "\n".join(lines) + "\n"

    def write(self) -> None:
        (self.out / "gpu_check.md").write_text(self.markdown())
        (self.out / "gpu_check.json").write_text(json.dumps({"header": self.header, "rows": self.rows}, indent=1))


def _fmt(value: float | str) -> str:
    if isinstance(value, str):
        return value
    return f"{value:.3g}" if abs(value) < 100 else f"{value:,.0f}"


class Clock:
    """Wall-clock deadline of the whole check."""

    def __init__(self, budget_s: float) -> None:
        self.start, self.budget_s = time.perf_counter(), budget_s

    def left(self) -> float:
        return self.budget_s - (time.perf_counter() - self.start)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_seconds(fn: Callable[[int], Any], warmup: int, steps: int, device: torch.device) -> float:
    """Median wall time of fn(i) over `steps` calls after `warmup` calls, the device synchronised around each."""
    times = []
    for i in range(warmup + steps):
        sync(device)
        start = time.perf_counter()
        fn(i)
        sync(device)
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


# -- the world: a straight street in a memory-mapped store --------------------------------------


def build_world(sizes: Sizes, tmp: Path) -> TrainData:
    """Random images of a `route_m` street driven `runs` times, as a memory-mapped store on disk.

    Anchors are the first run's frames; neighbour lists hold every image within TUPLE_RADIUS_M.
    """
    rng = np.random.default_rng(0)
    n = sizes.route_m * sizes.runs
    x = np.tile(np.arange(sizes.route_m, dtype=np.float64), sizes.runs) + rng.uniform(-0.3, 0.3, n)
    xy = np.c_[x, rng.normal(0.0, 1.0, n)]
    height, width = sizes.max_side * 3 // 4, sizes.max_side
    store = np.lib.format.open_memmap(tmp / "train_images.npy", mode="w+", dtype=np.uint8, shape=(n, height, width, 3))
    for start in range(0, n, 1024):
        stop = min(n, start + 1024)
        store[start:stop] = rng.integers(0, 256, size=(stop - start, height, width, 3), dtype=np.uint8)
    store.flush()
    del store
    images = open_store(tmp / "train_images.npy")
    tree = cKDTree(xy)
    anchors = []
    for a, nbr in zip(range(sizes.route_m), tree.query_ball_point(xy[: sizes.route_m], TUPLE_RADIUS_M)):
        nbr = np.array(sorted(set(nbr) - {a}), dtype=np.int64)
        d = np.hypot(*(xy[nbr] - xy[a]).T).astype(np.float32)
        anchors.append({"anchor": a, "neighbours": nbr, "distance_m": d, "yaw_diff_deg": np.zeros(len(nbr), np.float32)})
    val = Split(images[:64], xy[:64])
    return TrainData(Split(images, xy), np.zeros(n), pd.DataFrame(anchors), val, val, "gpu_check")


class Section(SimpleNamespace):
    """A params section as attributes, as softloc.training reads softloc.config's models (their
    model_dump too): pydantic is not on the GPU machine, so params.yaml is read without the schema."""

    def model_dump(self, exclude_unset: bool = False) -> dict[str, Any]:
        return {k: v.model_dump() if isinstance(v, Section) else v for k, v in vars(self).items()}


def configs(sizes: Sizes, device: torch.device, params: dict[str, Any]) -> tuple[Section, Section, Section]:
    """(method, model, train) sections: params.yaml's, with the check's sizes on top (seed 0)."""
    model = {**params["model"], "backbone": sizes.backbone, "init": "random", "clusters": sizes.clusters,
             "image_max_side": sizes.max_side}
    if sizes.small_channels:
        model["small_channels"] = list(sizes.small_channels)
    train = {**params["train"], "device": device.type, "amp": "bf16", "batch_tuples": sizes.tuples,
             "n_close": sizes.n_close, "n_far": sizes.n_far, "eval_batch_size": sizes.eval_batch,
             "checkpoint_every_steps": 0,
             "mining": Section(**{**params["train"]["mining"], "cache_size": sizes.cache_size, "refresh_steps": sizes.refresh_steps})}
    return Section(**params["methods"]["soft"]), Section(**model), Section(**train)


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


# -- 1. training ----------------------------------------------------------------------------------


class TrainCheck:
    """softloc.training's Trainer on the check's world: model steps on synthetic device batches and on
    our data path, for the eager network and (last, see main) the compiled one."""

    def __init__(self, sizes: Sizes, device: torch.device, data: TrainData, params: dict[str, Any], table: Table,
                 peak_tflops: float, tmp: Path) -> None:
        self.sizes, self.device, self.data, self.table = sizes, device, data, table
        _, _, self.train = configs(sizes, device, params)
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
            tr.state.cache = refresh_cache(tr.net, self.data, self.window, np.random.default_rng(1), self.train, tr.placement)
            sync(self.device)
            return time.perf_counter() - start

        once()  # warm-up: eval-mode kernels
        seconds = once()
        tr.net.train()
        n_images = len(tr.state.cache.rows) + len(tr.state.cache.anchor_rows)
        amortised = f"{100 * seconds / self.sizes.refresh_steps / self.eager_step_s:.1f}% of a step amortised over {self.sizes.refresh_steps} steps" if self.eager_step_s else ""
        self.table.add("train", f"mining cache refresh ({n_images} images)", seconds, "s", amortised)

    @property
    def window_steps(self) -> int:
        """Steps whose anchors the cache holds: the check cycles through them."""
        return len(self.window) // self.sizes.tuples

    def tuples_of(self, i: int) -> np.ndarray:
        b, s = self.sizes.tuples, i % self.window_steps
        return self.trainer.feed.build_tuples(self.window[s * b : (s + 1) * b], np.random.default_rng([0, i]), self.trainer.state.cache)

    def host_parts(self) -> None:
        """What the host spends per step: tuple sampling with hard negatives, store read + pin."""
        cpu, pin = torch.device("cpu"), self.device.type == "cuda"
        sample_s = median_seconds(self.tuples_of, 1, self.sizes.steps, cpu)
        self.table.add("train", "host: tuple sampling + hard negatives", sample_s * 1e3, "ms/step", f"{self.sizes.tuples} tuples")
        rows = self.tuples_of(0)
        read_s = median_seconds(lambda _i: host_batch(self.data.train.images, self.data.train.xy, rows, pin), 1, self.sizes.steps, cpu)
        self.table.add("train", "host: store read + pin", read_s * 1e3, "ms/step", f"{rows.size} images, {self.data.train.images[0].nbytes * rows.size / 1e6:.1f} MB")

    def data_path(self, name: str, net: torch.nn.Module) -> None:
        """Steps fed by our data path, serial and prefetched, against synthetic steps of the same network."""
        sizes, tr, b = self.sizes, self.trainer, self.sizes.tuples
        tr.step_net = net
        steps = min(self.window_steps, sizes.warmup_steps + sizes.steps)

        def serial() -> float:
            """Each step's batch made when the step starts (no feed)."""
            def step(i: int) -> float:
                s = i % steps
                return tr.train_step(tr.feed.prefetcher.take(("serial", i), lambda: tr.feed.host_batch(self.window, 0, s, tr.state.cache)))
            return median_seconds(step, sizes.warmup_steps, sizes.steps, self.device)

        def prefetched() -> float:
            """softloc.training's loop: TupleFeed.step_batch takes the prepared batch and starts the next."""
            times = []
            for i in range(sizes.warmup_steps + sizes.steps):
                sync(self.device)
                start = time.perf_counter()
                tr.train_step(tr.feed.step_batch(self.window, 0, i % steps, steps, tr.state.cache))
                if i >= sizes.warmup_steps:
                    times.append(time.perf_counter() - start)
            return statistics.median(times)

        reference = median_seconds(self.synthetic(b), sizes.warmup_steps, sizes.steps, self.device)  # measured beside it
        for variant, fn in (("made at each step", serial), ("fed (next batch prepared ahead)", prefetched)):
            seconds = run_row(self.table, "train", f"data path {name}, {variant}", fn)
            if seconds is not None:
                rate = b * self.m / seconds
                self.table.add("train", f"data path {name}, {variant}", rate, "img/s",
                               f"step {seconds / reference:.2f}x synthetic ({reference * 1e3:.1f} ms)", self.of_limit(rate))
        tr.step_net = self.eager

    def compiled(self, clock: Clock) -> None:
        """torch.compile of the network: first-step (compile) time, synthetic and data-path steps."""
        sizes = self.sizes
        if clock.left() < sizes.compile_reserve_s:
            self.table.add("train", "torch.compile", "skipped", "", "", f"{clock.left():.0f} s left < {sizes.compile_reserve_s:.0f} s reserve")
            return
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
        self.data_path("compiled", net)


# -- 2. extraction --------------------------------------------------------------------------------


def check_extraction(sizes: Sizes, device: torch.device, data: TrainData, params: dict[str, Any], table: Table, tmp: Path) -> None:
    _, model, train = configs(sizes, device, params)
    trainer = Trainer("offtheshelf", Section(loss="none", r1=10, r2=25), model, train, 0, data, tmp / "reports", tmp / "resume")
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
                    f = net(preprocess(x))
                whitening(f)  # in float32, outside autocast, as extract_features

    def stage(_i: int) -> None:
        extract_features(net, images, preprocess, batch_size=batch, device=device, whitening=whitening)

    bare_s = run_row(table, "extract", "bare forward", lambda: median_seconds(bare, 1, 2, device))
    stage_s = run_row(table, "extract", "extract_features from the store", lambda: median_seconds(stage, 1, 2, device))
    n = len(images)
    if bare_s is not None:
        table.add("extract", f"bare forward (fp16, batch {batch}, on the device)", n / bare_s, "img/s")
    if stage_s is not None:
        table.add("extract", "extract_features from the memory-mapped store", n / stage_s, "img/s",
                  f"{100 * bare_s / stage_s:.0f}% of bare" if bare_s else "", "store read + pin + copy in a thread, whitening")


# -- 3. search ------------------------------------------------------------------------------------


def top1_torch(reference: torch.Tensor, queries: torch.Tensor, chunk: int = 2048) -> torch.Tensor:
    """Exact top-1 by L2: argmin over ||r||^2 - 2 q.r, one addmm per chunk of queries (float32)."""
    ref_sq = (reference * reference).sum(dim=1)
    return torch.cat([torch.addmm(ref_sq, queries[s : s + chunk], reference.T, alpha=-2.0).argmin(dim=1) for s in range(0, len(queries), chunk)])


def topk_torch(reference: torch.Tensor, queries: torch.Tensor, k: int = 20, chunk: int = 2048) -> torch.Tensor:
    """Exact top-k by L2 (nearest first), as top1_torch."""
    ref_sq = (reference * reference).sum(dim=1)
    return torch.cat([torch.addmm(ref_sq, queries[s : s + chunk], reference.T, alpha=-2.0).topk(k, dim=1, largest=False).indices
                      for s in range(0, len(queries), chunk)])


def check_search(sizes: Sizes, device: torch.device, table: Table) -> None:
    rng = np.random.default_rng(0)
    reference = rng.standard_normal((sizes.references, sizes.dim), dtype=np.float32)
    reference /= np.linalg.norm(reference, axis=1, keepdims=True)
    queries = rng.standard_normal((sizes.queries, sizes.dim), dtype=np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    shape = f"{sizes.queries} x {sizes.references} x {sizes.dim}"
    ref_d, qry_d = torch.from_numpy(reference).to(device), torch.from_numpy(queries).to(device)
    check = np.arange(0, sizes.queries, max(1, sizes.queries // 256))
    ref64 = reference.astype(np.float64)
    truth = ((ref64 * ref64).sum(1)[None, :] - 2.0 * queries[check].astype(np.float64) @ ref64.T).argmin(1)  # float64 reference

    resident = run_row(table, "search", "torch top-1, data on the device", lambda: median_seconds(lambda _i: top1_torch(ref_d, qry_d), 2, 5, device))
    top1 = top1_torch(ref_d, qry_d).cpu().numpy()
    agree = float(np.mean(top1[check] == truth))
    if resident is not None:
        table.add("search", f"torch top-1 on {device.type}, data resident, {shape}", resident * 1e3, "ms",
                  f"goal <= {SEARCH_GOAL_MS:g} ms" if device.type == "cuda" else "", f"{100 * agree:.2f}% = float64 top-1 on {len(check)} queries")

    def with_copies(_i: int) -> np.ndarray:
        return top1_torch(torch.from_numpy(reference).to(device), torch.from_numpy(queries).to(device)).cpu().numpy()

    copies = run_row(table, "search", "torch top-1 incl. copies", lambda: median_seconds(with_copies, 1, 3, device))
    if copies is not None:
        table.add("search", f"torch top-1 on {device.type}, numpy in and out", copies * 1e3, "ms")
    k = run_row(table, "search", "torch top-20", lambda: median_seconds(lambda _i: topk_torch(ref_d, qry_d), 1, 3, device))
    if k is not None:
        table.add("search", f"torch top-20 on {device.type}, data resident", k * 1e3, "ms")
    try:
        import faiss  # noqa: F401
    except ImportError:
        table.add("search", "faiss-cpu", "faiss not installed", "", "", "softloc.retrieval.search_top1 needs faiss")
    else:
        from softloc.retrieval import search_top1

        def faiss_search() -> float:
            start = time.perf_counter()
            found = search_top1(reference, queries)
            seconds = time.perf_counter() - start
            table.add("search", f"faiss (softloc.retrieval.search_top1), {shape}", seconds * 1e3, "ms",
                      f"{seconds / resident:.1f}x torch on {device.type}" if resident else "", f"{100 * np.mean(found == top1):.2f}% same top-1 as torch")
            return seconds

        run_row(table, "search", "faiss", faiss_search)
    if device.type == "cuda":
        def tf32() -> float:
            torch.backends.cuda.matmul.allow_tf32 = True
            try:
                seconds = median_seconds(lambda _i: top1_torch(ref_d, qry_d), 2, 5, device)
                found = top1_torch(ref_d, qry_d).cpu().numpy()
            finally:
                torch.backends.cuda.matmul.allow_tf32 = False
            table.add("search", "torch top-1 on cuda, TF32 matmul, data resident", seconds * 1e3, "ms", "",
                      f"{100 * np.mean(found[check] == truth):.2f}% = float64 top-1 (not exact)")
            return seconds

        run_row(table, "search", "torch top-1 TF32", tf32)
        cpu_ref, cpu_qry = torch.from_numpy(reference), torch.from_numpy(queries)
        cpu = run_row(table, "search", "torch top-1 on the CPU", lambda: median_seconds(lambda _i: top1_torch(cpu_ref, cpu_qry), 0, 1, torch.device("cpu")))
        if cpu is not None:
            table.add("search", f"torch top-1 on the CPU ({torch.get_num_threads()} threads)", cpu * 1e3, "ms", f"{cpu / resident:.0f}x the GPU" if resident else "")


def run_row(table: Table, section: str, variant: str, fn: Callable[[], Any]) -> Any:
    """Run one measurement; a failure becomes a FAILED row (with the error) and returns None."""
    try:
        return fn()
    except Exception as err:  # noqa: BLE001 - one broken measurement must not lose the others
        traceback.print_exc()
        table.add(section, variant, "FAILED", "", "", f"{type(err).__name__}: {err}"[:300])
        return None


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
            steps += [("train", train.eager_variants), ("train", train.refresh), ("train", train.host_parts),
                      ("train", lambda: train.data_path("eager", train.eager))]
        steps += [("extract", lambda: check_extraction(sizes, device, data, params, table, tmp)),
                  ("search", lambda: check_search(sizes, device, table))]
        if train is not None:  # last: the one step whose duration is unknown cannot cost the others
            steps.append(("train", lambda: train.compiled(clock)))
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
