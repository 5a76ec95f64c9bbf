"""Distributed training with PyTorch's own engine: torchrun + DistributedDataParallel.

``torchrun --nproc-per-node=G -m livegan train ...`` (one machine, G GPUs) or
``torchrun --nnodes=M --nproc-per-node=G --node-rank=R --rdzv-backend=c10d
--rdzv-endpoint=HOST:PORT -m livegan train ...`` on each of M machines sets
``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``; :func:`setup` reads them, joins
the process group (NCCL on CUDA, gloo on CPU) and picks the device. Without them
training runs in one process. Gradients are averaged by DDP; each process draws
its own batches, so the effective batch is ``batch_size x WORLD_SIZE``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from livegan.errors import UserError


@dataclass(frozen=True)
class Context:
    """Where this process stands: its rank among ``world`` processes and its device."""

    rank: int
    world: int
    device: torch.device

    @property
    def main(self) -> bool:
        """Whether this process writes logs, samples and checkpoints."""
        return self.rank == 0


def pick_device(requested: str | None = None, local_rank: int = 0) -> torch.device:
    """``None``/``auto`` -> CUDA when available else CPU; ``cpu``/``cuda`` as asked."""
    if requested in (None, "auto"):
        requested = "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda":
        if not torch.cuda.is_available():
            raise UserError("device 'cuda' was asked for but torch sees no GPU: use --device cpu or auto")
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    if requested != "cpu":
        raise UserError(f"unknown device '{requested}': use auto, cpu or cuda")
    return torch.device("cpu")


def setup(requested: str | None = None) -> Context:
    """Join the process group when launched by torchrun (WORLD_SIZE > 1), else a single-process context."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    device = pick_device(requested, int(os.environ.get("LOCAL_RANK", "0")))
    if world > 1 and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", rank=rank, world_size=world)
    return Context(rank, world, device)


def wrap(module: nn.Module, ctx: Context) -> nn.Module:
    """DDP around ``module`` when distributed, else the module itself."""
    if ctx.world == 1:
        return module
    ids = [ctx.device.index] if ctx.device.type == "cuda" else None
    return DistributedDataParallel(module, device_ids=ids)


def unwrap(module: nn.Module) -> nn.Module:
    return module.module if isinstance(module, DistributedDataParallel) else module


def all_mean(value: float, ctx: Context) -> float:
    """The mean of a number over all processes (for logging)."""
    if ctx.world == 1:
        return value
    tensor = torch.tensor([value], dtype=torch.float64, device=ctx.device)
    dist.all_reduce(tensor)
    return float(tensor.item()) / ctx.world


def teardown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()
