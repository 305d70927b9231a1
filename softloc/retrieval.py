"""Nearest-neighbour retrieval of query features among reference features with faiss."""

from __future__ import annotations

import numpy as np


def search_top1(reference: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Exact top-1 search by L2 distance; returns for each query the row of its nearest reference."""
    import faiss

    index = faiss.IndexFlatL2(reference.shape[1])
    index.add(np.ascontiguousarray(reference, dtype=np.float32))
    _, idx = index.search(np.ascontiguousarray(queries, dtype=np.float32), 1)
    return idx[:, 0].astype(np.int64)
