"""Distributed training: two CPU processes on the gloo backend stay in step (DistributedDataParallel)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import torch
import torch.multiprocessing as mp
from test_training_helpers import tiny_config, tiny_dataset

from livegan.training.loop import distributed
from livegan.training.loop.checkpoint import load_checkpoint
from livegan.training.loop.train import _create, _loop


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _worker(rank: int, world: int, port: int, data: Path, out: Path) -> None:
    """What torchrun starts on each process: the environment, then the same training code."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world), LOCAL_RANK=str(rank))
    ctx = distributed.setup("cpu")
    try:
        run = _create(data, tiny_config(steps=3, sample_every=3, checkpoint_every=3), out, ctx)
        assert run.ctx.world == world and isinstance(run.generator, torch.nn.parallel.DistributedDataParallel)
        _loop(run, progress=False, minutes=0)
        nets = {"g": distributed.unwrap(run.generator), "d": distributed.unwrap(run.critic)}
        weights = {f"{n}.{k}": v.detach().clone() for n, net in nets.items() for k, v in net.named_parameters()}
        torch.save(weights, out / f"rank{rank}.weights")  # parameters; batch-norm buffers follow rank 0
    finally:
        distributed.teardown()


def test_two_gloo_processes_train_one_model(tmp_path):
    data = tiny_dataset(tmp_path / "d.npz")
    out = tmp_path / "run"
    mp.spawn(_worker, args=(2, _free_port(), data, out), nprocs=2, join=True)
    zero = torch.load(out / "rank0.weights", weights_only=True)
    one = torch.load(out / "rank1.weights", weights_only=True)
    for name, tensor in zero.items():
        assert torch.allclose(tensor.float(), one[name].float()), f"{name} differs between the processes"
    state, meta = load_checkpoint(out / "last.pt")
    assert int(state["step"]) == 3 and meta["info"]["extra"]["training"]["processes"] == 2
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step_0000003.pt"]
