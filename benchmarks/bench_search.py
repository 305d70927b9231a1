"""Exact top-1 search of 10k queries among 100k references (256-d, L2-normalised): faiss vs brute force.

    .venv/bin/python benchmarks/bench_search.py [--queries 10000] [--references 100000] [--dim 256] [--repeats 2]

Times softloc.retrieval.search_top1 (faiss flat index, index build included) against plain numpy
and torch brute force on the same random data, checks that all three return the same rows, and
prints the arithmetic each needs (2 * Q * R * dim flops) against the machine's measured matmul rate.
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Callable

import numpy as np
import torch

from softloc.retrieval import search_top1, search_top1_numpy

DEFAULT_TILE = (4096, 1024)  # faiss's own distance_compute_blas_{query,database}_bs


def search_top1_torch(reference: np.ndarray, queries: np.ndarray, chunk: int = 512) -> np.ndarray:
    """Plain torch brute force: argmin over ||r||^2 - 2 q.r (one fused addmm per chunk of queries)."""
    ref = torch.from_numpy(reference)
    ref_sq = (ref * ref).sum(dim=1)
    q = torch.from_numpy(queries)
    return torch.cat([torch.addmm(ref_sq, q[s:s + chunk], ref.T, alpha=-2.0).argmin(dim=1)
                      for s in range(0, len(q), chunk)]).numpy()


def search_top1_default_tile(reference: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """softloc's faiss search with faiss's default BLAS tile instead of softloc.retrieval.CPU_TILE."""
    return search_top1(reference, queries, cpu_tile=DEFAULT_TILE)


def best_time(fn: Callable[[], np.ndarray], repeats: int) -> tuple[float, np.ndarray]:
    """Best wall time of `repeats` calls, and the last result."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def matmul_gflops(n: int = 2048) -> float:
    """The machine's float32 matmul rate (numpy BLAS), best of 3, in GFLOP/s."""
    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    seconds, _ = best_time(lambda: a @ a, 3)
    return 2 * n**3 / seconds / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument("--references", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    reference = rng.standard_normal((args.references, args.dim), dtype=np.float32)
    reference /= np.linalg.norm(reference, axis=1, keepdims=True)
    queries = rng.standard_normal((args.queries, args.dim), dtype=np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    flops = 2.0 * args.queries * args.references * args.dim
    rate = matmul_gflops()
    print(f"{args.queries} queries x {args.references} references x {args.dim} dims; "
          f"{os.cpu_count()} CPUs, torch threads {torch.get_num_threads()}")
    print(f"arithmetic: {flops / 1e9:.0f} GFLOP; measured float32 matmul rate {rate:.1f} GFLOP/s "
          f"-> floor {flops / 1e9 / rate:.2f} s for any exact brute-force search")
    results = {}
    searches = (("faiss", search_top1), ("faiss (default tile)", search_top1_default_tile),
                ("numpy", search_top1_numpy), ("torch", search_top1_torch))
    for name, fn in searches:
        seconds, results[name] = best_time(lambda fn=fn: fn(reference, queries), args.repeats)
        print(f"{name:20s} {seconds:7.3f} s  ({args.queries / seconds:9.0f} queries/s, "
              f"{flops / seconds / 1e9:6.1f} GFLOP/s)")
    for name in ("faiss (default tile)", "numpy", "torch"):
        agree = np.mean(results[name] == results["faiss"])
        print(f"faiss vs {name}: {100 * agree:.3f}% identical top-1 rows")


if __name__ == "__main__":
    main()
