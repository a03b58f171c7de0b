"""Backbone forward throughput (fp32 on CPU, no grad) against the machine's dense-matmul rate.

Issue #22 target 2: the default preset at the default batch of ``maskbench run`` reaches at least
70% of the FLOP/s of a 2048^2 fp32 ``torch.matmul`` with the same threads. FLOPs are counted by
``FlopCounterMode`` on the timed call (attention included, :mod:`measure`), and the matmul is timed
alternately with the forward in the same loop, so a drift of the machine hits both alike.
``extra_info.of_matmul`` is that ratio; ``benchmarks/report.py`` judges it.

``test_attention_path`` times the two ways of attending at the block's shapes (SDPA's fused kernel
against ``softmax(q k^T / sqrt(d)) v`` with batched matmuls), per sequence length: the backbone's
choice of SDPA rests on it.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from measure import MATMUL_FLOPS, alternate, counted_flops, matmul


def test_matmul_peak(benchmark, default):
    benchmark.pedantic(matmul(default.device), rounds=10, warmup_rounds=2, iterations=1)
    if benchmark.stats:
        benchmark.extra_info.update(gflops=MATMUL_FLOPS / benchmark.stats.stats.median / 1e9,
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
            return model(window, t, where)

    if benchmark.disabled:  # an ordinary pytest run: the forward once, as a test
        forward()
        return
    fns = {"forward": forward, "matmul": matmul(default.device)}
    seconds = benchmark.pedantic(alternate, args=(fns, 5, default.device), rounds=1, iterations=1)
    flops = counted_flops(forward)
    rate, matmul_rate = flops / seconds["forward"], MATMUL_FLOPS / seconds["matmul"]
    benchmark.extra_info.update(
        preset=preset, batch=batch, default_batch=batch == default.batch, default_preset=preset == default.preset,
        device=str(default.device), threads=torch.get_num_threads(), flops=flops, flops_counter="FlopCounterMode",
        ms_per_video=1e3 * seconds["forward"] / batch, gflop_per_video=flops / batch / 1e9, gflops=rate / 1e9,
        matmul_gflops=matmul_rate / 1e9, of_matmul=rate / matmul_rate)


def _explicit(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    scores = torch.baddbmm(q.new_empty(q.shape[0], q.shape[1], k.shape[1]), q, k.transpose(1, 2), beta=0,
                           alpha=q.shape[-1] ** -0.5)
    return torch.bmm(scores.softmax(dim=-1), v)


@pytest.mark.parametrize("axis", ["temporal", "spatial"])
def test_attention_path(benchmark, default, axis):
    if benchmark.disabled:
        pytest.skip("timed only under pytest --benchmark-only")
    model = default.backbone()
    heads, dim = model.config.num_heads, model.config.hidden_size
    length = default.frames if axis == "temporal" else default.height * default.width
    rows = default.batch * default.frames * default.height * default.width // length * heads
    generator = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(rows, length, dim // heads, generator=generator).to(default.device) for _ in range(3))
    fns = {"sdpa": lambda: F.scaled_dot_product_attention(q[None], k[None], v[None]),
           "explicit": lambda: _explicit(q, k, v)}
    with torch.inference_mode():
        seconds = benchmark.pedantic(alternate, args=(fns, 9, default.device), rounds=1, iterations=1)
    benchmark.extra_info.update(axis=axis, length=length, rows=rows, sdpa_s=seconds["sdpa"],
                                explicit_s=seconds["explicit"], sdpa_over_explicit=seconds["sdpa"] / seconds["explicit"])
