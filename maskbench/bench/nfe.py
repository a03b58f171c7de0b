"""Counted NFE of every sampler's real loop, against a weightless stand-in denoiser."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from maskbench.core.denoiser import CountingDenoiser
from maskbench.core.errors import MaskbenchError
from maskbench.core.rollout import RolloutPlan
from maskbench.core.standins import RandomDenoiser
from maskbench.samplers import Sampler


@dataclass(frozen=True)
class NFEConfig:
    """What ``maskbench nfe`` counts.

    Attributes:
        samplers: registry names.
        frames, context, stride: window geometry ``k, m, s``.
        factors: extrapolation factors (``L = x * k``).
        grid: token grid of the stand-in (each frame must hold at least as many tokens as MGM has steps).
        vocab_size: stand-in vocabulary.
    """

    samplers: tuple[str, ...]
    frames: int
    context: int
    stride: int
    factors: tuple[int, ...]
    grid: tuple[int, int] = (8, 8)
    vocab_size: int = 16
    options: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.samplers:
            raise MaskbenchError("no sampler given; pass --samplers mgm,fm,df,rdm")
        if not self.factors:
            raise MaskbenchError("no extrapolation factor given; pass e.g. --extrap 1,2,5,10")
        for factor in self.factors:  # validates k, m, s and every factor before any work
            RolloutPlan.from_extrapolation(self.frames, self.context, self.stride, factor)


def counted_nfe(sampler: Sampler, plan: RolloutPlan, grid=(8, 8), vocab_size: int = 16, seed: int = 0) -> int:
    """Run ``sampler`` over ``plan`` against random logits and return the evaluations it made."""
    model = CountingDenoiser(RandomDenoiser(vocab_size, seed=seed))
    context = torch.randint(0, vocab_size, (1, plan.context, *grid), generator=torch.Generator().manual_seed(seed))
    sampler.generate(model, context, plan, torch.Generator().manual_seed(seed))
    return model.nfe


def nfe_rows(config: NFEConfig, samplers: dict[str, Sampler]) -> list[dict]:
    """``[{"sampler", "extrap", "nfe"}, ...]`` for every sampler x factor of ``config``."""
    rows = []
    for name in config.samplers:
        for factor in config.factors:
            plan = RolloutPlan.from_extrapolation(config.frames, config.context, config.stride, factor)
            nfe = counted_nfe(samplers[name], plan, config.grid, config.vocab_size)
            rows.append({"sampler": name, "extrap": factor, "nfe": nfe})
    return rows
