"""User datasets: a folder of video files, or of frame folders (one sub-folder of images per video).

Both layouts public code uses are found anywhere below the root: video files (UCF-101's
``class/clip.avi``, any ``*.mp4``) and frame folders (StyleGAN-V's FaceForensics ``video/0001.png``,
frame-dumped DMLab). Frames are centre-cropped to a square and resized to ``size`` (``None``: the
centre square at the stored resolution, no resize: what FVD reads, so that I3D's preprocessing is the
one resize).

Files that cannot be read are skipped with one warning that counts them. The index is built once,
from container packets (no decoding, except each video's first frame, which proves the codec works),
so opening a large folder is quick and a broken file is found before any consumer starts.
"""

from __future__ import annotations

import hashlib
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from maskbench.core.data.base import VideoSet
from maskbench.core.data.frames import fit_square, square_crop
from maskbench.core.errors import MaskbenchError

VIDEO_EXTENSIONS = frozenset({".mp4", ".avi", ".gif", ".webm", ".mkv", ".mov", ".m4v"})
IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".webp"})


@dataclass(frozen=True)
class _Entry:
    path: Path  # a video file, or a frame folder
    frames: int
    images: tuple[Path, ...] = ()  # the frame files of a frame folder, in time order


def _natural_key(path: Path) -> list:
    """``frame_2`` before ``frame_10``: frame numbers are rarely zero-padded consistently."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", path.name)]


def _visible(path: Path, root: Path) -> bool:
    return not any(part.startswith(".") for part in path.relative_to(root).parts)


def _probe_video(path: Path) -> int:
    """Frame count of a video file from its packets; decodes frames until the first one comes out."""
    import av  # PyAV: in-process FFmpeg whose errors are exceptions, not a dead pipe

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        count, decoded = 0, False
        for packet in container.demux(stream):
            if packet.size == 0:  # the flush packet at the end
                continue
            count += 1
            if not decoded:
                decoded = bool(packet.decode())
        if not decoded:
            raise ValueError("no frame decodes")
    return count


def _probe_images(images: list[Path]) -> int:
    with Image.open(images[0]) as im:
        im.convert("RGB")  # proves the first frame decodes; the rest are trusted (see _load_frames)
    return len(images)


def scan(root: Path) -> tuple[list[_Entry], list[tuple[Path, str]]]:
    """Index every video below ``root``.

    Returns:
        (readable entries sorted by path, [(unreadable path, reason)]).
    """
    entries, failed = [], []
    images_by_dir: dict[Path, list[Path]] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file() and _visible(p, root)):
        ext = path.suffix.lower()
        if ext in VIDEO_EXTENSIONS:
            try:
                entries.append(_Entry(path, _probe_video(path)))
            except Exception as e:  # noqa: BLE001 -- FFmpeg raises many types; any of them means skip
                failed.append((path, f"{type(e).__name__}: {e}"))
        elif ext in IMAGE_EXTENSIONS:
            images_by_dir.setdefault(path.parent, []).append(path)
    for folder, images in images_by_dir.items():
        images = sorted(images, key=_natural_key)
        try:
            entries.append(_Entry(folder, _probe_images(images), tuple(images)))
        except Exception as e:  # noqa: BLE001 -- PIL raises OSError, ValueError, SyntaxError...
            failed.append((folder, f"{type(e).__name__}: {e}"))
    return sorted(entries, key=lambda e: str(e.path)), failed


def _warn_skipped(root: Path, failed: list[tuple[Path, str]], found: int) -> None:
    if failed:
        shown = "; ".join(f"{p.relative_to(root)} ({why})" for p, why in failed[:3])
        more = f"; and {len(failed) - 3} more" if len(failed) > 3 else ""
        warnings.warn(f"skipped {len(failed)} unreadable of {len(failed) + found} videos under {root}: "
                      f"{shown}{more}", stacklevel=3)


class FolderVideos(VideoSet):
    """Videos found below a folder (see the module docstring for the layouts).

    Args:
        path: the folder; with ``split``, its sub-folder of that name is used.
        size: frame side after centre crop and resize; ``None``: centre crop only (native resolution).
        split: ``None`` for every video below ``path``, or the name of a sub-folder (``"train"``...).

    Raises:
        MaskbenchError: the folder (or split sub-folder) is missing or holds no readable video.
    """

    def __init__(self, path: str | os.PathLike, size: int | None = 64, split: str | None = None):
        root = Path(path).resolve()
        if split is not None:
            if not (root / split).is_dir():
                raise MaskbenchError(f"{root} has no '{split}' sub-folder; pass split=None to use every video in it")
            root = root / split
        self.root, self.size, self.split = root, size, split
        self._entries, failed = scan(root)
        if not self._entries:
            what = f"{len(failed)} unreadable files, e.g. {failed[0][0]} ({failed[0][1]})" if failed else "nothing"
            raise MaskbenchError(f"no readable video under {root} ({what}); expected video files "
                                 f"({', '.join(sorted(VIDEO_EXTENSIONS))}) or folders of image frames")
        _warn_skipped(root, failed, len(self._entries))
        self.skipped = len(failed)

    def __len__(self) -> int:
        return len(self._entries)

    def num_frames(self, i: int) -> int:
        return self._entries[self._index(i)].frames

    def clip(self, i: int, start: int = 0, stop: int | None = None) -> np.ndarray:
        entry = self._entries[self._index(i)]
        stop = entry.frames if stop is None else stop
        load = _load_frames if entry.images else _load_video
        frames = load(entry, start, stop, self.size)
        side = self.size or 0  # native size: unknown without a frame
        return np.stack(frames) if frames else np.zeros((0, side, side, 3), np.uint8)

    def video_id(self) -> str:
        return f"folder:{self.root}|{self.content_id().removeprefix('folder|')}"

    def content_id(self) -> str:
        # The index (relative path, bytes, frames) identifies the content without reading it all.
        h = hashlib.sha256()
        for e in self._entries:
            nbytes = sum(p.stat().st_size for p in e.images) if e.images else e.path.stat().st_size
            h.update(f"{e.path.relative_to(self.root)}\0{nbytes}\0{e.frames}\n".encode())
        return f"folder|split={self.split or 'all'}|size={self.size or 'native'}|{h.hexdigest()[:16]}"


def _fit(frame: np.ndarray, size: int | None) -> np.ndarray:
    """``fit_square`` to ``size``, or (``None``) only the centre square, untouched."""
    return np.ascontiguousarray(square_crop(frame)) if size is None else fit_square(frame, size)


def _load_video(entry: _Entry, start: int, stop: int, size: int) -> list[np.ndarray]:
    """Decode frames ``[start, stop)``; a decode error keeps the frames before it, with a warning."""
    import av

    out = []
    try:
        with av.open(str(entry.path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"  # frame threading: several times faster on long videos
            for t, frame in enumerate(container.decode(stream)):
                if t >= stop:
                    break
                if t >= start:
                    out.append(_fit(frame.to_ndarray(format="rgb24"), size))
    except Exception as e:  # noqa: BLE001 -- a damaged tail must not stop an evaluation halfway
        warnings.warn(f"{entry.path}: decoding stopped after {start + len(out)} frames ({type(e).__name__}: {e})",
                      stacklevel=3)
    return out


def _load_frames(entry: _Entry, start: int, stop: int, size: int) -> list[np.ndarray]:
    """Read frame files ``[start, stop)``; an unreadable one repeats the frame before it, with a warning."""
    out, bad = [], []
    for path in entry.images[start:stop]:
        try:
            with Image.open(path) as im:
                out.append(_fit(np.asarray(im.convert("RGB")), size))
        except Exception as e:  # noqa: BLE001 -- keep time aligned rather than crash or drop frames
            bad.append(f"{path.name} ({type(e).__name__})")
            if out:
                out.append(out[-1])
    if bad:
        warnings.warn(f"{entry.path}: {len(bad)} unreadable frames repeated the previous one: {', '.join(bad[:3])}",
                      stacklevel=3)
    return out
