"""Token caches: a video set tokenized once, stored as one memory-mapped ``tokens.npy`` + ``meta.json``.

Training and benchmarking read tokens many times; tokenizing once saves the encoder passes. A cache
is valid only with the tokenizer (weights included) and the source that built it, so ``meta.json``
records both and :func:`open_token_cache` refuses a mismatch.

Writing is crash-safe and resumable: tokens go to ``tokens.partial.npy`` with a ``progress.json``
that counts the videos already flushed; ``tokens.npy`` appears by rename, and ``meta.json`` (whose
presence marks a complete cache) is written last.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from maskbench.core.errors import MaskbenchError

FORMAT = "maskbench-token-cache/1"
TOKENS, META, PARTIAL, PROGRESS = "tokens.npy", "meta.json", "tokens.partial.npy", "progress.json"
_HINT = "run `maskbench tokenize ...` first"


@dataclass
class TokenCache:
    """A complete token cache.

    Attributes:
        path: the cache folder.
        tokens: read-only memmap, uint16 (``K <= 65535``) or int32, ``[N, F, h, w]``.
        meta: the contents of ``meta.json``.
    """

    path: Path
    tokens: np.ndarray
    meta: dict

    @property
    def vocab_size(self) -> int:
        """Codebook size ``K`` of the tokenizer that built the cache."""
        return int(self.meta["vocab_size"])

    def __len__(self) -> int:
        return len(self.tokens)

    def clip(self, i: int, start: int = 0, stop: int | None = None) -> torch.Tensor:
        """Frames ``[start, stop)`` of video ``i`` as long ``[stop - start, h, w]`` (a copy)."""
        return torch.from_numpy(self.tokens[i, start:stop].astype(np.int64))


def build_token_cache(videos, tokenizer, out_dir: str | os.PathLike, batch_size: int = 4,
                      device: str | torch.device | None = None, progress: bool = True) -> TokenCache:
    """Tokenize every video once into ``out_dir`` (resumes an interrupted build of the same cache).

    Args:
        videos: a :class:`maskbench.core.data.VideoSet` of equal-length uint8 ``[F, H, W, 3]`` videos.
        tokenizer: a :class:`maskbench.tokenizers.base.Tokenizer`.
        out_dir: the cache folder (created). An existing complete cache is rebuilt.
        batch_size: videos per ``encode`` call.
        device: where the tokenizer runs (it is moved there if it has a ``to`` method); ``None`` leaves
            it where it is. Tokens come back to the CPU as they are written.
        progress: show a tqdm bar.

    Returns:
        the :class:`TokenCache`, opened.

    Raises:
        MaskbenchError: empty set, videos of different lengths, or frames the tokenizer cannot take.
    """
    from tqdm import tqdm

    if device is not None and hasattr(tokenizer, "to"):
        tokenizer = tokenizer.to(device)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    meta = _plan_meta(videos, tokenizer)
    tokens, done = _open_partial(out, meta)
    n = meta["videos"]
    with tqdm(total=n, initial=done, desc="tokenize", unit="video", disable=not progress) as bar:
        for start in range(done, n, batch_size):
            stop = min(start + batch_size, n)
            batch = np.stack([videos[i] for i in range(start, stop)])
            ids = tokenizer.encode(torch.from_numpy(batch)).cpu().numpy()
            if ids.shape[1:] != tuple(tokens.shape[1:]):
                raise MaskbenchError(f"tokenizer {tokenizer.name!r} returned tokens {ids.shape[1:]}, expected "
                                     f"{tuple(tokens.shape[1:])}")
            tokens[start:stop] = ids
            tokens.flush()  # before progress.json says these videos are done
            _write_json(out / PROGRESS, {"plan": meta, "done": stop})
            bar.update(stop - start)
    del tokens
    os.replace(out / PARTIAL, out / TOKENS)
    _write_json(out / META, meta)
    (out / PROGRESS).unlink(missing_ok=True)
    return open_token_cache(out, tokenizer.identity())


def open_token_cache(path: str | os.PathLike, tokenizer_identity: str | None = None) -> TokenCache:
    """Open a complete cache, checking it against the tokenizer that will decode its tokens.

    Args:
        path: the cache folder.
        tokenizer_identity: ``tokenizer.identity()``; ``None`` skips the check.

    Returns:
        :class:`TokenCache` with ``tokens`` memory-mapped read-only.

    Raises:
        MaskbenchError: missing, incomplete or corrupt cache, or one built by another tokenizer.
    """
    root = Path(path).expanduser()
    if not (root / META).is_file():
        state = "an unfinished build" if (root / PROGRESS).is_file() or (root / PARTIAL).is_file() else "no token cache"
        raise MaskbenchError(f"{state} at {root}; {_HINT}")
    try:
        meta = json.loads((root / META).read_text())
        tokens = np.load(root / TOKENS, mmap_mode="r")
    except (OSError, ValueError) as error:
        raise MaskbenchError(f"corrupt token cache at {root} ({type(error).__name__}); delete it and {_HINT}") from None
    if meta.get("format") != FORMAT:
        raise MaskbenchError(f"{root} is not a maskbench token cache (format {meta.get('format')!r}); {_HINT}")
    expected = (meta["videos"], meta["frames"], *meta["token_grid"])
    if tokens.shape != expected or tokens.dtype != np.dtype(meta["dtype"]):
        raise MaskbenchError(f"corrupt token cache at {root}: tokens {tokens.dtype} {tokens.shape}, meta.json says "
                             f"{meta['dtype']} {expected}; delete it and {_HINT}")
    if tokenizer_identity is not None and meta["tokenizer"] != tokenizer_identity:
        raise MaskbenchError(f"token cache {root} was built with tokenizer {meta['tokenizer']}, not "
                             f"{tokenizer_identity}; rebuild it (`maskbench tokenize ...`) or use the matching tokenizer")
    return TokenCache(root, tokens, meta)


def token_dtype(vocab_size: int) -> np.dtype:
    """uint16 when every id fits (``K <= 65535``), else int32."""
    return np.dtype(np.uint16 if vocab_size <= np.iinfo(np.uint16).max else np.int32)


def _plan_meta(videos, tokenizer) -> dict:
    """``meta.json`` of the cache to build (also the key an interrupted build must match to resume)."""
    n = len(videos)
    if n == 0:
        raise MaskbenchError("cannot build a token cache of an empty video set")
    lengths = {videos.num_frames(i) if hasattr(videos, "num_frames") else len(videos[i]) for i in range(n)}
    if len(lengths) != 1:
        raise MaskbenchError(f"a token cache needs videos of one length, got lengths {sorted(lengths)[:5]}...; "
                             "trim the videos first")
    probe = videos.clip(0, 0, 1) if hasattr(videos, "clip") else videos[0][:1]
    height, width = probe.shape[1:3]
    f = tokenizer.downsample
    if height % f or width % f:
        raise MaskbenchError(f"frames of {height}x{width} do not divide into {tokenizer.name!r}'s {f}x{f} tokens")
    source = videos.video_id() if hasattr(videos, "video_id") else f"{type(videos).__name__}:{n}"
    return {
        "format": FORMAT,
        "tokenizer": tokenizer.identity(),
        "tokenizer_name": tokenizer.name,
        "vocab_size": int(tokenizer.vocab_size),
        "dtype": token_dtype(tokenizer.vocab_size).name,
        "frame_size": [int(height), int(width)],
        "token_grid": [int(height // f), int(width // f)],
        "videos": n,
        "frames": int(lengths.pop()),
        "source": source,
        "source_hash": hashlib.sha256(source.encode()).hexdigest()[:16],
    }


def _open_partial(out: Path, meta: dict) -> tuple[np.ndarray, int]:
    """The partial token file and how many videos it holds; a fresh one unless the same plan was under way."""
    shape = (meta["videos"], meta["frames"], *meta["token_grid"])
    (out / META).unlink(missing_ok=True)  # from here on the folder is not a valid cache until the end
    try:
        progress = json.loads((out / PROGRESS).read_text())
        if progress["plan"] == meta and (out / PARTIAL).is_file():
            tokens = np.load(out / PARTIAL, mmap_mode="r+")
            if tokens.shape == shape and tokens.dtype == np.dtype(meta["dtype"]):
                return tokens, int(progress["done"])
    except (OSError, ValueError, KeyError):
        pass
    (out / PROGRESS).unlink(missing_ok=True)
    (out / TOKENS).unlink(missing_ok=True)
    tokens = np.lib.format.open_memmap(out / PARTIAL, mode="w+", dtype=meta["dtype"], shape=shape)
    return tokens, 0


def _write_json(path: Path, data: dict) -> None:
    """Write-then-rename, so a reader never sees half a file."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)
