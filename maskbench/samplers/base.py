"""The one sampler interface every built-in and third-party sampler implements."""

from __future__ import annotations

import abc
import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from maskbench.core.denoiser import Denoiser
from maskbench.core.errors import MaskbenchError
from maskbench.core.rollout import RolloutPlan, chunked_rollout
from maskbench.samplers.options import OneOf, RegisteredSchedule, check_known, check_options, option
from maskbench.samplers.options import option_fields, parse_option  # noqa: F401  (re-exported)

WINDOWS = ("stride", "full")


@dataclass
class SamplerOptions:
    """Options every sampler has; subclasses add their own, declared with :func:`option` (help, constraint)."""

    time_independent: bool = option(
        False, "pass t = 0 for every frame at every step (paper eq. 8); for MGM the same as mgm.time=zeros, "
        "which is MGM's default")
    schedule: str = option("sigmoid", "masking schedule kappa(t) the model was trained with", RegisteredSchedule())
    window: str = option(
        "stride", "frames of a window when s < k - m: 'stride' = context + s masked (Algorithm 2), 'full' = "
        "context + k - m masked, the surplus dropped (paper 3.4 prose, authors' code); equal when s = k - m",
        OneOf(WINDOWS))

    def conflicts(self) -> str | None:
        """Options that contradict each other, said in one line (``None`` when they agree); override to add rules."""
        return None


class Sampler(abc.ABC):
    """A sampler fills masked frames of a window, and rolls windows out to long videos.

    Subclasses set ``name`` and ``Options`` and implement :meth:`sample_window`; a sampler that
    does not work window by window (RDM) overrides :meth:`generate` too.
    """

    name: ClassVar[str]
    Options: ClassVar[type[SamplerOptions]] = SamplerOptions
    #: Bump when a change alters what the sampler draws for a given seed (a bug fix, a new default):
    #: it is part of every result cell's key, so cells measured by the older code are not reused.
    revision: ClassVar[int] = 1
    #: True when, given an exact posterior denoiser (and the steps its options say), the sampler draws from
    #: the joint distribution itself, not a heuristic; tests/samplers/test_distribution.py checks every
    #: sampler that claims it.
    exact: ClassVar[bool] = False
    #: How :meth:`generate` rolls out, recorded with every result cell: ``"windows"``, windows of the plan's
    #: stride (the default, :func:`~maskbench.core.rollout.chunked_rollout`); anything else names a sampler's
    #: own scheme whose stride does not apply (RDM: ``"rolling"``, one window rolled along the video).
    rollout: ClassVar[str] = "windows"

    def __init__(self, options: SamplerOptions | None = None, **overrides: Any):
        prefix = f"{getattr(self, 'name', type(self).__name__)}."
        check_known(self.Options, overrides, prefix)
        self.options = dataclasses.replace(options or self.Options(), **overrides)
        check_options(self.options, prefix)
        conflict = self.options.conflicts()
        if conflict:
            raise MaskbenchError(f"{prefix.rstrip('.')}: {conflict}")

    @abc.abstractmethod
    def sample_window(
        self, model: Denoiser, window: torch.Tensor, context: int, generator: torch.Generator
    ) -> torch.Tensor:
        """Fill one window.

        Args:
            model: counting denoiser.
            window: long ``[B, F, h, w]``; frames ``< context`` clean, the rest all ``mask_id``.
            context: number of clean leading frames.
            generator: source of every random draw (on the model's device).

        Returns:
            long ``[B, F, h, w]`` with no mask token left and the context frames unchanged.
        """

    def generate(
        self, model: Denoiser, context: torch.Tensor, plan: RolloutPlan, generator: torch.Generator
    ) -> torch.Tensor:
        """Roll out a long video from ground-truth context ``[B, m, h, w]`` -> ``[B, L, h, w]`` (CPU)."""
        return chunked_rollout(self.sample_window, model, context, plan, generator,
                               full_windows=self.options.window == "full")

    def declared_nfe(self, plan: RolloutPlan) -> int | None:
        """Model evaluations per video this sampler promises for ``plan``, or ``None`` (the default) when it
        makes no promise (its NFE may depend on the data). Built-ins give the paper's Appendix A.2 formulas; the
        contract tests (tests/samplers/test_contract.py) check any declared number against the counted one, and
        ``maskbench nfe`` always counts (bench/nfe.py), it never trusts a declaration."""
        return None

    def model_time(self, t: torch.Tensor) -> torch.Tensor:
        """The per-frame time the model sees: ``t``, or zeros in timestep-independent mode."""
        return torch.zeros_like(t) if self.options.time_independent else t
