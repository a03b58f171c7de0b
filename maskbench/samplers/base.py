"""The one sampler interface every built-in and third-party sampler implements."""

from __future__ import annotations

import abc
import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch

from maskbench.core.denoiser import Denoiser
from maskbench.core.errors import MaskbenchError
from maskbench.core.rollout import RolloutPlan, chunked_rollout


@dataclass
class SamplerOptions:
    """Options every sampler has; subclasses add their own fields (with ``help`` metadata)."""

    time_independent: bool = field(
        default=False, metadata={"help": "pass t = 0 for every frame at every step (paper eq. 8)"}
    )
    schedule: str = field(
        default="sigmoid", metadata={"help": "masking schedule kappa(t) the model was trained with"}
    )


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

    def __init__(self, options: SamplerOptions | None = None, **overrides: Any):
        self.options = dataclasses.replace(options or self.Options(), **overrides)

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
        return chunked_rollout(self.sample_window, model, context, plan, generator)

    def model_time(self, t: torch.Tensor) -> torch.Tensor:
        """The per-frame time the model sees: ``t``, or zeros in timestep-independent mode."""
        return torch.zeros_like(t) if self.options.time_independent else t


def option_fields(options_cls: type[SamplerOptions]) -> dict[str, dataclasses.Field]:
    """Name -> field of a sampler's options dataclass."""
    return {f.name: f for f in dataclasses.fields(options_cls)}


def parse_option(options_cls: type[SamplerOptions], name: str, text: str) -> Any:
    """Convert a command-line value to the type of option ``name`` (one-line error if impossible)."""
    fields = option_fields(options_cls)
    if name not in fields:
        raise MaskbenchError(f"unknown option {name!r}; options: {', '.join(sorted(fields))}")
    kind = type(fields[name].default)
    try:
        if kind is bool:
            if text.lower() not in {"true", "false", "1", "0", "yes", "no"}:
                raise ValueError(text)
            return text.lower() in {"true", "1", "yes"}
        return kind(text)
    except ValueError:
        raise MaskbenchError(f"option {name} expects a {kind.__name__}, got {text!r}") from None
