"""Backbone forward throughput (fp32 on CPU, no grad) against the machine's dense-matmul peak.

Issue target 1: the default preset at the batch sizes ``maskbench run`` uses should reach at least
70% of the FLOP/s that ``torch.matmul`` gets on large square matrices with the same threads.
``extra_info`` records GFLOP/s (analytic FLOPs from :func:`forward_flops`); ``benchmarks/report.py``
divides by the matmul rate measured right after each case (the machine's speed drifts over a run).
"""

from __future__ import annotations

import pytest
import torch

from maskbench.core.backbone import forward_flops
from maskbench.eval.timing import median_time, synchronize

MATMUL_SIZE = 2048


def _matmul(device: torch.device):
    generator = torch.Generator().manual_seed(0)
    a, b = (torch.randn(MATMUL_SIZE, MATMUL_SIZE, generator=generator).to(device) for _ in range(2))

    def matmul():
        out = a @ b
        synchronize(device)
        return out

    return matmul


def matmul_gflops(device: torch.device, runs: int = 5) -> float:
    """Dense fp32 matmul rate right now (the machine's speed drifts: compare like with like)."""
    return 2 * MATMUL_SIZE**3 / median_time(_matmul(device), device, warmup=1, runs=runs) / 1e9


def test_matmul_peak(benchmark, default):
    benchmark.pedantic(_matmul(default.device), rounds=10, warmup_rounds=2, iterations=1)
    if benchmark.stats:
        benchmark.extra_info.update(gflops=2 * MATMUL_SIZE**3 / benchmark.stats.stats.median / 1e9,
                                    threads=torch.get_num_threads(), device=str(default.device))


@pytest.mark.parametrize("preset, batch", [("tiny", 8), ("cpu", 1), ("cpu", 4), ("cpu", "default"), ("cpu", 16),
                                           ("S/2", 1)])
def test_forward_speed(benchmark, default, preset, batch):
    batch = default.batch if batch == "default" else batch
    model = default.backbone(preset)
    window = default.first_window(batch)
    t = torch.zeros(window.shape[:2], device=default.device)
    t[:, : default.context] = 1
    where = window == model.mask_id  # as in sampling: logits at the masked positions only

    def forward():
        with torch.inference_mode():
            out = model(window, t, where)
        synchronize(default.device)
        return out

    benchmark.pedantic(forward, rounds=5, warmup_rounds=1, iterations=1)
    benchmark.extra_info.update(preset=preset, batch=batch, default_batch=batch == default.batch,
                                default_preset=preset == default.preset, device=str(default.device))
    if benchmark.stats:  # absent under --benchmark-disable, where the forward ran once as a test
        seconds = benchmark.stats.stats.median
        flops = forward_flops(model.config, batch, default.frames, int(where.sum()))
        benchmark.extra_info.update(ms_per_video=1e3 * seconds / batch, gflop_per_video=flops / batch / 1e9,
                                    gflops=flops / seconds / 1e9, matmul_gflops=matmul_gflops(default.device))
