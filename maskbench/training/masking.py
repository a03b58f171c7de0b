"""Algorithm 1: frame-level masking, the constant-masking baseline, and the masked-only loss."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange

from maskbench.core.errors import MaskbenchError
from maskbench.schedules import Schedule

SNR_CLIP = 6.0  # min-SNR clip (Diffusion Forcing's fused SNR; the authors' snr_clip)
SNR_DECAY = 0.8  # smoothing over the frame axis (the authors' cum_snr_decay in their training command)
# SNR as a function of kappa: the paper (A.4) prints kappa^2 / (1 - kappa^2), the authors' code computes
# kappa^2 / (1 - kappa)^2 (at t = 0.5 of the sigmoid schedule: 1/3 against 1).
SNR_FORMULAS = {
    "paper": lambda kappa: kappa**2 / (1 - kappa**2),
    "authors": lambda kappa: kappa**2 / (1 - kappa) ** 2,
}


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


def fused_snr_weights(
    t: torch.Tensor, schedule: Schedule, clip: float = SNR_CLIP, decay: float = SNR_DECAY, formula: str = "paper"
) -> torch.Tensor:
    """Per-frame loss weights from the fused SNR (Diffusion Forcing, as the authors adapt it to masking).

    Each frame's SNR is clipped and scaled to ``own = min(snr, clip) / clip`` in ``[0, 1]``; an
    exponential average over the frames before it, ``a_f = decay * a_{f-1} + (1 - decay) * own_f``,
    carries their share forward: ``weight_f = clip * (1 - (1 - decay * a_{f-1}) * (1 - own_f))``
    (``a_{-1} = 0``), the x0-prediction branch of the authors' ``compute_loss_weights``. So weights
    lie in ``[0, clip]``: tiny for a heavily masked frame with no clean frame before it, ``clip`` for
    a nearly clean one. ``decay = 0`` is plain min-SNR, ``min(snr, clip)`` per frame. The weights are
    not normalised: the authors multiply the per-token loss by them and average over masked tokens.

    Args:
        t: ``[B, F]`` per-frame times.
        schedule: the masking schedule ``kappa``.
        clip: the SNR clip (6 in the paper's recipe).
        decay: the smoothing over frames (0.8 in the authors' training command).
        formula: ``"paper"`` (``kappa^2 / (1 - kappa^2)``) or ``"authors"`` (``kappa^2 / (1 - kappa)^2``).

    Returns:
        float32 ``[B, F]``.
    """
    if formula not in SNR_FORMULAS:
        raise MaskbenchError(f"unknown SNR formula {formula!r}; choose one of: {', '.join(SNR_FORMULAS)}")
    kappa = schedule.kappa(t.double()).clamp(0, 1)  # rounding may overshoot 1 and flip the paper SNR's sign
    own = SNR_FORMULAS[formula](kappa).clamp(max=clip) / clip  # kappa = 1 gives inf, clipped like any large SNR
    carried, running, weights = torch.zeros_like(own[:, 0]), None, []
    for f in range(own.shape[1]):
        weights.append(clip * (1 - (1 - carried) * (1 - own[:, f])))
        running = own[:, f] if running is None else decay * running + (1 - decay) * own[:, f]
        carried = decay * running
    return torch.stack(weights, dim=1).float()


def masked_cross_entropy(
    logits: torch.Tensor, targets: torch.Tensor, masked: torch.Tensor, frame_weights: torch.Tensor | None = None
) -> torch.Tensor:
    """Cross-entropy over masked positions only.

    Args:
        logits: ``[N, K]`` at the masked positions (the backbone's ``where=masked`` head).
        targets: long ``[B, F, h, w]`` clean tokens.
        masked: bool ``[B, F, h, w]`` (``N`` true entries).
        frame_weights: optional ``[B, F]`` per-frame weights; the loss is then ``sum(w * ce) / N`` over
            the ``N`` masked tokens, unnormalised, as the authors' ``mask_ce`` loss.
    """
    losses = F.cross_entropy(logits.float(), targets[masked], reduction="none")
    if frame_weights is not None:
        per_token = rearrange(frame_weights, "b f -> b f 1 1").expand_as(masked)
        losses = losses * per_token[masked]
    return losses.mean() if losses.numel() else logits.sum() * 0
