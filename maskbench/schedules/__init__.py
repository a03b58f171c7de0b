"""Masking schedules kappa(t) and the DF / RDM level schedules: plain functions, shared by
training and sampling. Schedules are registered through the plugin manager (``maskbench_schedules``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

Fn = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Schedule:
    """A masking schedule: ``kappa(t)`` is the unmasked fraction at time ``t`` (0 masked, 1 clean).

    Attributes:
        name: registry name, e.g. ``"linear"``.
        kappa: ``t -> kappa(t)``, increasing from ``kappa(0) = 0`` to ``kappa(1) = 1``.
        derivative: ``t -> d kappa / d t``.
    """

    name: str
    kappa: Fn
    derivative: Fn

    def inverse(self, u: torch.Tensor) -> torch.Tensor:
        """Time ``t`` with ``kappa(t) = u``, any shape (kappa is monotone).

        Linear interpolation in a table of 4097 points: one ``searchsorted`` instead of a bisection
        loop, since samplers call this at every step (error below 1e-6 for the built-ins).
        """
        grid, values = _inverse_table(self)
        grid, values = grid.to(u.device), values.to(u.device)
        flat = u.reshape(-1).to(torch.float64).clamp(float(values[0]), float(values[-1]))
        hi = torch.searchsorted(values, flat).clamp(1, len(values) - 1)
        lo = hi - 1
        span = (values[hi] - values[lo]).clamp_min(1e-300)
        t = grid[lo] + (flat - values[lo]) / span * (grid[hi] - grid[lo])
        return t.reshape(u.shape).to(u.dtype if u.is_floating_point() else torch.float32)


_TABLES: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}


def _inverse_table(schedule: Schedule, points: int = 4097) -> tuple[torch.Tensor, torch.Tensor]:
    if schedule.name not in _TABLES:
        grid = torch.linspace(0, 1, points, dtype=torch.float64)
        _TABLES[schedule.name] = grid, torch.cummax(schedule.kappa(grid), dim=0).values
    return _TABLES[schedule.name]


def registered_schedules() -> dict[str, Schedule]:
    """All schedules contributed by plugins, by name."""
    from maskbench.core.plugins import collect, plugin_manager

    return collect(plugin_manager().hook.maskbench_schedules, key=lambda s: s.name, kind="schedule")


def get_schedule(name: str) -> Schedule:
    """The registered schedule ``name``; unknown names raise a one-line error listing the known ones."""
    from maskbench.core.plugins import lookup

    return lookup(registered_schedules(), name, "schedule")
