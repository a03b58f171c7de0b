"""Weightless denoisers: a random one for NFE counting and speed tests, an oracle for correctness."""

from __future__ import annotations

import torch
from einops import rearrange


class RandomDenoiser:
    """Random logits from its own generator: runs every sampler's real loop without any weights."""

    def __init__(self, vocab_size: int, seed: int = 0, device: str | torch.device = "cpu"):
        self.vocab_size = vocab_size
        self.mask_id = vocab_size
        self.device = torch.device(device)
        self.generator = torch.Generator(self.device).manual_seed(seed)

    def __call__(self, tokens: torch.Tensor, t: torch.Tensor, where: torch.Tensor) -> torch.Tensor:
        n = int(where.sum())
        return torch.randn(n, self.vocab_size, generator=self.generator, device=self.device)


class OracleDenoiser:
    """Puts all probability on a known ground-truth video.

    The window's position in the video is found from its first frame, which is always clean context
    (frames of the truth must be distinct). With it every correct sampler and rollout must reproduce
    the truth exactly, whatever its unmasking order.
    """

    def __init__(self, truth: torch.Tensor, vocab_size: int, confidence: float = 50.0):
        """Args: truth: long ``[B, L, h, w]`` token video with pairwise distinct frames per video."""
        self.truth = truth
        self.vocab_size = vocab_size
        self.mask_id = vocab_size
        self.device = truth.device
        self.confidence = confidence

    def __call__(self, tokens: torch.Tensor, t: torch.Tensor, where: torch.Tensor) -> torch.Tensor:
        frames = tokens.shape[1]
        target = torch.stack([self._window(tokens[b, 0], b, frames) for b in range(tokens.shape[0])])
        logits = torch.nn.functional.one_hot(target[where], self.vocab_size).float()
        return logits * self.confidence

    def _window(self, first: torch.Tensor, b: int, frames: int) -> torch.Tensor:
        same = (rearrange(self.truth[b], "l h w -> l (h w)") == first.flatten()).all(dim=1)
        start = int(same.nonzero()[0])
        return self.truth[b, start : start + frames]
