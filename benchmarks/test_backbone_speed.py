"""Backbone forward speed (fp32, no grad) on one 16-frame window of 8x8 tokens, K = 1024.

``pytest benchmarks/test_backbone_speed.py --benchmark-only``; each case records ms per video and
achieved GFLOP/s (analytic FLOPs from :func:`forward_flops`) in ``extra_info``.
"""

from __future__ import annotations

import functools

import pytest
import torch

from maskbench.core.backbone import build_backbone, forward_flops

FRAMES, SIZE, VOCAB, CONTEXT = 16, 8, 1024, 2


@functools.cache
def _model(name: str):
    torch.manual_seed(0)
    return build_backbone(name, vocab_size=VOCAB, max_frames=FRAMES, height=SIZE, width=SIZE).eval()


@pytest.mark.parametrize(
    "name, batch, masked_only",
    [("tiny", 8, False), ("cpu", 1, False), ("cpu", 8, False), ("cpu", 8, True)],
)
def test_forward_speed(benchmark, name, batch, masked_only):
    model = _model(name)
    generator = torch.Generator().manual_seed(0)
    tokens = torch.randint(0, VOCAB, (batch, FRAMES, SIZE, SIZE), generator=generator)
    tokens[:, CONTEXT:] = model.mask_id  # a first window: context frames clean, the rest masked
    t = torch.zeros(batch, FRAMES)
    t[:, :CONTEXT] = 1
    where = tokens == model.mask_id if masked_only else None
    heads = int(where.sum()) if masked_only else tokens.numel()

    def forward():
        with torch.inference_mode():
            return model(tokens, t, where)

    benchmark.pedantic(forward, rounds=5, warmup_rounds=1, iterations=1)
    if benchmark.stats:  # absent under --benchmark-disable, where the forward ran once as a test
        seconds = benchmark.stats.stats.median
        flops = forward_flops(model.config, batch, FRAMES, heads)
        benchmark.extra_info.update(
            ms_per_video=1e3 * seconds / batch, gflop_per_video=flops / batch / 1e9, gflops=flops / seconds / 1e9
        )
