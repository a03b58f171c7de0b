"""Token-level operations shared by samplers: categorical draws and random unmasking."""

from __future__ import annotations

import torch
from einops import rearrange

from maskbench.core.denoiser import Denoiser
from maskbench.schedules import Schedule


def sample_categorical(
    logits: torch.Tensor, generator: torch.Generator, temperature: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw one token per row of ``softmax(logits / temperature)``.

    Inverse-CDF sampling needs one uniform per row (not one per class, as Gumbel-max would).

    Args:
        logits: float ``[N, K]``.
        generator: random source (same device as ``logits``).
        temperature: 0 means argmax.

    Returns:
        tokens long ``[N]`` and their probabilities float ``[N]``.
    """
    if temperature == 0:
        probs = logits.softmax(dim=-1)
        tokens = probs.argmax(dim=-1)
        return tokens, probs.gather(1, tokens[:, None]).squeeze(1)
    probs = (logits / temperature).softmax(dim=-1)
    cdf = probs.cumsum(dim=-1)
    # u in (0, 1]: a draw of exactly 0 would pick token 0 even when its probability is 0
    u = 1 - torch.rand(logits.shape[0], 1, generator=generator, device=logits.device, dtype=cdf.dtype)
    tokens = torch.searchsorted(cdf, u * cdf[:, -1:]).squeeze(1).clamp_(max=logits.shape[-1] - 1)
    return tokens, probs.gather(1, tokens[:, None]).squeeze(1)


def gumbel_noise(shape: tuple[int, ...], generator: torch.Generator, device: torch.device) -> torch.Tensor:
    """Standard Gumbel draws ``-log(E)``, ``E ~ Exp(1)``: finite everywhere (MGM's confidence noise)."""
    exp = torch.empty(shape, device=device).exponential_(generator=generator)
    return -exp.clamp_min(torch.finfo(exp.dtype).tiny).log()


def reveal_random(masked: torch.Tensor, counts: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Pick ``counts[b, f]`` masked positions uniformly at random in every frame.

    Args:
        masked: bool ``[B, F, h, w]``.
        counts: long ``[B, F]`` (clipped to the masked count of each frame).

    Returns:
        bool ``[B, F, h, w]``, a subset of ``masked``.
    """
    b, f, h, w = masked.shape
    flat = rearrange(masked, "b f h w -> b f (h w)")
    scores = torch.rand(flat.shape, generator=generator, device=masked.device)
    scores = scores.masked_fill(~flat, 2.0)  # unmasked positions sort last
    rank = scores.argsort(dim=-1).argsort(dim=-1)
    reveal = rank < counts.unsqueeze(-1)
    return rearrange(reveal & flat, "b f (h w) -> b f h w", h=h, w=w)


def step_to_times(
    model: Denoiser,
    x: torch.Tensor,
    t_model: torch.Tensor,
    t_next: torch.Tensor,
    schedule: Schedule,
    generator: torch.Generator,
    temperature: float = 1.0,
) -> torch.Tensor:
    """One evaluation, then unmask random tokens so frame ``f`` is ``kappa(t_next[f])`` unmasked.

    The level-scheduled samplers (Diffusion Forcing, RDM) are sequences of these steps.

    Args:
        x: long ``[B, F, h, w]``, updated in place and returned.
        t_model: float ``[B, F]`` times passed to the model.
        t_next: float ``[F]`` target time of every frame after this step.
    """
    masked = x == model.mask_id
    logits = model(x, t_model, masked)
    per_frame = x.shape[2] * x.shape[3]
    target = torch.round(schedule.kappa(t_next.to(torch.float64)) * per_frame).long().to(x.device)
    counts = (target - (~masked).sum(dim=(2, 3))).clamp(min=0)
    reveal = reveal_random(masked, counts, generator)
    chosen = reveal[masked]
    if chosen.any():
        tokens, _ = sample_categorical(logits[chosen], generator, temperature)
        x[reveal] = tokens
    return x


def context_times(frames: int, context: int, t: torch.Tensor | float, batch: int, device) -> torch.Tensor:
    """Per-frame times ``[B, F]``: 1 for the ``context`` leading frames, ``t`` for the others."""
    out = torch.ones(batch, frames, device=device)
    out[:, context:] = t if not torch.is_tensor(t) else t.to(device=device, dtype=out.dtype)
    return out
