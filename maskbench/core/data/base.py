"""The one interface every data consumer sees: a sequence of uint8 videos."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence

import numpy as np


class VideoSet(Sequence):
    """A fixed, ordered set of videos, each uint8 ``[F, H, W, 3]`` (``F`` may vary between videos).

    Subclasses implement ``__len__``, :meth:`num_frames`, :meth:`clip` and :meth:`video_id`;
    ``__getitem__`` and iteration come from here.
    """

    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def num_frames(self, i: int) -> int:
        """Frames in video ``i`` (from the index: no decoding)."""

    @abstractmethod
    def clip(self, i: int, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Frames ``[start, stop)`` of video ``i``: uint8 ``[stop - start, H, W, 3]``, a fresh array.

        Sources that can read part of a video (memory-mapped shards) read only that part.
        """

    @abstractmethod
    def video_id(self) -> str:
        """Stable identity of the set for cache keys: path, split, size and a hash of the index."""

    def content_id(self) -> str:
        """Identity of what the set holds, wherever it lies (result keys: a cell measured from another checkout
        or machine on the same videos is the same cell): :meth:`video_id` without the location."""
        return self.video_id()

    def __getitem__(self, i: int) -> np.ndarray:
        """Video ``i``: uint8 ``[F, H, W, 3]``, a fresh (writable) array."""
        return self.clip(self._index(i))

    def _index(self, i: int) -> int:
        if isinstance(i, (bool, np.bool_)) or not isinstance(i, (int, np.integer)):
            raise TypeError(f"video index must be an integer, got {type(i).__name__}")
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"video {i} out of range for {n} videos")
        return int(i) % n

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)} videos, id={self.video_id()!r})"
