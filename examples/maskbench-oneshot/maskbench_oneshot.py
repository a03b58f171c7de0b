"""A complete third-party sampler plugin: fill every masked token with its argmax in one evaluation."""

from dataclasses import dataclass

from maskbench.core.hookspecs import hookimpl
from maskbench.samplers import Sampler, SamplerOptions
from maskbench.samplers.ops import context_times


@dataclass
class OneShotOptions(SamplerOptions):
    pass


class OneShot(Sampler):
    """Greedy one-step unmasking: 1 NFE per window (a lower bound on cost, not on quality)."""

    name = "oneshot"
    Options = OneShotOptions

    def declared_nfe(self, plan):  # optional: the contract tests then check it against the counted NFE
        return len(plan.windows())

    def sample_window(self, model, window, context, generator):
        x = window.clone()
        masked = x == model.mask_id
        t = context_times(x.shape[1], context, 0.0, x.shape[0], x.device)
        x[masked] = model(x, self.model_time(t), masked).argmax(dim=-1)
        return x


@hookimpl
def maskbench_samplers():
    return [OneShot]
