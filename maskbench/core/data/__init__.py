"""Video data: one entry point, :func:`open_videos`, for every consumer (FVD, tokenizer, token cache, harness).

Sources: a shard directory rendered by :func:`maskbench.core.data.vizdoom.render_dataset` (the embedded
default, see :func:`default_data_dir`), a folder of video files, or a folder of frame folders.
Importing this package does not import the ViZDoom engine.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from maskbench.core.data.base import VideoSet
from maskbench.core.data.folder import FolderVideos
from maskbench.core.data.shards import ShardVideos, is_shard_dir
from maskbench.core.errors import MaskbenchError

__all__ = ["VideoSet", "open_videos", "random_windows", "default_data_dir"]


def default_data_dir() -> Path:
    """Where the embedded ViZDoom set lives: ``$MASKBENCH_DATA``, else ``~/.cache/maskbench/vizdoom``."""
    env = os.environ.get("MASKBENCH_DATA")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "maskbench" / "vizdoom"


def open_videos(path: str | os.PathLike, size: int = 64, split: str | None = None) -> VideoSet:
    """Open the videos at ``path``, whatever it holds.

    Args:
        path: a shard directory (has ``meta.json``), a folder of video files, or a folder of frame folders.
        size: frame side; frames are centre-cropped to a square and resized to it.
        split: ``"train"``/``"test"`` (shards: the stored split; folders: that sub-folder), or ``None`` for all.

    Returns:
        a :class:`VideoSet` whose items are uint8 ``[F, size, size, 3]``.

    Raises:
        MaskbenchError: nothing readable at ``path``, or no such split.
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise MaskbenchError(f"size must be a positive integer, got {size!r}")
    root = Path(path).expanduser()
    if not root.exists():
        raise MaskbenchError(f"no dataset at {root}: render the default with `maskbench data vizdoom --out {root}` "
                             "or give a folder of videos")
    if not root.is_dir():
        raise MaskbenchError(f"{root} is a file; give the folder that holds the videos")
    if is_shard_dir(root):
        return ShardVideos(root, size=size, split=split)
    return FolderVideos(root, size=size, split=split)


def random_windows(videos: VideoSet, length: int, count: int, seed: int) -> np.ndarray:
    """Random windows of consecutive frames (the real set for FVD, training clips).

    A video is drawn uniformly among those with at least ``length`` frames, then a start uniformly
    within it; the draws depend on ``seed`` and the video lengths only.

    Args:
        videos: the set to draw from.
        length: frames per window.
        count: number of windows.
        seed: seed of the draws.

    Returns:
        uint8 ``[count, length, H, W, 3]``.

    Raises:
        MaskbenchError: no video has ``length`` frames.
    """
    if length < 1 or count < 0:
        raise MaskbenchError(f"need length >= 1 and count >= 0, got length={length}, count={count}")
    lengths = np.array([videos.num_frames(i) for i in range(len(videos))], dtype=np.int64)
    eligible = np.flatnonzero(lengths >= length)
    if not len(eligible):
        raise MaskbenchError(f"no video in {videos.video_id()} has {length} frames (longest: "
                             f"{lengths.max(initial=0)}); use shorter windows")
    rng = np.random.default_rng(seed)
    picks = rng.choice(eligible, size=count)
    starts = rng.integers(0, lengths[picks] - length + 1)
    out = None
    # Grouped by video so a compressed video file is decoded once however many windows it gives.
    for v in np.unique(picks):
        rows = np.flatnonzero(picks == v)
        lo, hi = int(starts[rows].min()), int(starts[rows].max()) + length
        span = videos.clip(int(v), lo, hi)
        if len(span) < hi - lo:
            raise MaskbenchError(f"video {v} of {videos.video_id()} decoded to fewer frames than its index says")
        if out is None:
            out = np.empty((count, length, *span.shape[1:]), np.uint8)
        for r in rows:
            out[r] = span[starts[r] - lo : starts[r] - lo + length]
    if out is None:  # count == 0: one frame tells the frame shape
        out = np.empty((0, length, *videos.clip(int(eligible[0]), 0, 1).shape[1:]), np.uint8)
    return out
