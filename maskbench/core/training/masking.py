"""Algorithm 1: frame-level masking, the constant-masking baseline, and the masked-only loss."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange

from maskbench.schedules import Schedule

SNR_CLIP = 6.0  # min-SNR clipping (Diffusion Forcing's fused-SNR)
SNR_DECAY = 0.8  # exponential smoothing over the frame axis


def draw_times(batch: int, frames: int, masking: str, generator: torch.Generator, device=None) -> torch.Tensor:
    """Per-frame times ``[B, F]``: independent ``U(0, 1)`` per frame (``"frame"``) or one per clip (``"constant"``)."""
    if masking == "frame":
        return torch.rand(batch, frames, generator=generator, device=device)
    return torch.rand(batch, 1, generator=generator, device=device).expand(batch, frames).contiguous()


def mask_tokens(
    tokens: torch.Tensor, t: torch.Tensor, schedule: Schedule, mask_id: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mask each token of frame ``f`` with probability ``1 - kappa(t_f)``.

    Args:
        tokens: long ``[B, F, h, w]`` clean tokens.
        t: float ``[B, F]``.

    Returns:
        ``(x_t, masked)``: long ``[B, F, h, w]`` with ``mask_id`` at masked places, and the bool mask.
    """
    keep = schedule.kappa(t.double()).float()
    u = torch.rand(tokens.shape, generator=generator, device=tokens.device)
    masked = u >= rearrange(keep, "b f -> b f 1 1")
    return tokens.masked_fill(masked, mask_id), masked


def fused_snr_weights(t: torch.Tensor, schedule: Schedule) -> torch.Tensor:
    """Per-frame loss weights ``[B, F]`` from the fused SNR (Diffusion Forcing, adapted to masking).

    ``snr = kappa^2 / (1 - kappa)^2`` (SPEC 3), clipped at 6; fused along frames as an exponential
    moving average (decay 0.8) so a frame's weight also reflects the noise of the frames before it;
    weight = ``min(fused, 6) / fused`` per frame (min-SNR), normalised to mean 1 over the batch.
    """
    kappa = schedule.kappa(t.double()).clamp(0, 1 - 1e-6)
    snr = (kappa**2 / (1 - kappa) ** 2).clamp(max=SNR_CLIP)
    fused = torch.empty_like(snr)
    running = snr[:, 0]
    for f in range(snr.shape[1]):
        running = SNR_DECAY * running + (1 - SNR_DECAY) * snr[:, f] if f else snr[:, 0]
        fused[:, f] = running
    weight = fused.clamp(max=SNR_CLIP) / fused.clamp_min(1e-6)
    return (weight / weight.mean()).float()


def masked_cross_entropy(
    logits: torch.Tensor, targets: torch.Tensor, masked: torch.Tensor, frame_weights: torch.Tensor | None = None
) -> torch.Tensor:
    """Cross-entropy over masked positions only.

    Args:
        logits: ``[N, K]`` at the masked positions (the backbone's ``where=masked`` head).
        targets: long ``[B, F, h, w]`` clean tokens.
        masked: bool ``[B, F, h, w]`` (``N`` true entries).
        frame_weights: optional ``[B, F]`` per-frame weights.
    """
    losses = F.cross_entropy(logits.float(), targets[masked], reduction="none")
    if frame_weights is not None:
        per_token = rearrange(frame_weights, "b f -> b f 1 1").expand_as(masked)
        losses = losses * per_token[masked]
    return losses.mean() if losses.numel() else logits.sum() * 0
