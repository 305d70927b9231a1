"""benchmarks/gpu_check.py part 3, search: exact top-1 of many queries among many references,
torch matmul + argmin on the device (data resident, and with the host copies), top-20, against
faiss-cpu when importable and torch on the CPU."""

from __future__ import annotations

import time

import numpy as np
import torch
from gpu_check_table import Table, median_seconds, run_row
from gpu_check_world import Sizes

SEARCH_GOAL_MS = 50.0  # issue 12: 10k x 100k x 256 on the GPU in <= 50 ms


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
