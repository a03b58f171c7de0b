"""Sample videos side by side: ground truth and every sampler, as a GIF or MP4 grid."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from einops import rearrange


def video_grid(columns: list[np.ndarray], gap: int = 2) -> np.ndarray:
    """Tile videos: ``columns[c]`` is uint8 ``[R, T, H, W, 3]``; returns ``[T, R*(H+gap), C*(W+gap), 3]``.

    Shorter columns hold their last frame; gaps are white.
    """
    length = max(c.shape[1] for c in columns)
    padded = [np.pad(_hold(c, length), ((0, 0), (0, 0), (0, gap), (0, gap), (0, 0)), constant_values=255) for c in columns]
    stacked = np.stack(padded)  # [C, R, T, H', W', 3]
    return rearrange(stacked, "c r t h w x -> t (r h) (c w) x")


def _hold(video: np.ndarray, length: int) -> np.ndarray:
    if video.shape[1] == length:
        return video
    tail = np.repeat(video[:, -1:], length - video.shape[1], axis=1)
    return np.concatenate([video, tail], axis=1)


def write_video(frames: np.ndarray, path: str | Path, fps: int = 8, scale: int = 2) -> None:
    """uint8 ``[T, H, W, 3]`` -> GIF (looping) or MP4 by the file suffix, upscaled by ``scale``."""
    import imageio.v3 as iio

    frames = frames.repeat(scale, axis=1).repeat(scale, axis=2)
    path = Path(path)
    if path.suffix == ".gif":
        iio.imwrite(path, frames, duration=1000 / fps, loop=0)
    else:
        iio.imwrite(path, frames, fps=fps, codec="libx264", macro_block_size=1)
