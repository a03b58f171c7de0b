"""Wall-clock timing of sampling: CUDA-synchronised, warm-up excluded, median of runs."""

from __future__ import annotations

import statistics
import time
from contextlib import contextmanager
from typing import Callable, Iterator

import torch


def synchronize(device: torch.device | str) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


@contextmanager
def stopwatch(device: torch.device | str, into: list[float]) -> Iterator[None]:
    """Append the seconds spent in the block to ``into`` (queued CUDA work included)."""
    synchronize(device)
    start = time.perf_counter()
    yield
    synchronize(device)
    into.append(time.perf_counter() - start)


def median_time(fn: Callable[[], object], device: torch.device | str = "cpu", warmup: int = 1, runs: int = 3) -> float:
    """Median seconds of ``fn()`` over ``runs`` calls after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    times: list[float] = []
    for _ in range(runs):
        with stopwatch(device, times):
            fn()
    return statistics.median(times)


class ForwardTimer:
    """Wraps a denoiser and adds up the seconds spent inside its calls (CUDA-synchronised).

    Sampling time minus ``seconds`` is what the sampler itself costs (draws, top-k, bookkeeping).
    """

    def __init__(self, inner):
        self.inner = inner
        self.vocab_size = inner.vocab_size
        self.mask_id = inner.mask_id
        self.device = getattr(inner, "device", torch.device("cpu"))
        self.seconds = 0.0

    def __call__(self, tokens: torch.Tensor, t: torch.Tensor, where: torch.Tensor) -> torch.Tensor:
        spent: list[float] = []
        with stopwatch(self.device, spent):
            out = self.inner(tokens, t, where)
        self.seconds += spent[0]
        return out
