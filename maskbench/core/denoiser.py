"""What samplers call: a denoiser ``p(x1 | xt, t)`` with counted evaluations (NFE).

Samplers never see the backbone directly. They get a :class:`CountingDenoiser`, which counts every
call, so the NFE in a results table is what was run, not what a formula says.
"""

from __future__ import annotations

import contextlib
from typing import Protocol

import torch


class Denoiser(Protocol):
    """``p(x1 | xt, t)``: logits over the ``vocab_size`` clean tokens at the requested positions."""

    vocab_size: int
    mask_id: int

    def __call__(self, tokens: torch.Tensor, t: torch.Tensor, where: torch.Tensor) -> torch.Tensor:
        """Logits ``[N, K]`` at ``tokens[where]`` (row-major order).

        Args:
            tokens: long ``[B, F, h, w]``, mask token ``mask_id``.
            t: float ``[B, F]`` per-frame time (0 masked, 1 clean).
            where: bool ``[B, F, h, w]``, the positions that need logits (``N`` of them).
        """


class BackboneDenoiser:
    """Adapts a :class:`~maskbench.core.backbone.MaskedLatte` to the :class:`Denoiser` protocol:
    inference mode, bf16 autocast on CUDA only (bf16 is ~100x slower on CPUs), fp32 logits out."""

    def __init__(self, backbone: torch.nn.Module, autocast: bool = True):
        self.backbone = backbone
        self.vocab_size = backbone.config.vocab_size
        self.mask_id = backbone.mask_id
        self.device = next(backbone.parameters()).device
        self.autocast = autocast and self.device.type == "cuda"

    def __call__(self, tokens: torch.Tensor, t: torch.Tensor, where: torch.Tensor) -> torch.Tensor:
        amp = torch.autocast("cuda", dtype=torch.bfloat16) if self.autocast else contextlib.nullcontext()
        with torch.inference_mode(), amp:
            return self.backbone(tokens, t.float(), where).float()


class CountingDenoiser:
    """Wraps a denoiser and counts its calls: one call = one NFE, whatever the batch size."""

    def __init__(self, inner: Denoiser):
        self.inner = inner
        self.vocab_size = inner.vocab_size
        self.mask_id = inner.mask_id
        self.device = getattr(inner, "device", torch.device("cpu"))
        self.nfe = 0

    def __call__(self, tokens: torch.Tensor, t: torch.Tensor, where: torch.Tensor) -> torch.Tensor:
        self.nfe += 1
        return self.inner(tokens, t, where)
