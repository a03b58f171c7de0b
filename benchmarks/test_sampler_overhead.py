"""Sampler overhead: time spent outside backbone forwards while sampling one window.

Issue target 2: at most 5% of sampling time for MGM (20 steps) and FM (250 steps) at the default
window. Measured at batch 1, where a forward is cheapest relative to the per-step work, so it is the
worst case of the batch sizes. A :class:`ForwardTimer` adds up the time inside the denoiser; the rest (draws,
top-k, Gumbel noise, bookkeeping) is overhead. ``extra_info`` records both.
"""

from __future__ import annotations

import pytest
import torch

from maskbench.core.denoiser import CountingDenoiser
from maskbench.metrics.timing import ForwardTimer
from maskbench.samplers import build_sampler

BATCH = 1


@pytest.mark.parametrize("name", ["mgm", "fm"])
def test_window_overhead(benchmark, default, name):
    if benchmark.disabled:
        pytest.skip("timed only under pytest --benchmark-only (250 forwards of the default model)")
    sampler = build_sampler(name)
    window = default.first_window(BATCH)
    default.denoiser()(window, torch.ones(window.shape[:2], device=default.device), window == default.vocab_size)
    timers: list[ForwardTimer] = []

    def run():
        timer = ForwardTimer(default.denoiser())
        timers.append(timer)
        model = CountingDenoiser(timer)
        sampler.sample_window(model, window, default.context, torch.Generator(default.device).manual_seed(0))
        return model.nfe

    nfe = benchmark.pedantic(run, rounds=1, warmup_rounds=0, iterations=1)
    benchmark.extra_info.update(sampler=name, nfe=nfe, steps=sampler.options.steps, batch=BATCH)
    if benchmark.stats:
        total = benchmark.stats.stats.median
        forward = sorted(t.seconds for t in timers)[len(timers) // 2]
        benchmark.extra_info.update(seconds=total, forward_seconds=forward,
                                    overhead_fraction=max(0.0, total - forward) / total)
