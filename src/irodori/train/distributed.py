"""torchrun / DDP set-up: NCCL on GPU, gloo on CPU; rank 0 is the only process that logs or writes."""

from __future__ import annotations

import gc
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from irodori.errors import ConfigError


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


#: ``--device`` choices: ``auto`` = CUDA where available, else CPU.
DEVICES = ("auto", "cuda", "cpu")


def setup(device: str = "auto") -> DistInfo:
    """Rank, world size and this process's device (``cuda:LOCAL_RANK`` or CPU, see :data:`DEVICES`)."""
    if device not in DEVICES:
        raise ConfigError(f"device must be one of {', '.join(DEVICES)}, got {device!r}")
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda: torch sees no CUDA device here (a CPU-only build, or no GPU)")
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if device != "cpu" and torch.cuda.is_available():
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    rank = dist.get_rank() if world > 1 else 0
    return DistInfo(rank, world, local, device)


def teardown() -> None:
    """Every rank reaches this point before any rank closes its connections (gloo can abort a process whose
    peer closes first); then the group is destroyed while the interpreter is whole, never at exit (the
    collection lets go of DDP wrappers the caller dropped, whose reducers hold the group)."""
    if dist.is_initialized():
        gc.collect()
        dist.barrier()
        dist.destroy_process_group()


def all_ranks_equal(t: torch.Tensor) -> bool:
    """True if ``t`` is identical on every rank (trivially true without DDP)."""
    if not dist.is_initialized():
        return True
    gathered = [torch.empty_like(t) for _ in range(dist.get_world_size())]
    dist.all_gather(gathered, t)
    return all(torch.equal(g, gathered[0]) for g in gathered)


def any_rank(flag: bool, device: torch.device) -> bool:
    """True if ``flag`` is true on any rank (every rank gets the same answer; no collective without DDP)."""
    if not dist.is_initialized():
        return bool(flag)
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)
