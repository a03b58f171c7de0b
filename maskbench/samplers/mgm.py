"""MGM-style sampling (paper Algorithm 4): unmask the most confident tokens, MaskGIT style."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from einops import rearrange

from maskbench.core.hookspecs import hookimpl
from maskbench.core.rollout import RolloutPlan
from maskbench.samplers.base import Sampler, SamplerOptions
from maskbench.samplers.options import AtLeast, OneOf, RegisteredSchedule, option
from maskbench.samplers.ops import context_times, gumbel_noise, sample_categorical
from maskbench.schedules import get_schedule
from maskbench.schedules.counts import unmask_counts, window_counts

#: The time MGM gives the model (docs/fidelity.md): each a different reading of the sources.
TIMES = ("zeros", "context-ones", "ones", "unmasked")
#: Over which tokens MGM spreads its count schedule (``COUNTS`` below).
SPREADS = ("masked", "window")


@dataclass
class MGMOptions(SamplerOptions):
    steps: int = option(20, "unmasking steps per window (paper: 20)", AtLeast(1))
    temperature: float = option(1.0, "softmax temperature of token draws (0: argmax)", AtLeast(0))
    gumbel: float = option(4.5, "scale of the annealed Gumbel noise on log-confidence (0: none)", AtLeast(0))
    counts: str = option("arccos", "count schedule: how many tokens each step unmasks", RegisteredSchedule())
    spread: str = option(
        "masked", "what the count schedule is spread over: 'masked' = the masked tokens, exactly `steps` NFE "
        "per window (paper); 'window' = every token of the window, context included, stopping when none is "
        "masked (authors' adap_scheduler: 19 NFE per FFS window, 3-4 per frame for s = 1)", OneOf(SPREADS))
    time: str = option(
        "zeros", "t given to the model: 'zeros' = 0 for every frame at every step (eq. 8, the setting of the "
        "paper's Tables 1 and 5); 'context-ones' = 1 context, 0 generated, fixed (Algorithm 4 as printed); "
        "'ones' = 1 for every frame, fixed (authors' code: stabilization_level 1, time_cond 1.0); 'unmasked' "
        "= kappa^-1(unmasked fraction) per frame, recomputed each step (maskbench revisions 1-2)", OneOf(TIMES))

    def conflicts(self) -> str | None:
        if self.time_independent and self.time != "zeros":
            return f"time={self.time} contradicts time_independent=True (t = 0 for every frame); drop one"
        return None


class MGM(Sampler):
    """Confidence-based unmasking: ``steps`` evaluations per window (fewer with ``spread=window``)."""

    name = "mgm"
    Options = MGMOptions
    # 2: the Gumbel confidence noise was NaN in revision 1 (a fixed positional unmasking order).
    # 3: the model sees t = 0 for every frame by default (time=zeros, the paper's Tables 1 and 5); revision 2
    #    gave kappa^-1(unmasked fraction), now time=unmasked.
    revision = 3


    def declared_nfe(self, plan: RolloutPlan) -> int:
        return len(plan.windows()) * self.options.steps  # one evaluation per step, every window

    def sample_window(self, model, window, context, generator):
        opts = self.options
        x = window.clone()
        masked_per_video = int((x[0] == model.mask_id).sum())
        counts = COUNTS[opts.spread](x[0].numel(), masked_per_video, opts.steps, get_schedule(opts.counts))
        schedule = get_schedule(opts.schedule)
        for step, count in enumerate(counts):
            if count == 0:
                break
            self._step(model, x, context, generator, count, step, schedule)
        return x

    def _step(self, model, x, context, generator, count, step, schedule):
        opts = self.options
        masked = x == model.mask_id
        t = self._frame_times(masked, context, schedule)
        logits = model(x, self.model_time(t), masked)
        tokens, probs = sample_categorical(logits, generator, opts.temperature)
        noise_scale = opts.gumbel * (1 - step / opts.steps)
        confidence = probs.clamp_min(1e-30).log() + noise_scale * gumbel_noise(probs.shape, generator, probs.device)
        flat_mask = rearrange(masked, "b f h w -> b (f h w)")
        scores = torch.full(flat_mask.shape, float("-inf"), device=x.device)
        scores[flat_mask] = confidence
        proposal = rearrange(x, "b f h w -> b (f h w)").clone()
        proposal[flat_mask] = tokens
        chosen = scores.topk(count, dim=1).indices
        flat_x = rearrange(x, "b f h w -> b (f h w)")  # a view: writes land in x
        flat_x.scatter_(1, chosen, proposal.gather(1, chosen))

    def _frame_times(self, masked, context, schedule):
        """Per-frame time ``[B, F]`` of the ``time`` option."""
        return FRAME_TIMES[self.options.time](masked, context, schedule)


def _unmasked_times(masked: torch.Tensor, context: int, schedule) -> torch.Tensor:
    """``t = kappa^-1(unmasked fraction)`` of each generated frame, context 1 (``[B, F]``)."""
    b, f = masked.shape[:2]
    unmasked = 1 - masked.float().mean(dim=(2, 3))
    return context_times(f, context, schedule.inverse(unmasked[:, context:]), b, masked.device)


#: ``time`` option -> ``(masked [B, F, h, w], context, schedule) -> t [B, F]``.
FRAME_TIMES = {
    "zeros": lambda masked, context, schedule: torch.zeros(masked.shape[:2], device=masked.device),
    "ones": lambda masked, context, schedule: torch.ones(masked.shape[:2], device=masked.device),
    "context-ones": lambda masked, context, schedule: context_times(
        masked.shape[1], context, 0.0, masked.shape[0], masked.device),
    "unmasked": _unmasked_times,
}
#: ``spread`` option -> ``(window tokens, masked tokens, steps, count schedule) -> tokens per evaluation``.
COUNTS = {
    "masked": lambda tokens, masked, steps, schedule: unmask_counts(masked, steps, schedule),
    "window": window_counts,
}


@hookimpl
def maskbench_samplers():
    return [MGM]
