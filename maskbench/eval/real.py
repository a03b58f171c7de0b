"""I3D features of the real side of FVD: random real windows of the rollout length, cached on disk."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def feature_cache_dir() -> Path:
    """``$MASKBENCH_CACHE/features`` (default ``~/.cache/maskbench/features``)."""
    root = os.environ.get("MASKBENCH_CACHE") or Path.home() / ".cache" / "maskbench"
    return Path(root) / "features"


def real_features(bench, length: int, draw: int = 1) -> np.ndarray:
    """Features ``[N, 400]`` of ``N = --videos`` random real windows of ``length`` frames.

    Drawn with a seed apart from the contexts' (paper: an independent random window per video), and
    computed once per data set, length, count and seed. ``draw`` 2 is a second, independent real set
    of the same size: FVD between the two is what sampling noise alone gives at this ``N``.
    """
    from maskbench.core.data import random_windows
    from maskbench.eval.features import cached_features, i3d_features

    n, seed = bench.config.videos, bench.config.seed + draw
    key = f"{bench.videos.video_id()}-L{length}-n{n}-seed{seed}"

    def compute() -> np.ndarray:
        windows = random_windows(bench.videos, length, n, seed=seed)
        return i3d_features(windows, device=bench.device)

    return cached_features(key, feature_cache_dir(), compute)
