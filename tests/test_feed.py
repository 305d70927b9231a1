"""The training feed (softloc.training.prefetch): batches prepared one step ahead change no result, and the
`train.compile` option trains the same network."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from softloc.config import Train
from softloc.training import Trainer
from softloc.training.prefetch import Prefetcher, StepBatch, host_batch, read_images
from test_train import MODEL, TRIPLET, tiny_world, train_with

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def world():
    return tiny_world()


def test_read_images_gathers_rows_in_batch_order_with_repeats() -> None:
    store = np.random.default_rng(0).integers(0, 256, size=(30, 4, 5, 3), dtype=np.uint8)
    rows = np.array([[7, 3, 7], [29, 0, 3]])
    out = read_images(store, rows, pin=False)
    assert out.dtype == torch.uint8 and out.shape == (6, 4, 5, 3)
    assert np.array_equal(out.numpy(), store[rows.ravel()])


def test_host_batch_positions_are_anchor_centred() -> None:
    store = np.zeros((5, 2, 2, 3), np.uint8)
    xy = np.array([[0.0, 0.0], [3.0, 4.0], [10.0, 0.0], [1.0, 1.0], [2.0, 2.0]])
    batch = host_batch(store, xy, np.array([[1, 0, 2], [3, 4, 3]]), pin=False)
    assert batch.positions.dtype == torch.float32 and batch.positions.shape == (2, 3, 2)
    assert batch.positions[0].tolist() == [[0, 0], [-3, -4], [7, -4]]
    assert batch.positions[1].tolist() == [[0, 0], [1, 1], [0, 0]]


def make(value: int, threads: list[str]):
    def fn() -> StepBatch:
        threads.append(threading.current_thread().name)
        return StepBatch(np.array([[value]]), torch.full((1, 1, 1, 3), value, dtype=torch.uint8), torch.zeros(1, 1, 2))
    return fn


def test_prefetcher_uses_the_prepared_batch_only_for_its_key() -> None:
    feed = Prefetcher(CPU)
    threads: list[str] = []
    feed.submit(("step", 1), make(1, threads))
    assert int(feed.take(("step", 1), make(99, threads)).rows[0, 0]) == 1  # prepared in the worker
    assert threads == ["softloc-prefetch_0"]
    feed.submit(("step", 2), make(2, threads))
    assert int(feed.take(("step", 3), make(3, threads)).rows[0, 0]) == 3  # another key: made now, here
    assert threads[-1] == threading.current_thread().name
    assert int(feed.take(("step", 2), make(4, threads)).rows[0, 0]) == 4  # the stale batch was dropped
    feed.close()


def test_prefetcher_raises_the_error_of_the_taken_batch_and_drops_a_stale_one() -> None:
    def broken() -> StepBatch:
        raise ValueError("sampler failed")

    feed = Prefetcher(CPU)
    feed.submit(1, broken)
    with pytest.raises(ValueError, match="sampler failed"):
        feed.take(1, broken)
    feed.submit(2, broken)
    assert int(feed.take(5, make(5, [])).rows[0, 0]) == 5
    feed.close()


def trained_weights(world, tmp_path: Path, train: Train) -> dict[str, torch.Tensor]:
    trainer = Trainer("triplet", TRIPLET, MODEL, train, 0, world, tmp_path / "reports", tmp_path / "resume")
    trainer.run()
    trainer.feed.close()
    return {k: v.clone() for k, v in trainer.net.state_dict().items()}


def test_training_with_the_feed_equals_training_without_it(world, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # refresh every 3 steps: batches prepared before a refresh must be sampled again after it
    train = train_with(checkpoint_every_steps=0, mining={"refresh_steps": 3})
    fed = trained_weights(world, tmp_path / "fed", train)
    taken = {"prepared": 0}
    original_take = Prefetcher.take

    def counting_take(self: Prefetcher, key, fn):
        taken["prepared"] += self.pending is not None and self.pending[0] == key
        return original_take(self, key, fn)

    monkeypatch.setattr(Prefetcher, "take", counting_take)
    trained_weights(world, tmp_path / "counted", train)
    assert taken["prepared"] > 0  # the feed did prepare batches ahead
    monkeypatch.setattr(Prefetcher, "submit", lambda self, key, fn: None)  # every batch made on demand
    serial = trained_weights(world, tmp_path / "serial", train)
    for k in fed:
        assert torch.equal(fed[k], serial[k]), k


def test_compile_option_trains_the_same_network(world, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    compiled: list[torch.nn.Module] = []
    real_compile = torch.compile

    def eager_backend(module: torch.nn.Module) -> torch.nn.Module:  # dynamo's capture, without a C++ build
        compiled.append(module)
        return real_compile(module, backend="eager")

    train = train_with(epochs=1, checkpoint_every_steps=0)
    eager = trained_weights(world, tmp_path / "eager", train)
    assert not compiled
    monkeypatch.setattr(torch, "compile", eager_backend)
    with_compile = trained_weights(world, tmp_path / "compiled", train.model_copy(update={"compile": True}))
    assert len(compiled) == 1
    assert with_compile.keys() == eager.keys()  # the eager module is saved: no _orig_mod. prefix
    for k in eager:
        torch.testing.assert_close(with_compile[k], eager[k], rtol=1e-4, atol=1e-5)
