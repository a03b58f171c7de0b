"""I3D features of the real side of FVD: random real windows of the rollout length, cached on disk."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

#: How ``maskbench run`` draws its real side; written into ``run.json``.
REAL_SIDE = ("--videos random windows of the rollout length L from the data set (videos drawn with replacement, "
             "a uniform start in each; seed + 1, and seed + 2 for the real-vs-real floor), as the paper and "
             "StyleGAN-V; then the --fvd-protocol clip of each")


def feature_cache_dir() -> Path:
    """``$MASKBENCH_CACHE/features`` (default ``~/.cache/maskbench/features``)."""
    root = os.environ.get("MASKBENCH_CACHE") or Path.home() / ".cache" / "maskbench"
    return Path(root) / "features"


def real_features(bench, length: int, draw: int = 1) -> np.ndarray:
    """Features ``[N, 400]`` of the protocol's clips of ``N = --videos`` random real windows of ``length`` frames.

    Drawn with a seed apart from the contexts' (paper: an independent random window per video), and
    computed once per data set, length, count, seed and protocol. ``draw`` 2 is a second, independent
    real set of the same size: FVD between the two is what sampling noise alone gives at this ``N``.
    """
    from maskbench.core.data import random_windows
    from maskbench.metrics.features import cached_features, i3d_features
    from maskbench.metrics.protocols import protocol_clips

    n, seed, protocol = bench.config.videos, bench.config.seed + draw, bench.config.fvd_protocol
    key = f"{bench.videos.video_id()}-L{length}-n{n}-seed{seed}"
    key += "" if protocol == "full" else f"-{protocol}"  # keeps the cache files of full-protocol runs valid

    def compute() -> np.ndarray:
        windows = random_windows(bench.videos, length, n, seed=seed)
        return i3d_features(protocol_clips(windows, protocol), device=bench.device)

    return cached_features(key, feature_cache_dir(), compute)
