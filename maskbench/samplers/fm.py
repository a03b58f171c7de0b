"""FM-style sampling (paper Algorithm 3): Euler steps of the discrete flow-matching CTMC."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from maskbench.core.hookspecs import hookimpl
from maskbench.core.rollout import RolloutPlan
from maskbench.samplers.base import Sampler, SamplerOptions
from maskbench.samplers.options import AtLeast, option
from maskbench.samplers.ops import context_times, sample_categorical
from maskbench.schedules import get_schedule


@dataclass
class FMOptions(SamplerOptions):
    steps: int = option(250, "Euler steps per window, h = 1 / steps (paper: 250)", AtLeast(1))
    temperature: float = option(1.0, "softmax temperature of token draws (0: argmax)", AtLeast(0))


class FM(Sampler):
    """A masked token jumps to a drawn clean token with probability ``h kappa'(t) / (1 - kappa(t))``."""

    name = "fm"
    Options = FMOptions
    exact = True  # tokens revealed in one step are drawn independently: exact as steps grow (h -> 0)


    def declared_nfe(self, plan: RolloutPlan) -> int:
        return len(plan.windows()) * self.options.steps  # one evaluation per step, every window

    def sample_window(self, model, window, context, generator):
        x = window.clone()
        schedule = get_schedule(self.options.schedule)
        steps = self.options.steps
        for i in range(steps):
            t = i / steps
            self._step(model, x, context, generator, t, self._jump_probability(schedule, t, i == steps - 1))
        return x

    def _jump_probability(self, schedule, t: float, last: bool) -> float:
        if last:  # the final step unmasks everything left, whatever the schedule
            return 1.0
        h = 1 / self.options.steps
        tt = torch.tensor(t, dtype=torch.float64)
        rate = schedule.derivative(tt) / (1 - schedule.kappa(tt)).clamp_min(1e-12)
        return float((h * rate).clamp(0, 1))

    def _step(self, model, x, context, generator, t, probability):
        masked = x == model.mask_id
        times = context_times(x.shape[1], context, t, x.shape[0], x.device)
        logits = model(x, self.model_time(times), masked)
        jump = torch.rand(logits.shape[0], generator=generator, device=x.device) < probability
        if jump.any():
            tokens, _ = sample_categorical(logits[jump], generator, self.options.temperature)
            positions = masked.clone()
            positions[masked] = jump
            x[positions] = tokens


@hookimpl
def maskbench_samplers():
    return [FM]
