"""Process-group helpers for launchers that already exist (torchrun, deepspeed): never our own."""

from __future__ import annotations

import os
from typing import Any

import torch
import torch.distributed as dist


def world() -> tuple[int, int]:
    """``(rank, world_size)`` from the launcher's environment; ``(0, 1)`` for a plain process."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def init_process_group() -> None:
    """Join the launcher's process group (gloo on CPU, nccl on CUDA) when there is more than one rank."""
    rank, size = world()
    if size > 1 and not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend=backend, rank=rank, world_size=size)


def gather(obj: Any) -> list[Any]:
    """Every rank's ``obj``, in rank order (a one-element list in a single process)."""
    if not dist.is_initialized():
        return [obj]
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


def shutdown() -> None:
    """Tear the group down cleanly (an abandoned gloo group can abort the process at exit)."""
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def local_device(requested: str = "auto") -> torch.device:
    """``auto``: this rank's GPU when CUDA is available (LOCAL_RANK), else the CPU."""
    if requested != "auto":
        from maskbench.core.errors import MaskbenchError

        try:
            device = torch.device(requested)
        except (RuntimeError, TypeError):
            raise MaskbenchError(f"--device {requested!r} is not a device; use auto, cpu, cuda or cuda:N") from None
        if device.type == "cuda" and not torch.cuda.is_available():
            raise MaskbenchError(f"--device {requested}: CUDA is not available here; use --device cpu")
        if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
            raise MaskbenchError(f"--device {requested}: this machine has {torch.cuda.device_count()} CUDA device(s), "
                                 f"numbered from 0")
        if device.type == "mps" and not torch.backends.mps.is_available():
            raise MaskbenchError(f"--device {requested}: MPS is not available here; use --device cpu")
        if device.type not in ("cpu", "cuda", "mps"):
            raise MaskbenchError(f"--device {requested}: maskbench runs on cpu, cuda or mps")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return torch.device("cpu")
