"""Speed of one window of every registered sampler on the tiny backbone (rollouts on the default
model: test_rollout_speed.py).

The tiny backbone keeps the forward cheap, so these cases expose sampler-side overhead (top-k,
Gumbel noise, categorical draws, bookkeeping). ``extra_info`` records the counted NFE.
"""

from __future__ import annotations

import functools

import pytest
import torch

from maskbench.core.backbone import build_backbone
from maskbench.core.denoiser import BackboneDenoiser, CountingDenoiser
from maskbench.samplers import build_sampler, registered_samplers

FRAMES, CONTEXT, STRIDE, SIZE, VOCAB, BATCH = 16, 2, 14, 8, 1024, 4


@functools.cache
def _denoiser() -> BackboneDenoiser:
    torch.manual_seed(0)
    return BackboneDenoiser(build_backbone("tiny", vocab_size=VOCAB, max_frames=FRAMES, height=SIZE, width=SIZE).eval())


def _context() -> torch.Tensor:
    return torch.randint(0, VOCAB, (BATCH, CONTEXT, SIZE, SIZE), generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("name", sorted(registered_samplers()))
def test_one_window(benchmark, name):
    sampler = build_sampler(name)
    window = torch.cat([_context(), torch.full((BATCH, FRAMES - CONTEXT, SIZE, SIZE), VOCAB)], dim=1)

    def run():
        model = CountingDenoiser(_denoiser())
        sampler.sample_window(model, window, CONTEXT, torch.Generator().manual_seed(0))
        return model.nfe

    benchmark.extra_info["nfe"] = benchmark.pedantic(run, rounds=1, iterations=1, warmup_rounds=0)
