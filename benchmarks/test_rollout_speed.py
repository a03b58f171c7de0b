"""A 2x rollout of every registered sampler on the default model: wall-clock against counted NFE.

Issue target 4: the wall-clock ratio of FM, DF and RDM to MGM must be at least 90% of their NFE
ratio (a sampler that saves evaluations must save the time too). Batch 1: the per-step work of a
sampler weighs most against a forward there. One warm-up forward precedes the timed rollout;
``extra_info`` records NFE and seconds for ``benchmarks/report.py``.
"""

from __future__ import annotations

import pytest
import torch

from maskbench.core.denoiser import CountingDenoiser
from maskbench.core.rollout import RolloutPlan
from maskbench.samplers import build_sampler, registered_samplers

FACTOR, BATCH = 2, 1


@pytest.mark.parametrize("name", sorted(registered_samplers()))
def test_rollout(benchmark, default, name):
    if benchmark.disabled:
        pytest.skip("timed only under pytest --benchmark-only (the contract tests cover correctness)")
    sampler = build_sampler(name)
    plan = RolloutPlan.from_extrapolation(default.frames, default.context, default.stride, FACTOR)
    denoiser = default.denoiser()
    window = default.first_window(BATCH)
    denoiser(window, torch.ones(window.shape[:2], device=default.device), window == default.vocab_size)  # warm-up

    def run():
        model = CountingDenoiser(denoiser)
        sampler.generate(model, default.context_tokens(BATCH), plan, torch.Generator(default.device).manual_seed(0))
        return model.nfe

    # MGM's rollout is short, so one run of it is at the mercy of the machine's drift: take a median.
    nfe = benchmark.pedantic(run, rounds=3 if name == "mgm" else 1, iterations=1, warmup_rounds=0)
    benchmark.extra_info.update(sampler=name, nfe=nfe, factor=FACTOR, batch=BATCH)
