"""Exponential moving average of the weights (the exported model)."""

from __future__ import annotations

import copy

import torch


class EMA:
    """Keeps ``decay``-averaged copies of a module's parameters."""

    def __init__(self, model: torch.nn.Module, decay: float):
        self.decay = decay
        self.model = copy.deepcopy(model).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        for ema, live in zip(self.model.parameters(), model.parameters()):
            ema.lerp_(live.detach().to(ema.dtype), 1 - self.decay)

    def state_dict(self) -> dict:
        return {k: v.cpu() for k, v in self.model.state_dict().items()}

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state)
