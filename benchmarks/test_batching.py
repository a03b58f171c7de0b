"""Sampling throughput against batch size: one MGM window on the default model.

Issue target 6: frames per second grow with the batch until the machine saturates, and the default
batch of ``maskbench run`` (:func:`default_batch_size`) sits where throughput is near its best.
The batch sizes are measured round-robin, several times, and each gets its median: a shared
machine's speed drifts during a run, and measuring one size after another would mistake the drift
for an effect of the batch.
"""

from __future__ import annotations

import statistics

import pytest
import torch

from maskbench.core.denoiser import CountingDenoiser
from maskbench.metrics.timing import stopwatch
from maskbench.samplers import build_sampler

BATCHES, ROUNDS = (1, 2, 4, 8, 16), 3
STEPS = 5  # throughput per step is what batching changes; few steps keep the case short


def test_mgm_window_throughput(benchmark, default):
    if benchmark.disabled:
        pytest.skip("timed only under pytest --benchmark-only")
    sampler = build_sampler("mgm", steps=STEPS)
    denoiser = default.denoiser()
    windows = {batch: default.first_window(batch) for batch in BATCHES}
    for window in windows.values():  # warm-up at every shape
        denoiser(window, torch.ones(window.shape[:2], device=default.device), window == default.vocab_size)

    def sweep():
        seconds: dict[int, list[float]] = {batch: [] for batch in BATCHES}
        for _ in range(ROUNDS):
            for batch, window in windows.items():
                with stopwatch(default.device, seconds[batch]):
                    sampler.sample_window(CountingDenoiser(denoiser), window, default.context,
                                          torch.Generator(default.device).manual_seed(0))
        return seconds

    seconds = benchmark.pedantic(sweep, rounds=1, iterations=1, warmup_rounds=0)
    frames = default.frames - default.context
    benchmark.extra_info.update(default_batch=default.batch, steps=STEPS, frames_per_second={
        str(batch): batch * frames / statistics.median(times) for batch, times in seconds.items()})
