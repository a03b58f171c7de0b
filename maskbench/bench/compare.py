"""FVD between two fixed video sets (``maskbench fvd``): each video once, one window per video."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from maskbench.core.config import count, device_name, existing_path, positive_int, setting
from maskbench.core.errors import MaskbenchError
from maskbench.metrics.protocols import DEFAULT_PROTOCOL, PROTOCOL_HELP, check_protocol

if TYPE_CHECKING:  # scipy: not at `maskbench --help`, which builds this config's flags
    from maskbench.metrics.fvd import FVDResult

CHUNK = 64  # videos read at once: bounds memory at native resolution


@dataclass(frozen=True)
class CompareConfig:
    """``maskbench fvd``: one window of ``frames`` frames per video, every video of each set once.

    Frames are read at their stored resolution (centre square) and resized only by I3D's
    preprocessing (bilinear to 224, no antialias, as StyleGAN-V).

    Attributes:
        frames: frames per window.
        position: where the window sits in each video: ``center`` (default; the whole video when it
            has exactly ``frames`` frames), ``first``, or ``random`` (from ``seed``).
        videos: use this many videos per side, a seeded subset without replacement (default: all).
        protocol: ``full`` scores the whole window, ``center16`` its 16 centre frames, ``last16`` its last 16.
    """

    real: str = setting(help="reference videos", cli=dict(type=existing_path))
    fake: str = setting(help="generated videos", cli=dict(type=existing_path))
    frames: int = setting(16, "frames per clip, one window per video", cli=dict(type=positive_int))
    # choices: core.data.POSITIONS, not imported here, so that `maskbench --help` stays fast
    position: str = setting("center", "where each video's window sits: center (default; the whole video when it has "
                            "exactly --frames frames), first, or random (from --seed)",
                            cli=dict(choices=("center", "first", "random")))
    videos: int | None = setting(None, "videos per side, a seeded subset without replacement (default: every video "
                                 "once)", cli=dict(type=positive_int))
    seed: int = setting(0, "seed of --position random and of --videos", cli=dict(type=count))
    device: str = setting("auto", "auto, cpu, cuda, cuda:1, ...", cli=dict(type=device_name))
    protocol: str = setting(DEFAULT_PROTOCOL, PROTOCOL_HELP)

    def __post_init__(self) -> None:
        from maskbench.core.data import POSITIONS
        from maskbench.metrics.i3d import MIN_FRAMES

        if self.frames < MIN_FRAMES:
            raise MaskbenchError(f"--frames {self.frames}: the Kinetics I3D needs at least {MIN_FRAMES} frames")
        if self.videos is not None and self.videos < 2:
            raise MaskbenchError("FVD needs at least 2 videos per side")
        if self.position not in POSITIONS:
            raise MaskbenchError(f"--position {self.position!r}: choose one of {', '.join(POSITIONS)}")
        check_protocol(self.protocol, self.frames)


def fvd_between(config: CompareConfig) -> FVDResult:
    """FVD of the two sets of ``config``, each video used exactly once."""
    from maskbench.core.data import fixed_window_picks, open_videos
    from maskbench.core.distributed import local_device
    from maskbench.metrics.fvd import fvd_result
    from maskbench.metrics.protocols import protocol_frames

    sets = [open_videos(path, size=None) for path in (config.real, config.fake)]  # both checked first
    picks = [fixed_window_picks(v, config.frames, config.position, config.seed, config.videos) for v in sets]
    device = local_device(config.device)
    real, fake = (_features(v, p, config, device) for v, p in zip(sets, picks))
    return fvd_result(real, fake, protocol_frames(config.protocol, config.frames), config.protocol)


def _features(videos, picks: tuple[np.ndarray, np.ndarray], config: CompareConfig, device) -> np.ndarray:
    from maskbench.metrics.features import i3d_features

    return i3d_features(_clips(videos, picks, config), device=device)


def _clips(videos, picks: tuple[np.ndarray, np.ndarray], config: CompareConfig) -> Iterator[np.ndarray]:
    """The protocol's clips of the chosen windows, ``CHUNK`` videos at a time, in order."""
    from maskbench.core.data import read_windows
    from maskbench.metrics.protocols import protocol_clips

    chosen, starts = picks
    for lo in range(0, len(chosen), CHUNK):
        windows = read_windows(videos, chosen[lo : lo + CHUNK], starts[lo : lo + CHUNK], config.frames)
        yield protocol_clips(windows, config.protocol)
