"""Built-in masking schedules kappa(t) with their derivatives (an internal plugin)."""

from __future__ import annotations

import math

import torch

from maskbench.core.hookspecs import hookimpl
from maskbench.schedules import Schedule

SIGMOID_START, SIGMOID_END, SIGMOID_TAU = -3.0, 3.0, 1.0  # the authors' code's constants (docs/fidelity.md)
SIGMOID_FLOOR = 1e-5


def linear(t: torch.Tensor) -> torch.Tensor:
    return t


def linear_derivative(t: torch.Tensor) -> torch.Tensor:
    return torch.ones_like(t)


def cosine(t: torch.Tensor) -> torch.Tensor:
    """MaskGIT's cosine: masked fraction ``cos(pi t / 2)``."""
    return 1 - torch.cos(math.pi / 2 * t)


def cosine_derivative(t: torch.Tensor) -> torch.Tensor:
    return math.pi / 2 * torch.sin(math.pi / 2 * t)


def arccos(t: torch.Tensor) -> torch.Tensor:
    """MaskGIT's arccos: masked fraction ``arccos(t) / (pi / 2)``."""
    return 1 - torch.arccos(t.clamp(0, 1)) / (math.pi / 2)


def arccos_derivative(t: torch.Tensor) -> torch.Tensor:
    # Infinite at t = 1; clamp so Euler steps stay finite (they are clipped to probability 1 anyway).
    return (2 / math.pi) / torch.sqrt((1 - t.clamp(0, 1) ** 2).clamp_min(1e-12))


def _sigmoid_ends() -> tuple[float, float]:
    v_start = 1 / (1 + math.exp(-SIGMOID_START / SIGMOID_TAU))
    v_end = 1 / (1 + math.exp(-SIGMOID_END / SIGMOID_TAU))
    return v_start, v_end


def sigmoid(t: torch.Tensor) -> torch.Tensor:
    """Reference sigmoid schedule (start -3, end 3, tau 1), floored at 1e-5 as the reference does."""
    v_start, v_end = _sigmoid_ends()
    s = torch.sigmoid((t * (SIGMOID_END - SIGMOID_START) + SIGMOID_START) / SIGMOID_TAU)
    return (1 - (v_end - s) / (v_end - v_start)).clamp(min=SIGMOID_FLOOR)


def sigmoid_derivative(t: torch.Tensor) -> torch.Tensor:
    v_start, v_end = _sigmoid_ends()
    s = torch.sigmoid((t * (SIGMOID_END - SIGMOID_START) + SIGMOID_START) / SIGMOID_TAU)
    return s * (1 - s) * (SIGMOID_END - SIGMOID_START) / SIGMOID_TAU / (v_end - v_start)


BUILTIN = [
    Schedule("linear", linear, linear_derivative),
    Schedule("cosine", cosine, cosine_derivative),
    Schedule("arccos", arccos, arccos_derivative),
    Schedule("sigmoid", sigmoid, sigmoid_derivative),
]


@hookimpl
def maskbench_schedules() -> list[Schedule]:
    return list(BUILTIN)
