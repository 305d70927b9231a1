"""The CUDA paths: mixed-precision training, extraction and the faiss GPU index. They skip on a
machine without a GPU (CI has none); on a GPU machine they check the GPU gives the CPU's answers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from softloc.features import extract_features
from softloc.models import build_network, preprocess
from softloc.retrieval import faiss_gpu_available, search_top1, search_top1_numpy
from softloc.training import train_method
from test_train import MODEL, TRIPLET, tiny_world, train_with

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")


@needs_cuda
@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_mixed_precision_training_on_cuda_runs_and_validates(tmp_path: Path, amp: str) -> None:
    train = train_with(device="cuda", amp=amp, epochs=1, max_steps_per_epoch=6)
    summary = train_method("triplet", TRIPLET, MODEL, train, 0, tiny_world(), tmp_path / "model.pt",
                           tmp_path / "reports", tmp_path / "resume")
    assert summary["steps"] == 6 and 0.0 <= summary["best_val_top1"] <= 1.0
    assert (tmp_path / "model.pt").is_file()


@needs_cuda
def test_cuda_extraction_matches_cpu() -> None:
    torch.manual_seed(0)
    net = build_network(MODEL, 0).eval()
    images = np.random.default_rng(0).integers(0, 256, size=(40, 24, 32, 3), dtype=np.uint8)
    cpu = extract_features(net, images, preprocess, batch_size=16, device=torch.device("cpu"))
    gpu = extract_features(net, images, preprocess, batch_size=16, device=torch.device("cuda"))
    # fp16 autocast on the GPU: features agree to fp16 precision, and retrieve the same neighbours
    assert np.abs(cpu - gpu).max() < 2e-2
    assert (search_top1_numpy(cpu, cpu[:10]) == search_top1_numpy(gpu, gpu[:10])).all()


@pytest.mark.skipif(not faiss_gpu_available(), reason="faiss without GPU support or no GPU")
def test_faiss_gpu_index_agrees_with_brute_force() -> None:
    rng = np.random.default_rng(1)
    reference = rng.standard_normal((5000, 64)).astype(np.float32)
    queries = rng.standard_normal((500, 64)).astype(np.float32)
    assert (search_top1(reference, queries) == search_top1_numpy(reference, queries)).mean() > 0.999
