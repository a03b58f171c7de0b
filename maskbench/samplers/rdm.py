"""Rolling diffusion (RDM): one window rolls along the video, its new frames at staggered levels.

NFE = T (init) + (L - k) * ceil(T / (k - m)) (one-frame shifts) + T (final flush), paper A.2.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from maskbench.core.hookspecs import hookimpl
from maskbench.core.rollout import RolloutPlan, check_context
from maskbench.samplers.base import Sampler, SamplerOptions
from maskbench.samplers.options import AtLeast, option
from maskbench.samplers.ops import step_to_times
from maskbench.schedules import get_schedule
from maskbench.schedules.rolling import final_times, init_times, shift_times


@dataclass
class RDMOptions(SamplerOptions):
    steps: int = option(250, "denoising steps T of the init and final stages (paper: 250)", AtLeast(1))
    temperature: float = option(1.0, "softmax temperature of token draws (0: argmax)", AtLeast(0))


class RDM(Sampler):
    """Rolls its own single window (the stride does not apply); see the module docstring."""

    name = "rdm"
    Options = RDMOptions
    exact = True  # random reveals, each token from the model's posterior: exact as steps grow
    rollout = "rolling"  # one window rolled frame by frame along the video, not windows of the stride

    def declared_nfe(self, plan: RolloutPlan) -> int:
        """One evaluation per row of the level schedules: init, one shift per frame past the window, the flush."""
        k = plan.frames if self.options.window == "full" else min(plan.frames, plan.length)
        n, steps = k - plan.context, self.options.steps
        rows = [len(times) - 1 for times in (init_times(n, steps), shift_times(n, steps), final_times(n, steps))]
        return rows[0] + max(plan.length - k, 0) * rows[1] + rows[2]

    def sample_window(self, model, window, context, generator):
        """One window on its own: init to the rolling state, then the final flush (2T evaluations)."""
        x = window.clone()
        n, steps = x.shape[1] - context, self.options.steps
        self._follow(model, x, context, init_times(n, steps), generator)
        self._follow(model, x, context, final_times(n, steps), generator)
        return x

    def generate(self, model, context, plan: RolloutPlan, generator):
        check_context(context, plan)
        m = plan.context
        # L < k: one window of L frames (Algorithm 2's reading), or k frames with the surplus dropped. Until
        # now RDM returned k frames here; no result cell has L < k (L = x k), so the revision stays 1.
        k = plan.frames if self.options.window == "full" else min(plan.frames, plan.length)
        n, steps = k - m, self.options.steps
        b, _, h, w = context.shape
        masked = torch.full((b, n, h, w), model.mask_id, dtype=context.dtype)
        window = torch.cat([context.cpu(), masked], dim=1).to(model.device)
        done = [context.cpu()]
        self._follow(model, window, m, init_times(n, steps), generator)
        for _ in range(plan.length - k):
            self._follow(model, window, m, shift_times(n, steps), generator)
            done.append(window[:, m : m + 1].cpu())
            fresh = torch.full((b, 1, h, w), model.mask_id, dtype=window.dtype, device=window.device)
            window = torch.cat([window[:, 1:], fresh], dim=1)
        self._follow(model, window, m, final_times(n, steps), generator)
        done.append(window[:, m:].cpu())
        return torch.cat(done, dim=1)[:, : plan.length]

    def _follow(self, model, x, context, times, generator):
        """Walk the new frames through ``times`` (``[rows + 1, n]``): one evaluation per row."""
        schedule = get_schedule(self.options.schedule)
        b = x.shape[0]
        ones = torch.ones(context, dtype=times.dtype)
        for now, nxt in zip(times[:-1], times[1:]):
            t_now = torch.cat([ones, now]).float().to(x.device).expand(b, -1)
            step_to_times(model, x, self.model_time(t_now), torch.cat([ones, nxt]), schedule, generator,
                          self.options.temperature)


@hookimpl
def maskbench_samplers():
    return [RDM]
