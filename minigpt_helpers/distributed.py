"""Several GPUs or machines: PyTorch DistributedDataParallel (DDP) under ``torchrun``.

``torchrun --nproc_per_node=4 -m minigpt_helpers train --profile gpu`` starts 4 processes and
tells each its place through environment variables (RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR,
MASTER_PORT). ``init()`` reads them and joins the process group: NCCL between GPUs, gloo
between CPU processes. Every process trains a copy of the model on its own slice of each global
batch; after backward, DDP averages the gradients of all copies, so every copy takes the same
optimizer step. Only rank 0 writes files.

Without those variables ``init()`` returns a single-process ``DistInfo`` and nothing changes.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistInfo:
    """Where this process sits: its rank among ``world_size`` processes and the device it uses."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    backend: str | None = None  # "nccl" or "gloo" when distributed
    device: str | None = None  # the device this rank must use (cuda:<local_rank>), or None: any
    owns_group: bool = False  # True when init() created the process group (and cleanup() ends it)

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """The process that logs and writes checkpoints."""
        return self.rank == 0


def launched() -> bool:
    """True when started by torchrun (or anything that sets RANK and WORLD_SIZE)."""
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def init(device: str = "auto") -> DistInfo:
    """Join the process group when launched by torchrun; otherwise a single-process DistInfo.

    ``device`` "auto" uses a GPU per process when CUDA is there (NCCL), else CPU processes (gloo).
    """
    if dist.is_available() and dist.is_initialized():  # someone else set it up
        rank, world = dist.get_rank(), dist.get_world_size()
        local = int(os.environ.get("LOCAL_RANK", rank))
        backend = dist.get_backend()
        dev = f"cuda:{local}" if backend == "nccl" else None
        return DistInfo(rank, local, world, backend, dev, owns_group=False)
    if not launched() or int(os.environ["WORLD_SIZE"]) == 1:
        return DistInfo()
    if not dist.is_available():
        raise RuntimeError("this PyTorch build has no torch.distributed; run a single process instead of torchrun")
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local = int(os.environ.get("LOCAL_RANK", rank))
    use_cuda = torch.cuda.is_available() and (device == "auto" or device.startswith("cuda"))
    backend = "nccl" if use_cuda else "gloo"
    dev = None
    if use_cuda:
        if local >= torch.cuda.device_count():
            raise RuntimeError(
                f"LOCAL_RANK={local} but this machine has {torch.cuda.device_count()} GPU(s); start at most "
                f"that many processes per machine (torchrun --nproc_per_node={torch.cuda.device_count()})"
            )
        dev = f"cuda:{local}"
        torch.cuda.set_device(dev)
    dist.init_process_group(backend=backend, rank=rank, world_size=world)
    log.info("joined a %s process group: rank %d of %d", backend, rank, world)
    return DistInfo(rank, local, world, backend, dev, owns_group=True)


def cleanup(info: DistInfo, *, wait: bool = True) -> None:
    """Leave the process group if ``init()`` created it.

    ``wait``: first wait until every process gets here, so none closes its connections while
    another still uses them. Only when all ended normally: after an error the others may never come.
    Let go of anything that holds the group (a ``DistributedDataParallel`` wrapper) before this.
    """
    if info.owns_group and dist.is_initialized():
        if wait:
            dist.barrier()
        dist.destroy_process_group()


def all_reduce_mean(t: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """The mean of ``t`` over all processes (``t`` itself when there is one)."""
    if not info.enabled:
        return t
    t = t.clone()
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t / info.world_size


def all_reduce_sum(t: torch.Tensor, info: DistInfo) -> torch.Tensor:
    if not info.enabled:
        return t
    t = t.clone()
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()
