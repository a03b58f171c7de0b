"""FVD between any two video sets the data loader accepts (``maskbench fvd``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from maskbench.core.errors import MaskbenchError


@dataclass(frozen=True)
class CompareConfig:
    """``maskbench fvd``: one random window of ``frames`` frames per video on each side.

    Attributes:
        size: frames are fitted to ``size`` x ``size`` when loaded; 224 is what I3D sees anyway, so
            the default changes nothing for videos at or above it.
        videos: windows per side (default: one per video of each set).
    """

    real: str
    fake: str
    frames: int = 16
    size: int = 224
    videos: int | None = None
    seed: int = 0
    device: str = "auto"

    def __post_init__(self) -> None:
        if self.frames < 9:
            raise MaskbenchError(f"--frames {self.frames}: the Kinetics I3D needs at least 9 frames")
        if self.videos is not None and self.videos < 2:
            raise MaskbenchError("FVD needs at least 2 videos per side")


def fvd_between(config: CompareConfig) -> dict:
    """``{"fvd", "n_real", "n_fake", "frames"}`` for the two sets of ``config``."""
    from maskbench.core.distributed import local_device
    from maskbench.eval.fvd import fvd_from_features

    from maskbench.core.data import open_videos

    device = local_device(config.device)
    sets = [open_videos(path, size=config.size) for path in (config.real, config.fake)]  # both checked first
    real, fake = (_features(videos, config, device) for videos in sets)
    return {"fvd": fvd_from_features(real, fake), "n_real": len(real), "n_fake": len(fake), "frames": config.frames}


def _features(videos, config: CompareConfig, device) -> np.ndarray:
    from maskbench.core.data import random_windows
    from maskbench.eval.features import i3d_features

    count = config.videos or len(videos)
    return i3d_features(random_windows(videos, config.frames, count, seed=config.seed), device=device)
