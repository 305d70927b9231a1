"""Network features of stored images: batched, prefetched, mixed precision on CUDA, PCA-whitened.

Row i of the output is the feature of row i of the image store (and so of its parquet file).
The next batch is read from the memory-mapped store in a background thread while the network
runs on the current one, so extraction runs at the speed of the bare forward pass.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from softloc.pca import Pca, fit_pca, fit_rows

if TYPE_CHECKING:   # the GPU machine has no pydantic: softloc.config only for the annotations
    from softloc import config

Preprocess = Callable[[torch.Tensor], torch.Tensor]


def resolve_device(name: str) -> torch.device:
    """`auto` -> CUDA when available, else CPU; any other name is passed to torch."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


class Whitening(torch.nn.Module):
    """The fitted PCA transform as a torch module: Pca.transform's arithmetic, on device.

    (x - mean) @ W is computed as one fused x @ W + bias with bias = -mean @ W.
    """

    def __init__(self, pca: Pca) -> None:
        super().__init__()
        projection = pca.projection()
        bias = -(np.asarray(pca.mean, dtype=np.float64) @ projection.astype(np.float64))
        self.register_buffer("projection", torch.from_numpy(projection))
        self.register_buffer("bias", torch.from_numpy(bias.astype(np.float32)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(torch.addmm(self.bias, x.float(), self.projection), dim=1)


def iter_batches(images: np.ndarray, rows: np.ndarray, batch_size: int, pin: bool) -> Iterator[torch.Tensor]:
    """Yield uint8 (B, H, W, 3) tensors of `images[rows]` in order, loading one batch ahead."""

    def load(start: int) -> torch.Tensor:
        batch = torch.from_numpy(np.ascontiguousarray(images[rows[start:start + batch_size]]))
        return batch.pin_memory() if pin else batch

    starts = range(0, len(rows), batch_size)
    if not starts:
        return
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(load, starts[0])
        for next_start in list(starts[1:]) + [None]:
            batch = pending.result()
            if next_start is not None:
                pending = pool.submit(load, next_start)
            yield batch


def extract_features(
    net: torch.nn.Module,
    images: np.ndarray,
    preprocess: Preprocess,
    *,
    batch_size: int,
    device: torch.device,
    whitening: Whitening | None = None,
    rows: np.ndarray | None = None,
    desc: str = "features",
) -> np.ndarray:
    """Features (N, dim) float32 of `images[rows]` (uint8 N,H,W,3; default all rows), in row order.

    `preprocess` maps a uint8 (B, H, W, 3) tensor on `device` to the network input; `whitening`
    (PCA, applied in float32 outside autocast) is optional so that PCA itself can be fitted.
    """
    rows = np.arange(len(images), dtype=np.int64) if rows is None else np.asarray(rows, dtype=np.int64)
    net = net.eval().to(device)
    if whitening is not None:
        whitening = whitening.to(device)
    cuda = device.type == "cuda"
    out: torch.Tensor | None = None
    start = 0
    with torch.inference_mode(), tqdm(total=len(rows), desc=desc, unit="img") as bar:
        for batch in iter_batches(images, rows, batch_size, pin=cuda):
            x = preprocess(batch.to(device, non_blocking=True))
            with torch.autocast(device_type="cuda", dtype=torch.float16, enabled=cuda):
                f = net(x)
            f = whitening(f) if whitening is not None else f.float()
            if out is None:
                out = torch.empty((len(rows), f.shape[1]), dtype=torch.float32, device=device)
            out[start:start + len(f)] = f
            start += len(f)
            bar.update(len(f))
    if out is None:
        dim = whitening.projection.shape[1] if whitening is not None else int(getattr(net, "dim"))
        return np.zeros((0, dim), dtype=np.float32)
    return out.cpu().numpy()


@dataclass(frozen=True)
class TestsetFeatures:
    """A test set's whitened features (row i = row i of its table) and the PCA that whitened them."""

    pca: Pca
    reference: np.ndarray
    queries: np.ndarray
    fitted_on: str


def testset_features(net: torch.nn.Module, reference_images: np.ndarray, query_images: np.ndarray,
                     pca_fit: str, train_images: np.ndarray | None, pca_cfg: config.Pca, *, batch_size: int,
                     device: torch.device, desc: str = "", preprocess: Preprocess | None = None) -> TestsetFeatures:
    """Whitened, L2-normalised features of a test set's references and queries.

    The PCA (params `pca`) is fitted on a seeded subset of `pca.fit_images` rows of either the
    training images (`pca_fit: train`, RobotCar) or the test set's own references (`reference`, as
    the paper does for Pittsburgh and the Seasons sets: their raw features are reused, no second
    forward pass). `preprocess` maps a batch of the stores to `net`'s input (default: `net.preprocess`,
    the stores holding images; the evaluate stage passes a frozen trunk's memoised outputs and the
    trained part instead).
    """
    preprocess = net.preprocess if preprocess is None else preprocess
    raw = {name: extract_features(net, store, preprocess, batch_size=batch_size, device=device,
                                  desc=f"{desc} {name}")
           for name, store in (("reference", reference_images), ("queries", query_images))}
    n_fit, seed = pca_cfg.fit_images, pca_cfg.seed
    if pca_fit == "reference":
        rows = fit_rows(len(raw["reference"]), n_fit, seed)
        fit_features, fitted_on = raw["reference"][rows], f"{len(rows)} reference images"
    elif pca_fit == "train" and train_images is not None:
        rows = fit_rows(len(train_images), n_fit, seed)
        fit_features = extract_features(net, train_images, preprocess, batch_size=batch_size, device=device,
                                        rows=rows, desc=f"{desc} pca")
        fitted_on = f"{len(rows)} of {len(train_images)} training images"
    else:
        raise ValueError(f"pca_fit {pca_fit!r}: train (needs the training image store) or reference")
    pca = fit_pca(fit_features, dim=pca_cfg.dim, eps=pca_cfg.eps)
    whitening = Whitening(pca)
    with torch.inference_mode():
        whitened = {name: whitening(torch.from_numpy(f)).numpy() for name, f in raw.items()}
    return TestsetFeatures(pca, whitened["reference"], whitened["queries"], fitted_on)
