"""What the benchmarks share: the default model geometry, run on the default device.

The default is what ``maskbench run`` uses out of the box: the shipped model's architecture and
window (its card), at the default batch size for the device. Weights are random (seeded): speed does
not depend on them, and a benchmark must not depend on training having happened.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from maskbench.core.backbone import build_backbone
from maskbench.core.checkpoint import ModelCard
from maskbench.core.denoiser import BackboneDenoiser
from maskbench.core.distributed import local_device
from maskbench.bench.context import DEFAULT_MODEL, default_batch_size

DEFAULT_JSON = Path(__file__).parent / "results" / "benchmark.json"


def pytest_configure(config):
    # `pytest --benchmark-only` keeps its JSON beside the results (benchmarks/report.py reads it).
    option = config.option
    if getattr(option, "benchmark_only", False) and not getattr(option, "benchmark_json", None):
        DEFAULT_JSON.parent.mkdir(parents=True, exist_ok=True)
        option.benchmark_json = DEFAULT_JSON


@dataclass(frozen=True)
class Default:
    """The default configuration: backbone preset and window of the shipped model."""

    preset: str
    vocab_size: int
    frames: int
    context: int
    stride: int
    height: int
    width: int
    batch: int
    device: torch.device

    def backbone(self, preset: str | None = None, vocab_size: int | None = None):
        return _backbone(preset or self.preset, vocab_size or self.vocab_size, self.frames, self.height, self.width,
                         str(self.device))

    def denoiser(self, **kwargs) -> BackboneDenoiser:
        return BackboneDenoiser(self.backbone(**kwargs))

    def context_tokens(self, batch: int | None = None, frames: int | None = None) -> torch.Tensor:
        """Random clean context frames, long ``[B, m, h, w]`` on the device."""
        shape = (batch or self.batch, frames or self.context, self.height, self.width)
        return torch.randint(0, self.vocab_size, shape, generator=torch.Generator().manual_seed(0)).to(self.device)

    def first_window(self, batch: int | None = None) -> torch.Tensor:
        """``[B, k, h, w]``: clean context, then masked frames (the first window of a rollout)."""
        context = self.context_tokens(batch)
        masked = torch.full((context.shape[0], self.frames - self.context, self.height, self.width), self.vocab_size,
                            device=self.device)
        return torch.cat([context, masked], dim=1)


@functools.cache
def _backbone(preset: str, vocab_size: int, frames: int, height: int, width: int, device: str):
    torch.manual_seed(0)
    model = build_backbone(preset, vocab_size=vocab_size, max_frames=frames, height=height, width=width)
    return model.eval().to(device)


def machine_threads() -> int:
    """The thread count ``maskbench run`` gets: ``OMP_NUM_THREADS`` if set, else the usable cores.

    tests/conftest.py pins torch to 1 thread at import (pytest loads it even under
    ``--benchmark-only``), so the benchmarks set the count back explicitly.
    """
    return int(os.environ.get("OMP_NUM_THREADS") or len(os.sched_getaffinity(0)))


@pytest.fixture(scope="session")
def default() -> Default:
    torch.set_num_threads(machine_threads())
    card = ModelCard(**json.loads((DEFAULT_MODEL / "maskbench.json").read_text()))
    config = json.loads((DEFAULT_MODEL / "config.json").read_text())
    preset = _preset_of(config)
    device = local_device("auto")
    return Default(preset, config["vocab_size"], card.frames, card.context, card.stride, config["height"],
                   config["width"], default_batch_size(device), device)


def _preset_of(config: dict) -> str:
    from maskbench.core.backbone import PRESETS

    for name, sizes in PRESETS.items():
        if all(config.get(key) == value for key, value in sizes.items()):
            return name
    raise LookupError(f"the shipped model matches no preset: {config}")
