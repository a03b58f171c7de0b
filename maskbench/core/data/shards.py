"""Shard directories: uint8 video arrays in ``.npy`` files plus a ``meta.json`` that describes them.

Layout::

    meta.json          format, parameters, split sizes, shard list with sha256, source (renderer, licence)
    train-00000.npy    uint8 [videos_in_shard, F, H, W, 3]
    ...
    test-00000.npy

Plain ``.npy`` rather than a compressed archive: zlib shrinks these frames only ~2x, would cost a
core ~50 s for the 2.3 GB default set and ~25 ms per video to read, and rules out memory mapping,
which lets a window be read without touching the rest of its shard. ``np.save`` writes no
timestamps, so a re-run writes identical bytes.

Writing is resumable: ``meta.json`` with ``"complete": false`` is written first (so a resumed run can
check it is resuming the same dataset), each shard appears atomically (temp file + rename), and
``meta.json`` is rewritten with ``"complete": true`` and the shard hashes last.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from maskbench.core.data.base import VideoSet
from maskbench.core.data.frames import fit_video
from maskbench.core.errors import MaskbenchError

FORMAT = "maskbench-shards/1"
META = "meta.json"
SPLITS = ("train", "test")


@dataclass(frozen=True)
class ShardSpec:
    """One shard file.

    Attributes:
        name: file name inside the dataset directory, e.g. ``train-00000.npy``.
        split: ``"train"`` or ``"test"``.
        videos: dataset-wide indices of its videos, in order.
    """

    name: str
    split: str
    videos: tuple[int, ...]


@dataclass(frozen=True)
class DatasetPlan:
    """Which video goes into which shard. Videos ``[0, train)`` are train, the rest test."""

    videos: int
    frames: int
    size: int
    test_fraction: float
    shard_videos: int
    train: int
    shards: tuple[ShardSpec, ...]


def plan_dataset(videos: int, frames: int, size: int, test_fraction: float, shard_videos: int) -> DatasetPlan:
    """Split ``videos`` into train/test and cut each split into shards of ``shard_videos``."""
    for name, value, least in (("videos", videos, 1), ("frames", frames, 1), ("size", size, 8),
                               ("shard_videos", shard_videos, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise MaskbenchError(f"{name} must be an integer >= {least}, got {value!r}")
    if not 0.0 <= test_fraction < 1.0:
        raise MaskbenchError(f"test_fraction must be in [0, 1), got {test_fraction!r}")
    # Round half up (not Python's half-to-even) and always leave one training video.
    test = min(int(np.floor(videos * test_fraction + 0.5)), videos - 1)
    train = videos - test
    specs = []
    for split, lo, hi in (("train", 0, train), ("test", train, videos)):
        for k, first in enumerate(range(lo, hi, shard_videos)):
            specs.append(ShardSpec(f"{split}-{k:05d}.npy", split, tuple(range(first, min(first + shard_videos, hi)))))
    return DatasetPlan(videos, frames, size, test_fraction, shard_videos, train, tuple(specs))


def dataset_meta(plan: DatasetPlan, seed: int, source: dict) -> dict:
    """``meta.json`` content before the shards exist (``complete`` false, no hashes)."""
    return {
        "format": FORMAT,
        "complete": False,
        "seed": seed,
        "videos": plan.videos,
        "frames": plan.frames,
        "size": plan.size,
        "test_fraction": plan.test_fraction,
        "shard_videos": plan.shard_videos,
        "splits": {"train": plan.train, "test": plan.videos - plan.train},
        "shards": [{"name": s.name, "split": s.split, "first_video": s.videos[0], "videos": len(s.videos)}
                   for s in plan.shards],
        "source": source,
    }


def _comparable(meta: dict) -> dict:
    """``meta`` without what changes while writing (completion flag, hashes)."""
    out = {k: v for k, v in meta.items() if k != "complete"}
    out["shards"] = [{k: v for k, v in s.items() if k != "sha256"} for s in meta.get("shards", [])]
    return out


def _differences(old: dict, new: dict) -> str:
    a, b = _comparable(old), _comparable(new)
    keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    return ", ".join(f"{k}: {a.get(k)!r} there, {b.get(k)!r} asked" for k in keys if k != "shards") or "shard layout"


def _specs(meta: dict) -> list[ShardSpec]:
    return [ShardSpec(s["name"], s["split"], tuple(range(s["first_video"], s["first_video"] + s["videos"])))
            for s in meta["shards"]]


def missing_shards(out: Path, meta: dict) -> list[ShardSpec]:
    """Shards of ``meta`` that ``out`` lacks (absent, or not of the planned shape)."""
    return [s for s in _specs(meta) if not _shard_ok(out / s.name, len(s.videos), meta)]


def is_complete(out: Path, meta: dict) -> bool:
    """Whether ``out`` already holds exactly the dataset ``meta`` describes, finished."""
    if not (out / META).is_file():
        return False
    old = read_meta(out)
    return bool(old.get("complete")) and _comparable(old) == _comparable(meta) and not missing_shards(out, meta)


def prepare_dir(out: Path, meta: dict) -> list[ShardSpec]:
    """Make ``out`` ready to receive (the rest of) the dataset ``meta`` describes.

    Returns:
        the shards still to write (shards left by an interrupted run of the same dataset are kept).

    Raises:
        MaskbenchError: ``out`` holds a different dataset, or is a file.
    """
    if out.exists() and not out.is_dir():
        raise MaskbenchError(f"{out} is a file; choose a directory for the dataset")
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("*.tmp-*"):  # left by an interrupted write; never a finished shard
        stale.unlink()
    if (out / META).exists():
        old = read_meta(out)
        if _comparable(old) != _comparable(meta):
            raise MaskbenchError(f"{out} holds a different dataset ({_differences(old, meta)}); "
                                 "choose another output directory or delete it")
    write_json(out / META, meta)  # marks the directory incomplete until finish_dir
    return missing_shards(out, meta)


def _shard_ok(path: Path, videos: int, meta: dict) -> bool:
    if not path.exists():
        return False
    try:
        return read_shard(path).shape == (videos, meta["frames"], meta["size"], meta["size"], 3)
    except (ValueError, OSError):  # a shard from elsewhere, or damaged: render it again
        return False


def finish_dir(out: Path, meta: dict) -> dict:
    """Hash every shard and mark ``out`` complete. Returns the final meta."""
    final = dict(meta, complete=True, shards=[dict(s, sha256=file_sha256(out / s["name"])) for s in meta["shards"]])
    write_json(out / META, final)
    return final


def write_shard(path: Path, videos: np.ndarray) -> None:
    """Write one shard atomically (temp file + rename), so a shard file is always whole.

    Args:
        path: destination ``.npy`` file.
        videos: uint8 ``[N, F, H, W, 3]``.
    """
    if videos.dtype != np.uint8 or videos.ndim != 5 or videos.shape[-1] != 3:
        raise ValueError(f"a shard holds uint8 [N, F, H, W, 3], got {videos.dtype} {videos.shape}")
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as f:
        np.save(f, np.ascontiguousarray(videos), allow_pickle=False)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_shard(path: Path) -> np.ndarray:
    """Memory-mapped, read-only view of a shard: uint8 ``[N, F, H, W, 3]``."""
    return np.load(path, mmap_mode="r", allow_pickle=False)


def write_json(path: Path, obj: dict) -> None:
    """Atomic, byte-stable JSON (sorted keys, fixed indent, trailing newline)."""
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def read_meta(path: Path) -> dict:
    """``meta.json`` of a shard directory."""
    try:
        meta = json.loads((path / META).read_text())
    except (OSError, ValueError) as e:
        raise MaskbenchError(f"cannot read {path / META}: {e}") from e
    if meta.get("format") != FORMAT:
        raise MaskbenchError(f"{path / META} is not a {FORMAT} dataset (format {meta.get('format')!r})")
    return meta


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            h.update(chunk)
    return h.hexdigest()


def is_shard_dir(path: Path) -> bool:
    return (path / META).is_file()


class ShardVideos(VideoSet):
    """Videos of a shard directory, read through memory maps.

    Args:
        path: the dataset directory.
        size: frame side to return; frames are resized on read when it differs from the stored size.
        split: ``"train"``, ``"test"`` or ``None`` for both (train first).
    """

    def __init__(self, path: str | os.PathLike, size: int = 64, split: str | None = None):
        self.path = Path(path).resolve()
        self.size, self.split = size, split
        self.meta = read_meta(self.path)
        if not self.meta.get("complete"):
            raise MaskbenchError(f"{self.path} is an unfinished dataset; rerun the command that made it to resume")
        if split not in (None, *SPLITS):
            raise MaskbenchError(f"split must be one of {SPLITS} or None, got {split!r}")
        shards = [s for s in self.meta["shards"] if split in (None, s["split"])]
        # (shard name, row inside the shard) for every video of the selection, in order.
        self._rows = [(s["name"], r) for s in shards for r in range(s["videos"])]
        self._maps: dict[str, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self._rows)

    def num_frames(self, i: int) -> int:
        self._index(i)
        return int(self.meta["frames"])

    def clip(self, i: int, start: int = 0, stop: int | None = None) -> np.ndarray:
        name, row = self._rows[self._index(i)]
        if name not in self._maps:
            self._maps[name] = read_shard(self.path / name)
        frames = np.array(self._maps[name][row, start:stop])  # copies only these frames out of the map
        return fit_video(frames, self.size)

    def video_id(self) -> str:
        return f"shards:{self.path}|{self.content_id().removeprefix('shards|')}"

    def content_id(self) -> str:
        # meta.json names every shard's sha256: the content, not where it was rendered
        digest = hashlib.sha256(json.dumps(self.meta, sort_keys=True).encode()).hexdigest()[:16]
        return f"shards|split={self.split or 'all'}|size={self.size}|{digest}"

    def __getstate__(self) -> dict:
        # Pickling a memmap copies the whole shard; worker processes reopen the maps instead.
        return dict(self.__dict__, _maps={})
