"""MGM-style sampling (paper Algorithm 4): unmask the most confident tokens, MaskGIT style."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from einops import rearrange

from maskbench.core.hookspecs import hookimpl
from maskbench.samplers.base import Sampler, SamplerOptions
from maskbench.samplers.ops import context_times, gumbel_noise, sample_categorical
from maskbench.schedules import get_schedule
from maskbench.schedules.counts import unmask_counts


@dataclass
class MGMOptions(SamplerOptions):
    steps: int = field(default=20, metadata={"help": "unmasking steps per window (paper: 20)"})
    temperature: float = field(default=1.0, metadata={"help": "softmax temperature of token draws"})
    gumbel: float = field(default=4.5, metadata={"help": "scale of the annealed Gumbel noise on log-confidence"})
    counts: str = field(default="arccos", metadata={"help": "schedule of how many tokens each step unmasks"})


class MGM(Sampler):
    """Confidence-based unmasking in ``steps`` evaluations per window."""

    name = "mgm"
    Options = MGMOptions
    revision = 2  # 2: the Gumbel confidence noise was NaN in revision 1 (a fixed positional unmasking order)

    def sample_window(self, model, window, context, generator):
        opts = self.options
        x = window.clone()
        masked_per_video = int((x[0] == model.mask_id).sum())
        counts = unmask_counts(masked_per_video, opts.steps, get_schedule(opts.counts))
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
        """Time of each frame from its unmasked fraction, ``t = kappa^-1(fraction)``; context is 1."""
        b, f = masked.shape[:2]
        unmasked = 1 - masked.float().mean(dim=(2, 3))
        return context_times(f, context, schedule.inverse(unmasked[:, context:]), b, masked.device)


@hookimpl
def maskbench_samplers():
    return [MGM]
