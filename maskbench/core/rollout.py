"""Long-video rollout (paper Algorithm 2): chunkwise autoregression over windows of ``k`` frames."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from maskbench.core.errors import MaskbenchError

WindowSampler = Callable[[object, torch.Tensor, int, torch.Generator], torch.Tensor]


def _check_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise MaskbenchError(f"{name} must be an integer, got {value!r}")
    return value


@dataclass(frozen=True)
class RolloutPlan:
    """Geometry of a rollout.

    Attributes:
        frames: window length ``k`` (the model's training length or less).
        context: context frames ``m`` at the start of each window (first window: ground truth).
        stride: how far the window start moves, ``s <= k - m``.
        length: total frames ``L`` including the initial context (``L = x * k`` for factor ``x``).
    """

    frames: int
    context: int
    stride: int
    length: int

    def __post_init__(self) -> None:
        k, m, s, n = (_check_int(f, getattr(self, f)) for f in ("frames", "context", "stride", "length"))
        if k < 2:
            raise MaskbenchError(f"frames per window k={k} must be at least 2")
        if not 1 <= m < k:
            raise MaskbenchError(f"context m={m} must satisfy 1 <= m < k={k}; lower --context")
        if not 1 <= s <= k - m:
            raise MaskbenchError(f"stride s={s} must satisfy 1 <= s <= k - m = {k - m}; change --stride or --context")
        if n <= m:
            raise MaskbenchError(f"length L={n} must exceed the context m={m}")

    @classmethod
    def from_extrapolation(cls, frames: int, context: int, stride: int, factor: int) -> "RolloutPlan":
        """Plan for ``L = factor * frames`` (paper convention: context frames included)."""
        factor = _check_int("extrapolation factor", factor)
        if factor < 1:
            raise MaskbenchError(f"extrapolation factor must be an integer >= 1, got {factor}")
        return cls(frames, context, stride, factor * _check_int("frames", frames))

    def windows(self) -> list[tuple[int, int]]:
        """``(context, new)`` frame counts of every window; the last one takes more context (Alg. 2)."""
        out, known = [], self.context
        while known < self.length:
            remaining = self.length - known
            new = min(remaining, self.stride)
            ctx = min(self.frames - remaining, known) if remaining <= self.stride else self.context
            out.append((ctx, new))
            known += new
        return out


def chunked_rollout(
    sample_window: WindowSampler,
    model,
    context: torch.Tensor,
    plan: RolloutPlan,
    generator: torch.Generator,
    full_windows: bool = False,
) -> torch.Tensor:
    """Generate ``plan.length`` frames window by window (Algorithm 2).

    Only one window lives on the model's device; the video accumulates on the CPU as integers, so
    memory stays bounded whatever the length.

    Args:
        sample_window: ``(model, window, context_frames, generator) -> filled window``.
        model: the (counting) denoiser.
        context: long ``[B, m, h, w]`` ground-truth context tokens.
        plan: rollout geometry.
        generator: every random draw comes from it.
        full_windows: every window has ``k`` frames (its context, then ``k - context`` masked ones) and
            only the first ``new`` generated frames are kept, as the paper's section 3.4 prose and the
            authors' code do; default (Algorithm 2): context + ``new`` masked frames. The two agree
            whenever ``s = k - m`` and ``L >= k``.

    Returns:
        long ``[B, L, h, w]`` on the CPU; the first ``m`` frames are ``context``.
    """
    check_context(context, plan)
    # The whole video is allocated once: growing it by torch.cat every window left a new, larger
    # block on the heap between the forwards' transient blocks each time, and the process's peak
    # memory crept up with the number of windows (10x/2x rollout peak 1.3-1.5, benchmarks/
    # test_rollout_memory.py).
    b, m, h, w = context.shape
    video = torch.empty((b, plan.length, h, w), dtype=context.dtype)
    video[:, :m] = context.cpu()
    end = m
    for ctx, new in plan.windows():
        masked = plan.frames - ctx if full_windows else new
        window = torch.cat([video[:, end - ctx : end], _masked_frames(video, masked, model.mask_id)], dim=1)
        filled = sample_window(model, window.to(model.device), ctx, generator)
        video[:, end : end + new] = filled[:, ctx : ctx + new].cpu()
        end += new
    return video[:, :end]


def _masked_frames(video: torch.Tensor, count: int, mask_id: int) -> torch.Tensor:
    b, _, h, w = video.shape
    return torch.full((b, count, h, w), mask_id, dtype=video.dtype)


def check_context(context: torch.Tensor, plan: RolloutPlan) -> None:
    if context.dim() != 4 or context.shape[1] != plan.context:
        raise MaskbenchError(
            f"context must be [B, m={plan.context}, h, w] token ids, got shape {tuple(context.shape)}"
        )
