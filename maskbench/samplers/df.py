"""Diffusion Forcing with the pyramid schedule over masking levels (paper Appendix A.2)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from maskbench.core.hookspecs import hookimpl
from maskbench.core.rollout import RolloutPlan
from maskbench.samplers.base import Sampler, SamplerOptions
from maskbench.samplers.options import AtLeast, option
from maskbench.samplers.ops import step_to_times
from maskbench.schedules import get_schedule
from maskbench.schedules.pyramid import level_to_time, pyramid_matrix


@dataclass
class DFOptions(SamplerOptions):
    steps: int = option(250, "denoising steps per frame T; a window costs k + T (paper: 250)", AtLeast(1))
    temperature: float = option(1.0, "softmax temperature of token draws (0: argmax)", AtLeast(0))


class DF(Sampler):
    """Each row of the pyramid matrix is one evaluation; earlier frames become clean first."""

    name = "df"
    Options = DFOptions
    exact = True  # random reveals, each token from the model's posterior: exact as steps grow


    def declared_nfe(self, plan: RolloutPlan) -> int:
        """``T`` pyramid steps plus one per frame of the window (``k`` for full windows), every window."""
        full = self.options.window == "full"
        return sum(self.options.steps + (plan.frames if full else ctx + new) for ctx, new in plan.windows())
    def sample_window(self, model, window, context, generator):
        x = window.clone()
        b, frames = x.shape[:2]
        steps = self.options.steps
        schedule = get_schedule(self.options.schedule)
        levels = pyramid_matrix(frames, steps)
        levels[:, :context] = 0  # context frames are clean throughout
        current = torch.full((frames,), steps)
        current[:context] = 0
        for row in levels:
            t_now = level_to_time(current, steps).to(x.device).expand(b, frames)
            step_to_times(model, x, self.model_time(t_now), level_to_time(row, steps), schedule, generator,
                          self.options.temperature)
            current = row
        return x


@hookimpl
def maskbench_samplers():
    return [DF]
