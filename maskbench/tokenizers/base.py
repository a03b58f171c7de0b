"""The tokenizer interface (pixel videos <-> token ids) and the registry of tokenizers contributed by plugins.

The shipped implementations are in :mod:`maskbench.tokenizers.vq`; a plugin adds one by returning a
:class:`TokenizerSpec` from ``maskbench_tokenizers`` (README, "Writing a plugin").
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol

import torch


class Tokenizer(Protocol):
    """What samplers, caches and the harness need from a tokenizer.

    Attributes:
        name: registry name.
        vocab_size: number of codes ``K``; ids are ``0..K-1`` (the mask id ``K`` is the backbone's).
        downsample: spatial factor ``f``: ``[H, W]`` frames become ``[H/f, W/f]`` token grids.
    """

    name: str
    vocab_size: int
    downsample: int

    def identity(self) -> str:
        """Stable id for caches and model cards: name plus a hash of config and weights."""

    def encode(self, video: torch.Tensor) -> torch.Tensor:
        """uint8 ``[B, F, H, W, 3]`` -> long ``[B, F, H/f, W/f]``."""

    def decode(self, tokens: torch.Tensor) -> torch.Tensor:
        """long ``[B, F, h, w]`` -> uint8 ``[B, F, h*f, w*f, 3]``."""


@dataclass(frozen=True)
class TokenizerSpec:
    """A registered tokenizer.

    Attributes:
        name: registry name (``--tokenizer``).
        load: ``load(path_or_None, device=...)`` -> :class:`Tokenizer`; ``None`` means default weights.
        help: one line for ``--help`` listings.
    """

    name: str
    load: Callable[..., Tokenizer]
    help: str


def tokenizer_registry() -> dict[str, TokenizerSpec]:
    """``{name: TokenizerSpec}`` over every plugin."""
    from maskbench.core.plugins import collect, plugin_manager

    return collect(plugin_manager().hook.maskbench_tokenizers, key=lambda spec: spec.name, kind="tokenizer")


def get_tokenizer(name: str, path: str | Path | None = None, device: str | torch.device | None = None) -> Tokenizer:
    """Load a registered tokenizer.

    Args:
        name: registry name (``vizdoom-vq``, ``vqgan``, or a plugin's).
        path: weights folder; ``None`` for the tokenizer's default weights.
        device: where it runs (default CPU).

    Raises:
        MaskbenchError: unknown name (the message lists the registered ones) or unloadable weights.
    """
    from maskbench.core.plugins import lookup

    spec = lookup(tokenizer_registry(), name, "tokenizer")
    return spec.load(path, device=device)
