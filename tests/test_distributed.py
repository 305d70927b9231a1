"""Multi-process training (torchrun + DistributedDataParallel, softloc.training.distributed): 2 processes on
CPU (gloo) end with the weights 1 process ends with at the same global batch."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from softloc.training import loop
from softloc.training.distributed import World
from test_train import MODEL, TRIPLET, tiny_world, train_with

# 2 tuples a step (one per process), a cache refresh within the epoch, validation before and after
CFG = train_with(epochs=1, max_steps_per_epoch=6, checkpoint_every_steps=0, lr=3e-3, mining={"refresh_steps": 4})


def without_batchnorm(build):
    """build_network with BatchNorm replaced by identity: BN couples a batch's images, so per-process
    statistics differ from the whole batch's on CPU (SyncBatchNorm needs CUDA); GroupNorm or no norm
    (VGG-16) keeps the processes exact."""
    def wrapped(model, seed, aggregators=None):
        net = build(model, seed, aggregators)
        for module in list(net.modules()):
            for name, child in module.named_children():
                if isinstance(child, torch.nn.BatchNorm2d):
                    setattr(module, name, torch.nn.Identity())
        return net
    return wrapped


def train_weights(tmp: Path) -> dict:
    """Train on the tiny world; the weights, how many processes shared the run, and its steps."""
    loop.build_network = without_batchnorm(loop.build_network)
    trainer = loop.Trainer("triplet", TRIPLET, MODEL, CFG, 0, tiny_world(), tmp / "reports", tmp / "resume")
    first = trainer.net.backbone[0].weight.detach().clone()
    trainer.run()
    trainer.feed.close()
    assert not torch.equal(first, trainer.net.backbone[0].weight)  # it trained
    return {"weights": {k: v.detach().clone() for k, v in trainer.net.state_dict().items()},
            "processes": trainer.placement.world.size, "steps": trainer.state.global_step,
            "logged": trainer.run_log.live is not None and trainer.run_log.staging.exists()}


def process(rank: int, world_size: int, port: int, tmp: Path) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world_size), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    dist.init_process_group("gloo")
    try:
        run = train_weights(tmp / f"rank{rank}")
        assert run.pop("logged") == (rank == 0)  # rank 0 alone logs (into its staging folder until the run ends)
        torch.save(run, tmp / f"run{rank}.pt")
        assert not (tmp / f"rank{rank}" / "reports").exists() or rank == 0
    finally:
        dist.destroy_process_group()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_world_shares_cover_every_item_once() -> None:
    for n in (0, 1, 5, 64):
        shares = [range(n)[World(r, 3).share(n)] for r in range(3)]
        assert [i for s in shares for i in s] == list(range(n))
        assert max(map(len, shares)) - min(map(len, shares)) <= 1


@pytest.mark.slow
def test_two_processes_train_the_weights_of_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    torch.set_num_threads(1)
    monkeypatch.setattr(loop, "build_network", loop.build_network)  # restored after the test
    single = train_weights(tmp_path / "single")
    mp.spawn(process, args=(2, free_port(), tmp_path), nprocs=2, join=True)
    ranks = [torch.load(tmp_path / f"run{r}.pt") for r in range(2)]
    assert single["processes"] == 1 and [r["processes"] for r in ranks] == [2, 2]
    assert single["steps"] == ranks[0]["steps"] == 6
    for k, v in single["weights"].items():
        assert torch.equal(ranks[0]["weights"][k], ranks[1]["weights"][k]), k  # the processes hold one network
        torch.testing.assert_close(ranks[0]["weights"][k], v, rtol=1e-4, atol=1e-5, msg=k)
