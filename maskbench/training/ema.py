"""Exponential moving average of the weights (the exported model), with warm-up."""

from __future__ import annotations

import copy

import torch


class EMA:
    """Keeps ``decay``-averaged copies of a module's parameters.

    The decay warms up as ``min(decay, (1 + n) / (10 + n))`` after ``n`` updates (TensorFlow's
    ``num_updates`` rule): without it a short run exports mostly its random initialisation
    (``0.999 ** 1000`` is still 37%).
    """

    def __init__(self, model: torch.nn.Module, decay: float):
        self.decay = decay
        self.updates = 0
        self.model = copy.deepcopy(model).eval().requires_grad_(False)

    def current_decay(self) -> float:
        return min(self.decay, (1 + self.updates) / (10 + self.updates))

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        weight = 1 - self.current_decay()
        for ema, live in zip(self.model.parameters(), model.parameters()):
            ema.lerp_(live.detach().to(ema.dtype), weight)
        self.updates += 1

    def state_dict(self) -> dict:
        state = {k: v.cpu() for k, v in self.model.state_dict().items()}
        return {"weights": state, "updates": self.updates}

    def load_state_dict(self, state: dict) -> None:
        if "weights" not in state:  # a checkpoint from before the warm-up: weights only
            self.model.load_state_dict(state)
            return
        self.model.load_state_dict(state["weights"])
        self.updates = int(state["updates"])
