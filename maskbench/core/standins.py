"""Weightless denoisers: a random one for NFE counting and speed tests, an oracle and an exact mixture
posterior for correctness."""

from __future__ import annotations

import torch
from einops import rearrange, repeat


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


class MixturePosterior:
    """The exact posterior ``p(x1 | unmasked tokens)`` of a tractable video distribution.

    The target: a video starts with context frames made only of the ``marker`` token (shared by every
    video, so they say nothing about the rest); every later frame comes from one component ``c``
    (drawn once per video with probability ``weights[c]``): token ``n`` of each frame is ``base[c, n]``
    with probability ``1 - noise``, else uniform over the ``vocab_size - 1`` non-marker tokens. Given
    ``c`` all tokens are independent, so the posterior of a masked token is the mixture of the
    components' token laws weighted by ``p(c | the window's unmasked non-marker tokens)``, in closed form.
    Frames are exchangeable given ``c``, so the window's place in the video does not matter.
    """

    def __init__(self, base: torch.Tensor, weights: torch.Tensor, noise: float, vocab_size: int):
        """
        Args:
            base: long ``[C, h, w]``, each component's clean frame, in ``0..vocab_size - 2``.
            weights: ``[C]`` component probabilities, summing to 1.
            noise: probability in ``[0, 1)`` that a token is redrawn uniformly.
            vocab_size: ``K``; token ``K - 1`` is the context marker, ``K`` the mask.
        """
        self.vocab_size, self.mask_id, self.marker = vocab_size, vocab_size, vocab_size - 1
        self.device = base.device
        self.base = rearrange(base, "c h w -> c (h w)")
        self.log_weights = weights.double().log()
        clean = torch.nn.functional.one_hot(self.base, vocab_size).double()
        self.token_law = (1 - noise) * clean + noise / (vocab_size - 1)  # [C, hw, K]
        self.token_law[..., self.marker] = 0

    def component_log_posterior(self, tokens: torch.Tensor) -> torch.Tensor:
        """``log p(c | unmasked non-marker tokens)`` of every video, ``[B, C]`` (``tokens``: ``[B, F, h, w]``)."""
        flat = rearrange(tokens, "b f h w -> b f (h w)")
        seen = (flat != self.mask_id) & (flat != self.marker)
        law = self.token_law.log().clamp_min(-1e30)  # finite, so unseen tokens (x 0) add exactly 0
        position = torch.arange(flat.shape[-1], device=flat.device)
        loglik = law[:, position, flat.clamp(max=self.marker)]  # [C, B, F, hw]
        loglik = (loglik * seen).sum(dim=(2, 3))
        return (rearrange(loglik, "c b -> b c") + self.log_weights).log_softmax(dim=-1)

    def __call__(self, tokens: torch.Tensor, t: torch.Tensor, where: torch.Tensor) -> torch.Tensor:
        posterior = self.component_log_posterior(tokens).exp()  # [B, C]
        probs = torch.einsum("bc,cnk->bnk", posterior, self.token_law)  # [B, hw, K]
        probs = repeat(probs, "b (h w) k -> b f h w k", f=tokens.shape[1], h=tokens.shape[2])
        return probs[where].log().float()
