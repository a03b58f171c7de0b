"""Training windows from a token cache, a pure function of (seed, step, rank): resumable order."""

from __future__ import annotations

import numpy as np
import torch


def window_batch(tokens: np.ndarray, frames: int, batch: int, seed: int, step: int, rank: int) -> torch.Tensor:
    """``batch`` random windows of ``frames`` frames, long ``[B, F, h, w]``.

    The draw depends only on ``(seed, step, rank)``: a resumed run sees exactly the batches an
    uninterrupted run would have seen, without saving any sampler state.
    """
    rng = np.random.default_rng([seed, step, rank])
    videos = rng.integers(0, tokens.shape[0], size=batch)
    starts = rng.integers(0, tokens.shape[1] - frames + 1, size=batch)
    clips = [np.asarray(tokens[v, s : s + frames], dtype=np.int64) for v, s in zip(videos, starts)]
    return torch.from_numpy(np.stack(clips))
