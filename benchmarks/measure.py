"""What the speed benchmarks share: counted FLOPs, the matmul rate beside a case, a controlled load.

* FLOPs are counted by ``torch.utils.flop_counter.FlopCounterMode`` on the very call that is timed,
  not taken from a formula. Its table lacks the CPU kernel of ``F.scaled_dot_product_attention``
  (``_scaled_dot_product_flash_attention_for_cpu``), which it would count as 0; we register the
  standard attention formula for it (``2 * 2 * B * H * L_q * L_k * d``, as torch counts the CUDA kernels),
  and torch's convolution formula for oneDNN's convolution with a fused ReLU (I3D on a CPU).
* The machine's speed drifts by tens of percent over minutes on a shared machine, so every rate is
  divided by the rate of a 2048^2 fp32 matmul timed alternately with it, in the same loop.
* ``controlled_load``: two other processes, each doing 2-thread matmuls (load about 6 on 2 cores),
  the contention a shared machine or CI runner gives.
"""

from __future__ import annotations

import contextlib
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import torch
from torch.utils.flop_counter import FlopCounterMode, conv_flop_count, sdpa_flop_count

from maskbench.metrics.timing import synchronize

MATMUL_SIZE = 2048
_LOAD_CODE = ("import torch; torch.set_num_threads(2); a = torch.randn(2048, 2048); b = torch.randn(2048, 2048)\n"
              "while True: a @ b")


def _cpu_attention_flops(query, key, value, *args, out_shape=None, **kwargs) -> int:
    return sdpa_flop_count(query, key, value)


def _fused_convolution_flops(x, weight, *args, out_shape=None, **kwargs) -> int:
    return conv_flop_count(x, weight, out_shape, transposed=False)


FLOP_FORMULAS = {torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: _cpu_attention_flops,
                 torch.ops.mkldnn._convolution_pointwise: _fused_convolution_flops}


def counted_flops(fn: Callable[[], object]) -> int:
    """FLOPs of one ``fn()`` as ``FlopCounterMode`` counts them (CPU attention included)."""
    with FlopCounterMode(display=False, custom_mapping=FLOP_FORMULAS) as counter:
        fn()
    return counter.get_total_flops()


def matmul(device: torch.device) -> Callable[[], torch.Tensor]:
    """A synchronised ``MATMUL_SIZE^2`` fp32 matmul on ``device`` (``2 * MATMUL_SIZE^3`` FLOPs)."""
    generator = torch.Generator().manual_seed(0)
    a, b = (torch.randn(MATMUL_SIZE, MATMUL_SIZE, generator=generator).to(device) for _ in range(2))

    def run():
        out = a @ b
        synchronize(device)
        return out

    return run


MATMUL_FLOPS = 2 * MATMUL_SIZE**3


def alternate(fns: dict[str, Callable[[], object]], rounds: int, device: torch.device) -> dict[str, float]:
    """Median seconds of each function, called in turn ``rounds`` times after one warm-up each."""
    for fn in fns.values():
        fn()
    seconds: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            synchronize(device)
            start = time.perf_counter()
            fn()
            synchronize(device)
            seconds[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in seconds.items()}


@contextlib.contextmanager
def threads(count: int) -> Iterator[None]:
    """``torch.set_num_threads(count)`` for the block."""
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextlib.contextmanager
def controlled_load(processes: int = 2) -> Iterator[None]:
    """``processes`` background processes doing 2-thread 2048^2 matmuls until the block ends."""
    started = [subprocess.Popen([sys.executable, "-c", _LOAD_CODE], stdout=subprocess.DEVNULL) for _ in range(processes)]
    try:
        time.sleep(2.0)  # let them import torch and start multiplying
        yield
    finally:
        for process in started:
            process.kill()
        for process in started:
            process.wait()
