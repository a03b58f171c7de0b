"""Frame geometry shared by every data source: centre-crop to a square, then resize."""

from __future__ import annotations

import numpy as np
from PIL import Image


def square_crop(frame: np.ndarray) -> np.ndarray:
    """Centre square of a frame (a view, no copy).

    Args:
        frame: uint8 ``[H, W, 3]``.

    Returns:
        uint8 ``[S, S, 3]`` with ``S = min(H, W)``; odd margins lose the extra pixel on the far side.
    """
    h, w = frame.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    return frame[top : top + side, left : left + side]


def fit_square(frame: np.ndarray, size: int) -> np.ndarray:
    """Short side resized to ``size`` and centre-cropped, i.e. crop the centre square then resize it.

    Downsampling averages areas (PIL ``BOX``: alias-free, exact for integer factors, deterministic);
    upsampling, which only user data can need, is bicubic.

    Args:
        frame: uint8 ``[H, W, 3]``.
        size: output side.

    Returns:
        uint8 ``[size, size, 3]``.
    """
    square = square_crop(frame)
    if square.shape[0] == size:
        return np.ascontiguousarray(square)
    resample = Image.BOX if square.shape[0] > size else Image.BICUBIC
    return np.asarray(Image.fromarray(np.ascontiguousarray(square)).resize((size, size), resample))


def fit_video(frames: np.ndarray, size: int) -> np.ndarray:
    """:func:`fit_square` over time.

    Args:
        frames: uint8 ``[F, H, W, 3]``.
        size: output side.

    Returns:
        uint8 ``[F, size, size, 3]``.
    """
    if frames.shape[1] == frames.shape[2] == size:
        return frames
    return np.stack([fit_square(f, size) for f in frames]) if len(frames) else np.zeros((0, size, size, 3), np.uint8)
