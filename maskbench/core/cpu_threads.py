"""CPU inference as independent forwards, one per thread, each on a slice of the batch.

With intra-op threading every operation of a forward (some 250 of them) ends at a barrier where
all threads wait for the slowest. On a shared machine a thread is often descheduled, and then each
barrier waits for it: measured on a 2-core machine under load (two other processes doing 2-thread
matmuls), a 2-thread forward took 1.5-2.5x as long as a 1-thread one. Slicing the batch instead and
running the slices side by side, each single-threaded, leaves one join per forward: a descheduled
thread delays only its own slice. Results are identical (the slices never interact); idle, it is as
fast as intra-op threading, and each slice's activations fit the caches better
(benchmarks/test_backbone_speed.py, benchmarks/test_reference_speed.py).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import torch
from torch.utils._python_dispatch import _get_current_dispatch_mode

_LOCK = threading.Lock()  # torch's thread count is process-wide: one split forward at a time
_POOLS: dict[int, ThreadPoolExecutor] = {}
_STATE = threading.local()  # .inside: this thread runs a slice (a nested call must not split again)


def split_over_threads(fn: Callable[..., torch.Tensor], *args: torch.Tensor | None) -> torch.Tensor:
    """``fn(*args)`` with the batch (dim 0 of every tensor argument) sliced over the CPU threads.

    With ``T = torch.get_num_threads()`` threads and batch ``B``, ``P = min(T, B)`` slices run at
    once, each with ``T // P`` intra-op threads; the thread count is restored afterwards. Outputs are
    concatenated along dim 0, so ``fn`` must return rows in batch order. Falls back to one plain call
    when ``P < 2`` (one thread, batch of 1), inside a slice, or under a dispatch mode such as
    ``FlopCounterMode`` (modes are per thread: the slices would escape it). The caller's inference or
    no-grad mode, also per thread in torch, is applied inside every slice.

    Args:
        fn: the forward; takes ``args`` sliced along dim 0 (``None`` passes through).
        *args: tensors ``[B, ...]`` or ``None``.

    Returns:
        ``torch.cat`` of the slices' outputs along dim 0.
    """
    threads = torch.get_num_threads()
    batch = next(a for a in args if a is not None).shape[0]
    parts = min(threads, batch)
    if parts < 2 or getattr(_STATE, "inside", False) or _get_current_dispatch_mode() is not None:
        return fn(*args)
    size = math.ceil(batch / parts)
    slices = list(zip(*(a.split(size) if a is not None else [None] * math.ceil(batch / size) for a in args)))
    inference = torch.is_inference_mode_enabled()

    def run(piece: Sequence[torch.Tensor | None]) -> torch.Tensor:
        _STATE.inside = True
        try:
            with torch.inference_mode(inference), torch.no_grad():
                return fn(*piece)
        finally:
            _STATE.inside = False

    with _LOCK:
        pool = _POOLS.get(len(slices)) or _POOLS.setdefault(len(slices), ThreadPoolExecutor(len(slices)))
        torch.set_num_threads(max(1, threads // len(slices)))
        try:
            outputs = list(pool.map(run, slices))
        finally:
            torch.set_num_threads(threads)
    return torch.cat(outputs)
