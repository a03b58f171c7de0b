"""Counted NFE of every sampler's real loop, against a weightless stand-in denoiser."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from maskbench.core.denoiser import CountingDenoiser
from maskbench.core.errors import MaskbenchError
from maskbench.core.rollout import RolloutPlan
from maskbench.core.standins import RandomDenoiser
from maskbench.bench.config import build_samplers, named_options
from maskbench.samplers import Sampler


@dataclass(frozen=True)
class NFEConfig:
    """What ``maskbench nfe`` counts.

    Attributes:
        samplers: registry name -> the options set for it, typed (as ``RunConfig.samplers``; a sequence
            of names sets none).
        frames, context, stride: window geometry ``k, m, s``.
        factors: extrapolation factors (``L = x * k``).
        grid: token grid of the stand-in (each frame must hold at least as many tokens as MGM has steps).
        vocab_size: stand-in vocabulary.
        time_independent: every sampler passes t = 0 (``--time-independent``), unless its options say otherwise.
    """

    samplers: Mapping[str, Mapping[str, Any]]
    frames: int
    context: int
    stride: int
    factors: tuple[int, ...]
    grid: tuple[int, int] = (8, 8)
    vocab_size: int = 16
    time_independent: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "samplers", named_options(self.samplers))
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


def nfe_rows(config: NFEConfig, progress: bool = False) -> list[dict]:
    """``[{"sampler", "extrap", "nfe"}, ...]`` for every sampler x factor of ``config`` (a bar with ``progress``)."""
    from maskbench.core.progress import bar

    samplers = build_samplers(config)
    cells = [(name, factor) for name in config.samplers for factor in config.factors]
    rows = []
    for name, factor in bar(cells, desc="counting NFE", unit="cell", disable=None if progress else True):
        plan = RolloutPlan.from_extrapolation(config.frames, config.context, config.stride, factor)
        nfe = counted_nfe(samplers[name], plan, config.grid, config.vocab_size)  # one sampler loop: seconds
        rows.append({"sampler": name, "extrap": factor, "nfe": nfe})
    return rows
