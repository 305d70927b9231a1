"""Nearest-neighbour retrieval of query features among reference features with faiss.

Exact search by L2 distance (for L2-normalised features the same order as cosine similarity):
a faiss GPU flat index when faiss was built with GPU support and a GPU is visible, the CPU
flat index otherwise. `search_top1_numpy` is the plain brute-force reference for tests and
benchmarks.
"""

from __future__ import annotations

import numpy as np

# faiss's CPU flat search computes distances by BLAS in tiles of (queries x references); its
# default tile (4096 x 1024) spends a large share of the time outside the matrix product on this
# 2-core machine; (1024 x 16384) measured 1.1-1.5x faster (benchmarks/bench_search.py compares both).
CPU_TILE = (1024, 16384)


def faiss_gpu_available() -> bool:
    """True when the installed faiss has GPU support and sees at least one GPU."""
    import faiss

    return hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0


def search_top1(reference: np.ndarray, queries: np.ndarray, cpu_tile: tuple[int, int] = CPU_TILE) -> np.ndarray:
    """Exact top-1 search by L2 distance; returns for each query the row of its nearest reference.

    `cpu_tile` is faiss's BLAS tile (queries, references) on the CPU; it changes speed only.
    """
    return search_topk(reference, queries, 1, cpu_tile)[0][:, 0]


def search_topk(reference: np.ndarray, queries: np.ndarray, k: int,
                cpu_tile: tuple[int, int] = CPU_TILE) -> tuple[np.ndarray, np.ndarray]:
    """Exact k-nearest search by L2 distance: (Q, k) reference rows, best first, and their
    squared distances. k is capped at the number of references."""
    import faiss

    reference = _as_float32(reference, "reference")
    queries = _as_float32(queries, "queries")
    if reference.shape[1] != queries.shape[1]:
        raise ValueError(f"feature dims differ: reference {reference.shape}, queries {queries.shape}")
    if len(reference) == 0:
        raise ValueError("search: no reference features to search")
    index = faiss.IndexFlatL2(reference.shape[1])
    if faiss_gpu_available():
        gpu_resources = faiss.StandardGpuResources()  # must outlive the GPU index: kept until return
        index = faiss.index_cpu_to_gpu(gpu_resources, 0, index)
    else:
        faiss.cvar.distance_compute_blas_query_bs, faiss.cvar.distance_compute_blas_database_bs = cpu_tile
    index.add(reference)
    distances, idx = index.search(queries, min(int(k), len(reference)))
    return idx.astype(np.int64), distances


def search_top1_numpy(reference: np.ndarray, queries: np.ndarray, chunk: int = 512) -> np.ndarray:
    """Plain numpy brute force: argmin over ||r||^2 - 2 q.r, in chunks of queries (one reused buffer)."""
    reference = _as_float32(reference, "reference")
    queries = _as_float32(queries, "queries")
    ref_sq = np.einsum("ij,ij->i", reference, reference)
    scores = np.empty((min(chunk, len(queries)), len(reference)), dtype=np.float32)
    top1 = np.empty(len(queries), dtype=np.int64)
    for start in range(0, len(queries), chunk):
        block = scores[: len(queries[start:start + chunk])]
        np.matmul(queries[start:start + chunk], reference.T, out=block)
        block *= -2.0
        block += ref_sq
        top1[start:start + len(block)] = block.argmin(axis=1)
    return top1


def _as_float32(x: np.ndarray, name: str) -> np.ndarray:
    x = np.ascontiguousarray(x, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"{name} features must be a 2-d array (N, dim), got shape {x.shape}")
    if not np.isfinite(x).all():
        bad = int(np.flatnonzero(~np.isfinite(x).all(axis=1))[0])
        raise ValueError(f"{name} features: row {bad} holds NaN or inf")
    return x
