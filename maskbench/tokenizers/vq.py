"""The shipped tokenizers: :class:`~maskbench.tokenizers.base.Tokenizer` over ``diffusers.VQModel``.

Two are registered (README, "Tokenizers"): ``vizdoom-vq``, a small VQ autoencoder trained here on the
embedded ViZDoom frames and shipped in ``maskbench/weights/vizdoom-vq``, and ``vqgan``, any VQModel
folder in diffusers format, e.g. the paper's SD-VQGAN f8 (K=16384) for users who have its weights.
"""

from __future__ import annotations

import functools
import hashlib
import json
from pathlib import Path

import numpy as np
import torch
from einops import rearrange

from maskbench.core.errors import MaskbenchError
from maskbench.core.hookspecs import hookimpl
from maskbench.tokenizers.base import TokenizerSpec

DEFAULT_VIZDOOM_WEIGHTS = Path(__file__).resolve().parents[1] / "weights" / "vizdoom-vq"


class VQTokenizer:
    """A ``diffusers.VQModel`` seen as a :class:`Tokenizer` (frames are coded independently).

    Args:
        name: registry name.
        model: the autoencoder; moved to ``device`` and put in eval mode.
        device: where encoding and decoding run; outputs stay there.
        chunk: frames per forward pass, which bounds memory for long videos.
    """

    def __init__(self, name: str, model, device: str | torch.device | None = None, chunk: int = 64):
        self.name = name
        self.device = torch.device(device or "cpu")
        # mkldnn convolutions are ~2x faster on channels-last tensors on CPU; results are the same.
        self.model = model.to(self.device, memory_format=self._memory_format).eval()
        self.vocab_size = int(model.config.num_vq_embeddings)
        # diffusers' Encoder halves the resolution in every block but the last.
        self.downsample = 2 ** (len(model.config.block_out_channels) - 1)
        self.chunk = chunk

    def to(self, device: str | torch.device) -> "VQTokenizer":
        """Move to ``device`` (in place) and return self."""
        self.device = torch.device(device)
        self.model.to(self.device, memory_format=self._memory_format)
        return self

    @functools.cached_property
    def _identity(self) -> str:
        return f"{self.name}-{weights_hash(self.model)[:16]}"

    def identity(self) -> str:
        """``name-<16 hex digits>``, a hash of the model config and every weight."""
        return self._identity

    @torch.no_grad()
    def encode(self, video: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Token ids of every frame.

        Args:
            video: uint8 ``[B, F, H, W, 3]`` (torch or numpy); ``H`` and ``W`` multiples of ``f``.

        Returns:
            long ``[B, F, H/f, W/f]`` on the tokenizer's device.
        """
        video = torch.as_tensor(video)
        self._check_pixels(video)
        b, f = video.shape[:2]
        frames = rearrange(video, "b f h w c -> (b f) c h w")
        ids = [self._encode_frames(part) for part in frames.split(self.chunk)]
        return rearrange(torch.cat(ids), "(b f) h w -> b f h w", b=b, f=f)

    @torch.no_grad()
    def decode(self, tokens: torch.Tensor) -> torch.Tensor:
        """Pixels of token videos.

        Args:
            tokens: long ``[B, F, h, w]`` with ids in ``0..K-1`` (no mask tokens left).

        Returns:
            uint8 ``[B, F, h*f, w*f, 3]`` on the tokenizer's device.
        """
        tokens = torch.as_tensor(tokens)
        self._check_tokens(tokens)
        b, f = tokens.shape[:2]
        flat = rearrange(tokens, "b f h w -> (b f) h w")
        frames = [self._decode_frames(part) for part in flat.split(self.chunk)]
        return rearrange(torch.cat(frames), "(b f) c h w -> b f h w c", b=b, f=f)

    def latents(self, pixels: torch.Tensor) -> torch.Tensor:
        """Pre-quantisation latents: float ``[N, 3, H, W]`` in [-1, 1] -> ``[N, D, h, w]``."""
        return self.model.encode(pixels).latents

    def _encode_frames(self, frames: torch.Tensor) -> torch.Tensor:
        """uint8 ``[N, 3, H, W]`` -> long ``[N, h, w]``."""
        pixels = to_unit_range(frames.to(self.device)).contiguous(memory_format=self._memory_format)
        h = self.latents(pixels)
        ids = nearest_codes(rearrange(h, "n d h w -> (n h w) d"), self.model.quantize.embedding.weight)
        return rearrange(ids, "(n h w) -> n h w", n=h.shape[0], h=h.shape[2], w=h.shape[3])

    def _decode_frames(self, ids: torch.Tensor) -> torch.Tensor:
        """long ``[N, h, w]`` -> uint8 ``[N, 3, H, W]``."""
        n, h, w = ids.shape
        flat = rearrange(ids.to(self.device), "n h w -> (n h w)")
        shape = (n, h, w, self.model.quantize.vq_embed_dim)
        if self.model.config.lookup_from_codebook:  # such models look the codes up inside decode
            out = self.model.decode(flat, force_not_quantize=True, shape=shape).sample
        else:
            quant = self.model.quantize.get_codebook_entry(flat, shape)
            out = self.model.decode(quant, force_not_quantize=True).sample
        return to_uint8(out)

    @property
    def _memory_format(self):
        # mkldnn convolutions are ~2x faster on channels-last tensors on CPU; results are the same.
        return torch.channels_last if self.device.type == "cpu" else torch.contiguous_format

    def _check_pixels(self, video: torch.Tensor) -> None:
        if video.dtype != torch.uint8 or video.ndim != 5 or video.shape[-1] != 3:
            raise MaskbenchError(f"{self.name}: encode takes uint8 [B, F, H, W, 3] videos, got "
                                 f"{video.dtype} {tuple(video.shape)}")
        if video.shape[2] % self.downsample or video.shape[3] % self.downsample:
            raise MaskbenchError(f"{self.name}: frame size {tuple(video.shape[2:4])} is not a multiple of the "
                                 f"tokenizer's downsampling factor {self.downsample}")

    def _check_tokens(self, tokens: torch.Tensor) -> None:
        if tokens.dtype.is_floating_point or tokens.ndim != 4:
            raise MaskbenchError(f"{self.name}: decode takes integer [B, F, h, w] token ids, got "
                                 f"{tokens.dtype} {tuple(tokens.shape)}")
        if tokens.numel() and (int(tokens.min()) < 0 or int(tokens.max()) >= self.vocab_size):
            raise MaskbenchError(f"{self.name}: token ids must lie in 0..{self.vocab_size - 1} (is a mask token "
                                 f"{self.vocab_size} left?), got {int(tokens.min())}..{int(tokens.max())}")

    def __repr__(self) -> str:
        return f"VQTokenizer({self.name!r}, K={self.vocab_size}, f={self.downsample}, device={self.device})"


# ---------------------------------------------------------------- helpers shared with the trainer


def to_unit_range(frames: torch.Tensor) -> torch.Tensor:
    """uint8 pixels -> float32 in [-1, 1] (the range diffusers autoencoders are trained on)."""
    return frames.float() / 127.5 - 1.0


def to_uint8(pixels: torch.Tensor) -> torch.Tensor:
    """float in [-1, 1] -> uint8, rounded (clipping the decoder's overshoot)."""
    return ((pixels.clamp(-1.0, 1.0) + 1.0) * 127.5).round().to(torch.uint8)


def nearest_codes(latents: torch.Tensor, codebook: torch.Tensor, rows: int = 4096) -> torch.Tensor:
    """Index of the nearest codebook vector, as ``VectorQuantizer.forward`` computes it.

    Rows go in blocks so that a large codebook (K=16384) never needs an ``[N, K]`` matrix for a
    whole video at once.

    Args:
        latents: float ``[N, D]``.
        codebook: float ``[K, D]``.

    Returns:
        long ``[N]``.
    """
    return torch.cat([torch.cdist(part, codebook).argmin(dim=1) for part in latents.split(rows)])


def weights_hash(model: torch.nn.Module) -> str:
    """sha256 hex of a diffusers model's config and state dict (names, dtypes, shapes, bytes)."""
    digest = hashlib.sha256()
    config = {k: v for k, v in dict(getattr(model, "config", {})).items() if not k.startswith("_")}
    digest.update(json.dumps(config, sort_keys=True, default=str).encode())
    for name, tensor in sorted(model.state_dict().items()):
        data = tensor.detach().cpu().contiguous().reshape(-1)
        digest.update(f"{name}|{data.dtype}|{tuple(data.shape)}".encode())
        digest.update(data.view(torch.uint8).numpy().tobytes() if data.numel() else b"")
    return digest.hexdigest()


def load_vq_model(path: str | Path, what: str):
    """A ``diffusers.VQModel`` from a ``save_pretrained`` folder (or a pipeline's ``vqvae/`` subfolder).

    Raises:
        MaskbenchError: missing folder, no VQModel config, or weights that do not load.
    """
    from diffusers import VQModel  # imported here: diffusers takes ~1 s to import

    root = Path(path).expanduser()
    if not root.is_dir():
        raise MaskbenchError(f"{what}: no directory at {root}; give a diffusers VQModel folder (save_pretrained)")
    if not (root / "config.json").is_file() and (root / "vqvae" / "config.json").is_file():
        root = root / "vqvae"
    try:
        config = json.loads((root / "config.json").read_text())
    except (OSError, ValueError) as error:
        raise MaskbenchError(f"{what}: cannot read {root / 'config.json'} ({type(error).__name__}); "
                             "is this a diffusers VQModel folder?") from None
    if config.get("_class_name") != "VQModel":
        raise MaskbenchError(f"{what}: {root} holds a {config.get('_class_name')!r}, not a diffusers VQModel")
    try:
        return VQModel.from_pretrained(root, low_cpu_mem_usage=False)  # no accelerate needed
    except Exception as error:  # diffusers raises OSError, ValueError, SafetensorError...: all mean "bad folder"
        first_line = (str(error).strip().splitlines() or [""])[0]
        raise MaskbenchError(f"{what}: cannot load the VQModel in {root} ({type(error).__name__}: {first_line})") from None


# ---------------------------------------------------------------- the shipped tokenizers, as a plugin


def load_vizdoom_vq(path: str | Path | None = None, device: str | torch.device | None = None) -> VQTokenizer:
    """The embedded ViZDoom tokenizer (64x64 -> 8x8 tokens); ``path`` overrides the shipped weights."""
    if path is None and not (DEFAULT_VIZDOOM_WEIGHTS / "config.json").is_file():
        raise MaskbenchError(f"the shipped vizdoom-vq weights are missing from {DEFAULT_VIZDOOM_WEIGHTS}; train "
                             "them with `maskbench tokenizer train` or reinstall maskbench")
    return VQTokenizer("vizdoom-vq", load_vq_model(path or DEFAULT_VIZDOOM_WEIGHTS, "vizdoom-vq"), device)


def load_vqgan(path: str | Path | None = None, device: str | torch.device | None = None) -> VQTokenizer:
    """A user-supplied VQModel folder, e.g. the paper's SD-VQGAN f8 (K=16384)."""
    if path is None:
        raise MaskbenchError("the vqgan tokenizer needs its weights: pass --tokenizer-path DIR, a diffusers "
                             "VQModel folder (config.json + diffusion_pytorch_model.safetensors)")
    return VQTokenizer("vqgan", load_vq_model(path, "vqgan"), device, chunk=16)


@hookimpl
def maskbench_tokenizers() -> list[TokenizerSpec]:
    return [
        TokenizerSpec("vizdoom-vq", load_vizdoom_vq, "VQ autoencoder trained on the embedded ViZDoom frames "
                      "(64x64 -> 8x8 tokens, shipped)"),
        TokenizerSpec("vqgan", load_vqgan, "any diffusers VQModel folder given with --tokenizer-path, e.g. the "
                      "paper's SD-VQGAN f8 (K=16384)"),
    ]
