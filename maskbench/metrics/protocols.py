"""Named FVD protocols: which frames of each video I3D scores.

``full`` (default): the whole clip, i.e. the whole rollout of ``L`` frames in ``maskbench run``, as the
paper states (the StyleGAN-V protocol over a window of ``L`` frames).

``center16``: the 16 frames at the centre of each clip, frames ``[F // 2 - 8, F // 2 + 8)``, as the
authors' ``fvd_external.py`` scores ``fvd16`` (it loads the centred clip, then takes its first 16 frames).
Only the choice of frames is theirs: the network and preprocessing stay StyleGAN-V's (docs/fidelity.md).

``last16``: the last 16 frames of each clip, ``[F - 16, F)``. Neither the paper's nor the authors': a
diagnostic (ours) for rollouts that start from different numbers of ground-truth context frames (Table 2's
autoregressive ``m = k - 1`` against full-sequence ``m = 2``), whose whole-rollout FVD counts those real
frames; the last 16 frames of a rollout of at least ``m + 16`` frames are all generated.
"""

from __future__ import annotations

import numpy as np

from maskbench.core.errors import MaskbenchError

#: what each protocol scores, in the words of result tables
SCORES = {"full": "the whole rollout", "center16": "its 16 centre frames", "last16": "its last 16 frames"}
PROTOCOLS = tuple(SCORES)
PROTOCOL_HELP = f"frames I3D scores: {', '.join(PROTOCOLS[:-1])} or {PROTOCOLS[-1]}"
DEFAULT_PROTOCOL = "full"
CENTER_FRAMES = 16


def check_protocol(protocol: str, length: int | None = None) -> str:
    """``protocol`` if it is known and (when ``length`` is given) can cut clips of ``length`` frames.

    Raises:
        MaskbenchError: unknown name, or ``center16`` / ``last16`` on clips shorter than 16 frames.
    """
    if protocol not in PROTOCOLS:
        raise MaskbenchError(f"unknown FVD protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")
    if protocol != "full" and length is not None and length < CENTER_FRAMES:
        raise MaskbenchError(f"--fvd-protocol {protocol} needs clips of at least {CENTER_FRAMES} frames, got {length}; "
                             "use longer rollouts or --fvd-protocol full")
    return protocol


def protocol_frames(protocol: str, length: int) -> int:
    """Frames per clip that I3D sees under ``protocol`` for videos of ``length`` frames."""
    check_protocol(protocol, length)
    return length if protocol == "full" else CENTER_FRAMES


def center_start(length: int, frames: int) -> int:
    """First frame of the ``frames`` centred in ``length`` (the authors' ``len // 2 - frames // 2``)."""
    return length // 2 - frames // 2


def protocol_clips(videos: np.ndarray, protocol: str) -> np.ndarray:
    """The frames of each video that ``protocol`` scores.

    Args:
        videos: uint8 ``[N, F, H, W, 3]``.
        protocol: a name from :data:`PROTOCOLS`.

    Returns:
        uint8 ``[N, F', H, W, 3]``: a view, ``F' = F`` (``full``) or 16 (``center16``, ``last16``).
    """
    frames = protocol_frames(protocol, videos.shape[1])
    start = videos.shape[1] - frames if protocol == "last16" else center_start(videos.shape[1], frames)
    return videos[:, start : start + frames]
