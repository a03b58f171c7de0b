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
from maskbench.core.data.shards import ShardVideos, is_shard_dir, read_meta
from maskbench.core.errors import MaskbenchError

__all__ = ["VideoSet", "open_videos", "random_windows", "fixed_windows", "fixed_window_picks", "window_picks", "read_windows", "default_data_dir"]


def default_data_dir() -> Path:
    """Where the embedded ViZDoom set lives: ``$MASKBENCH_DATA``, else ``~/.cache/maskbench/vizdoom``."""
    env = os.environ.get("MASKBENCH_DATA")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "maskbench" / "vizdoom"


def open_videos(path: str | os.PathLike, size: int | None = 64, split: str | None = None) -> VideoSet:
    """Open the videos at ``path``, whatever it holds.

    Args:
        path: a shard directory (has ``meta.json``), a folder of video files, or a folder of frame folders.
        size: frame side; frames are centre-cropped to a square and resized to it. ``None``: no
            resize, the centre square at the stored resolution (FVD: I3D's preprocessing is then the
            only resize).
        split: ``"train"``/``"test"`` (shards: the stored split; folders: that sub-folder), or ``None`` for all.

    Returns:
        a :class:`VideoSet` whose items are uint8 ``[F, size, size, 3]``.

    Raises:
        MaskbenchError: nothing readable at ``path``, or no such split.
    """
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
        raise MaskbenchError(f"size must be a positive integer or None, got {size!r}")
    root = Path(path).expanduser()
    if not root.exists():
        raise MaskbenchError(f"no dataset at {root}: render the default with `maskbench data vizdoom --out {root}` "
                             "or give a folder of videos")
    if not root.is_dir():
        raise MaskbenchError(f"{root} is a file; give the folder that holds the videos")
    if is_shard_dir(root):
        return ShardVideos(root, size=size or stored_size(root), split=split)
    return FolderVideos(root, size=size, split=split)


def window_picks(videos: VideoSet, length: int, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Where :func:`random_windows` cuts its windows, without reading any frame.

    A video is drawn uniformly, with replacement, among those with at least ``length`` frames, then
    a start uniformly within it; the draws depend on ``seed`` and the video lengths only.

    Returns:
        ``(videos [count], starts [count])`` int64.

    Raises:
        MaskbenchError: no video has ``length`` frames.
    """
    if length < 1 or count < 0:
        raise MaskbenchError(f"need length >= 1 and count >= 0, got length={length}, count={count}")
    lengths = _lengths(videos)
    eligible = np.flatnonzero(lengths >= length)
    if not len(eligible):
        raise MaskbenchError(f"no video in {videos.video_id()} has {length} frames (longest: "
                             f"{lengths.max(initial=0)}); use shorter windows")
    rng = np.random.default_rng(seed)
    picks = rng.choice(eligible, size=count)
    return picks, rng.integers(0, lengths[picks] - length + 1)


def stored_size(root: Path) -> int:
    """Frame side a shard directory stores its videos at."""
    return int(read_meta(root)["size"])


def random_windows(videos: VideoSet, length: int, count: int, seed: int) -> np.ndarray:
    """Random windows of consecutive frames from a data set (the real side of FVD, contexts, training clips).

    Videos are drawn with replacement (see :func:`window_picks`): this samples the data set's
    distribution of clips, as StyleGAN-V's real side does. To score a fixed set of videos, each
    once, use :func:`fixed_windows`.

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
    return read_windows(videos, *window_picks(videos, length, count, seed), length)


POSITIONS = ("center", "first", "random")


def fixed_windows(videos: VideoSet, length: int, position: str = "center", seed: int = 0,
                  count: int | None = None) -> np.ndarray:
    """One window per video, each video exactly once, in the set's order (a fixed set: generated videos).

    See :func:`fixed_window_picks` for the arguments.

    Returns:
        uint8 ``[count or len(videos), length, H, W, 3]``.
    """
    return read_windows(videos, *fixed_window_picks(videos, length, position, seed, count), length)


def fixed_window_picks(videos: VideoSet, length: int, position: str = "center", seed: int = 0,
                       count: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Where :func:`fixed_windows` cuts: every chosen video once, one window each, without reading frames.

    Args:
        videos: the set; every video used needs at least ``length`` frames.
        length: frames per window.
        position: ``center`` (frames ``[F // 2 - length // 2, ...)``, as the authors' ``fvd_external.py``;
            the whole video when it has exactly ``length`` frames), ``first``, or ``random`` (a start
            drawn uniformly per video from ``seed``).
        seed: seed of ``random`` starts and of the subset.
        count: use only this many videos, a subset drawn without replacement from ``seed`` (kept in
            the set's order); ``None``: every video.

    Returns:
        ``(videos [n], starts [n])`` int64, videos increasing.

    Raises:
        MaskbenchError: unknown position, ``count`` above the set's size, or a video shorter than ``length``.
    """
    if position not in POSITIONS:
        raise MaskbenchError(f"unknown window position {position!r}; choose one of {', '.join(POSITIONS)}")
    if length < 1:
        raise MaskbenchError(f"need length >= 1, got {length}")
    rng = np.random.default_rng(seed)
    chosen = np.arange(len(videos))
    if count is not None:
        if not 0 <= count <= len(videos):
            raise MaskbenchError(f"asked for {count} videos of a set of {len(videos)} ({videos.video_id()}); "
                                 "each video is used at most once")
        chosen = np.sort(rng.choice(len(videos), size=count, replace=False))
    lengths = _lengths(videos)[chosen]
    short = np.flatnonzero(lengths < length)
    if len(short):
        raise MaskbenchError(f"{len(short)} of {len(chosen)} videos in {videos.video_id()} have fewer than {length} "
                             f"frames (shortest {lengths.min()}); pass a smaller --frames")
    if position == "first":
        starts = np.zeros(len(chosen), np.int64)
    elif position == "center":
        starts = lengths // 2 - length // 2
    else:
        starts = rng.integers(0, lengths - length + 1)
    return chosen, starts


def _lengths(videos: VideoSet) -> np.ndarray:
    return np.array([videos.num_frames(i) for i in range(len(videos))], dtype=np.int64)


def read_windows(videos: VideoSet, picks: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    """Frames ``[starts[r], starts[r] + length)`` of video ``picks[r]`` for every row ``r``.

    Returns:
        uint8 ``[len(picks), length, H, W, 3]``.
    """
    count, out = len(picks), None
    # Grouped by video so a compressed video file is decoded once however many windows it gives.
    for v in np.unique(picks):
        rows = np.flatnonzero(picks == v)
        lo, hi = int(starts[rows].min()), int(starts[rows].max()) + length
        span = videos.clip(int(v), lo, hi)
        if len(span) < hi - lo:
            raise MaskbenchError(f"video {v} of {videos.video_id()} decoded to fewer frames than its index says")
        if out is None:
            out = np.empty((count, length, *span.shape[1:]), np.uint8)
        if span.shape[1:] != out.shape[2:]:
            raise MaskbenchError(f"video {v} of {videos.video_id()} has frames {span.shape[1:3]}, others "
                                 f"{out.shape[2:4]}; give videos of one frame size")
        for r in rows:
            out[r] = span[starts[r] - lo : starts[r] - lo + length]
    if out is None:  # count == 0: one frame tells the frame shape
        out = np.empty((0, length, *videos.clip(0, 0, 1).shape[1:]), np.uint8)
    return out
