"""A small deterministic token set for smoke tests and CI (not a data set: moving diagonal stripes)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from maskbench.core.token_cache import FORMAT, META, TOKENS


def write_synthetic_cache(path: str | Path, videos: int = 8, frames: int = 48, grid: int = 8, vocab_size: int = 32) -> None:
    """Stripes ``(i + j + f * speed_v) mod K`` moving at a per-video speed: learnable, deterministic."""
    root = Path(path)
    root.mkdir(parents=True, exist_ok=True)
    v, f, i, j = np.meshgrid(np.arange(videos), np.arange(frames), np.arange(grid), np.arange(grid), indexing="ij")
    tokens = ((i + j + f * (1 + v % 3) + 5 * v) % vocab_size).astype(np.uint16)
    np.save(root / TOKENS, tokens)
    meta = {"format": FORMAT, "tokenizer": "synthetic-stripes", "tokenizer_name": "synthetic", "vocab_size": vocab_size,
            "dtype": "uint16", "frame_size": [grid * 8, grid * 8], "token_grid": [grid, grid], "videos": videos,
            "frames": frames, "source": "synthetic", "source_hash": "synthetic"}
    (root / META).write_text(json.dumps(meta, indent=2))
