"""Token caches: content equals direct encoding, refusals, atomic and resumable builds."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from maskbench.core.errors import MaskbenchError
from maskbench.core.token_cache import (META, PARTIAL, PROGRESS, TOKENS, build_token_cache, open_token_cache,
                                        token_dtype)
from maskbench.tokenizers.vq import VQTokenizer

K = 32


class _Videos:
    """A tiny in-memory video set with the VideoSet methods the cache uses."""

    def __init__(self, videos: np.ndarray, name: str = "synthetic"):
        self.videos, self.name = videos, name

    def __len__(self) -> int:
        return len(self.videos)

    def __getitem__(self, i: int) -> np.ndarray:
        return self.videos[i].copy()

    def num_frames(self, i: int) -> int:
        return self.videos.shape[1]

    def clip(self, i: int, start: int = 0, stop: int | None = None) -> np.ndarray:
        return self.videos[i, start:stop].copy()

    def video_id(self) -> str:
        return f"{self.name}:{len(self)}"


def _tokenizer(seed: int = 0) -> VQTokenizer:
    from diffusers import VQModel

    torch.manual_seed(seed)
    model = VQModel(down_block_types=("DownEncoderBlock2D",) * 3, up_block_types=("UpDecoderBlock2D",) * 3,
                    block_out_channels=(8, 8, 16), layers_per_block=1, latent_channels=4, num_vq_embeddings=K,
                    norm_num_groups=4, sample_size=16)
    return VQTokenizer("tiny", model)


@pytest.fixture(scope="module")
def tokenizer():
    return _tokenizer()


@pytest.fixture
def videos():
    generator = np.random.default_rng(0)
    return _Videos(generator.integers(0, 256, (5, 3, 16, 16, 3), dtype=np.uint8))


def test_cache_equals_direct_encoding(tokenizer, videos, tmp_path):
    cache = build_token_cache(videos, tokenizer, tmp_path / "cache", batch_size=2, progress=False)
    direct = tokenizer.encode(torch.from_numpy(videos.videos)).numpy()
    assert cache.tokens.dtype == np.uint16 and cache.tokens.shape == (5, 3, 4, 4)
    assert np.array_equal(cache.tokens, direct)
    assert torch.equal(cache.clip(1, 1, 3), torch.from_numpy(direct[1, 1:3]))
    assert isinstance(cache.tokens, np.memmap) and not cache.tokens.flags.writeable
    assert cache.vocab_size == K and len(cache) == 5
    meta = cache.meta
    assert meta["tokenizer"] == tokenizer.identity() and meta["source"] == "synthetic:5"
    assert (meta["frame_size"], meta["token_grid"], meta["frames"]) == ([16, 16], [4, 4], 3)
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [META, TOKENS]


def test_open_refuses_another_tokenizer(tokenizer, videos, tmp_path):
    build_token_cache(videos, tokenizer, tmp_path, progress=False)
    assert open_token_cache(tmp_path, tokenizer.identity()).vocab_size == K
    with pytest.raises(MaskbenchError, match="built with tokenizer tiny-.*rebuild"):
        open_token_cache(tmp_path, _tokenizer(seed=1).identity())


def test_missing_unfinished_and_corrupt_caches(tokenizer, videos, tmp_path):
    with pytest.raises(MaskbenchError, match="no token cache .*maskbench tokenize"):
        open_token_cache(tmp_path / "nothing")
    build_token_cache(videos, tokenizer, tmp_path, progress=False)
    meta = json.loads((tmp_path / META).read_text())
    (tmp_path / META).write_text(json.dumps({**meta, "videos": 6}))
    with pytest.raises(MaskbenchError, match="corrupt token cache"):
        open_token_cache(tmp_path)
    (tmp_path / META).write_text("{not json")
    with pytest.raises(MaskbenchError, match="corrupt token cache"):
        open_token_cache(tmp_path)
    (tmp_path / META).unlink()
    (tmp_path / PROGRESS).write_text("{}")
    with pytest.raises(MaskbenchError, match="unfinished build"):
        open_token_cache(tmp_path)


class _Crash(Exception):
    pass


class _CrashingTokenizer:
    """Wraps a tokenizer and fails on the n-th encode call, like a killed process."""

    def __init__(self, inner, fail_at: int):
        self.inner, self.fail_at, self.calls = inner, fail_at, 0
        self.name, self.vocab_size, self.downsample = inner.name, inner.vocab_size, inner.downsample

    def identity(self) -> str:
        return self.inner.identity()

    def encode(self, video):
        self.calls += 1
        if self.calls == self.fail_at:
            raise _Crash
        return self.inner.encode(video)


def test_interrupted_build_is_not_a_cache_and_resumes(tokenizer, videos, tmp_path):
    build_token_cache(videos, tokenizer, tmp_path, progress=False)  # an old, valid cache in the same folder
    crashing = _CrashingTokenizer(tokenizer, fail_at=2)
    with pytest.raises(_Crash):
        build_token_cache(videos, crashing, tmp_path, batch_size=2, progress=False)
    with pytest.raises(MaskbenchError, match="unfinished build"):
        open_token_cache(tmp_path)
    assert json.loads((tmp_path / PROGRESS).read_text())["done"] == 2 and (tmp_path / PARTIAL).exists()

    resumed = _CrashingTokenizer(tokenizer, fail_at=0)
    cache = build_token_cache(videos, resumed, tmp_path, batch_size=2, progress=False)
    assert resumed.calls == 2  # videos 2-3 and 4: the first batch was not encoded again
    assert np.array_equal(cache.tokens, tokenizer.encode(torch.from_numpy(videos.videos)).numpy())


def test_build_rejects_unequal_lengths_and_bad_frames(tokenizer, tmp_path):
    class Ragged(_Videos):
        def num_frames(self, i: int) -> int:
            return 3 if i else 4

    with pytest.raises(MaskbenchError, match="one length"):
        build_token_cache(Ragged(np.zeros((2, 3, 16, 16, 3), np.uint8)), tokenizer, tmp_path, progress=False)
    with pytest.raises(MaskbenchError, match="do not divide"):
        build_token_cache(_Videos(np.zeros((1, 2, 18, 18, 3), np.uint8)), tokenizer, tmp_path, progress=False)
    with pytest.raises(MaskbenchError, match="empty"):
        build_token_cache(_Videos(np.zeros((0, 2, 16, 16, 3), np.uint8)), tokenizer, tmp_path, progress=False)


def test_token_dtype():
    assert token_dtype(16384) == np.uint16 and token_dtype(65535) == np.uint16 and token_dtype(65536) == np.int32
