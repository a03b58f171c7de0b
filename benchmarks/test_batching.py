"""Sampling throughput against batch size: one MGM window on the default model.

Issue target 6: frames per second grow with the batch until the machine saturates, and the default
batch of ``maskbench run`` (:func:`default_batch_size`) sits where throughput is near its best.
"""

from __future__ import annotations

import pytest
import torch

from maskbench.core.denoiser import CountingDenoiser
from maskbench.samplers import build_sampler

STEPS = 10  # throughput per step is what batching changes; fewer steps keep the case short


@pytest.mark.parametrize("batch", [1, 2, 4, 8, 16])
def test_mgm_window_throughput(benchmark, default, batch):
    if benchmark.disabled and batch != 1:
        pytest.skip("timed only under pytest --benchmark-only")
    sampler = build_sampler("mgm", steps=STEPS)
    denoiser = default.denoiser()
    window = default.first_window(batch)

    denoiser(window, torch.ones(window.shape[:2], device=default.device), window == default.vocab_size)  # warm-up

    def run():
        sampler.sample_window(CountingDenoiser(denoiser), window, default.context,
                              torch.Generator(default.device).manual_seed(0))

    benchmark.pedantic(run, rounds=1, warmup_rounds=0, iterations=1)
    benchmark.extra_info.update(batch=batch, default_batch=default.batch,
                                generated_frames=batch * (default.frames - default.context))
    if benchmark.stats:
        benchmark.extra_info["frames_per_second"] = benchmark.extra_info["generated_frames"] / benchmark.stats.stats.median
