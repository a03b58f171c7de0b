"""Train the embedded ``vizdoom-vq`` tokenizer: a small ``diffusers.VQModel`` on random frames.

Standard VQ-VAE recipe (van den Oord et al. 2017, as in taming-transformers): L1 + L2 reconstruction
plus VQModel's commitment/codebook loss, straight-through gradients, AdamW with warm-up and cosine
decay. Codes that go unused for ``restart_every`` steps are re-initialised from random encoder
outputs of the current batch (codebook restarts, Dhariwal et al. 2020), and the codebook starts as
a sample of encoder outputs, so nearly every code is in use at the end.

Runs resume from ``checkpoint.pt`` in the output folder: a killed run loses at most
``checkpoint_every`` steps, and a resumed run draws the same batches as an uninterrupted one.
"""

from __future__ import annotations

import json
import math
import os
import shlex
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from einops import rearrange

from maskbench.core.errors import MaskbenchError
from maskbench.tokenizers.vq import VQTokenizer, to_unit_range

CHECKPOINT = "checkpoint.pt"
TRAINING_CARD = "training.json"


@dataclass(frozen=True)
class TokenizerTrainConfig:
    """Everything that shapes a tokenizer training run (a resumed run must match it).

    Attributes:
        steps: optimiser steps.
        batch_size: frames per step.
        lr: peak AdamW learning rate (after ``warmup`` steps; cosine decay to 10% of it).
        seed: seed of the initial weights, the batches and the restarts.
        vocab_size: codebook size ``K``.
        channels: VQModel ``block_out_channels``; ``len - 1`` halvings, so 4 entries give f=8.
        embed_dim: codebook vector size (small vectors keep more codes in use).
        frame_size: frame side in pixels.
        crop: side of random crops to train on (a multiple of the downsampling factor, placed on the
            token grid), for frames larger than a CPU step can afford; ``None`` trains on whole frames.
            At 64x64, 32-pixel crops learned more slowly per pixel seen and used fewer codes.
        warmup: linear learning-rate warm-up steps.
        restart_every: steps between restarts of the codes unused since the last restart.
        pool_frames: at most this many training frames are held in memory (evenly spaced in time).
        eval_frames: test frames for the final PSNR and codebook usage.
        init_from: a tokenizer folder (``save_pretrained``) of the same architecture to start from, e.g. the
            shipped ``vizdoom-vq`` to train it further; its codebook is kept instead of re-drawn at step 0.
    """

    steps: int = 900
    batch_size: int = 16
    lr: float = 1e-3
    seed: int = 0
    vocab_size: int = 512
    channels: tuple[int, ...] = (16, 32, 64, 96)
    embed_dim: int = 8
    frame_size: int = 64
    crop: int | None = None
    warmup: int = 50
    restart_every: int = 50
    pool_frames: int = 30000
    eval_frames: int = 500
    init_from: str | None = None

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "vocab_size", "embed_dim", "frame_size", "restart_every", "pool_frames",
                     "eval_frames"):
            if getattr(self, name) < 1:
                raise MaskbenchError(f"tokenizer training: {name} must be at least 1, got {getattr(self, name)}")
        if not self.lr > 0:
            raise MaskbenchError(f"tokenizer training: lr must be positive, got {self.lr}")
        factor = 2 ** (len(self.channels) - 1)
        if self.frame_size % factor:
            raise MaskbenchError(f"tokenizer training: frame size {self.frame_size} is not a multiple of the "
                                 f"downsampling factor {factor} that {len(self.channels)} channel stages give")
        if self.crop is not None and (self.crop % factor or not 0 < self.crop <= self.frame_size):
            raise MaskbenchError(f"tokenizer training: crop {self.crop} must be a multiple of {factor} and at most "
                                 f"the frame size {self.frame_size}")
        if self.init_from is not None and not (Path(self.init_from) / "config.json").is_file():
            raise MaskbenchError(f"tokenizer training: init_from {self.init_from} is not a tokenizer folder (no config.json)")
        if any(c % 8 for c in self.channels):
            raise MaskbenchError(f"tokenizer training: channels {self.channels} must be multiples of 8 (group norm)")


@dataclass
class TrainResult:
    """What :func:`train_tokenizer` produced.

    Attributes:
        out_dir: the folder holding the ``save_pretrained`` model and ``training.json``.
        card: the contents of ``training.json``.
    """

    out_dir: Path
    card: dict = field(default_factory=dict)


def build_vq_model(config: TokenizerTrainConfig):
    """A fresh, randomly initialised ``diffusers.VQModel`` for ``config`` (seeded)."""
    from diffusers import VQModel

    torch.manual_seed(config.seed)  # diffusers initialises layers from the global generator
    stages = len(config.channels)
    return VQModel(
        in_channels=3, out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * stages, up_block_types=("UpDecoderBlock2D",) * stages,
        block_out_channels=tuple(config.channels), layers_per_block=1, latent_channels=config.embed_dim,
        vq_embed_dim=config.embed_dim, num_vq_embeddings=config.vocab_size, norm_num_groups=8,
        sample_size=config.frame_size,
    )


def train_tokenizer(data_path: str | os.PathLike, out_dir: str | os.PathLike, steps: int = 900,
                    batch_size: int = 16, lr: float = 1e-3, seed: int = 0, vocab_size: int = 512,
                    checkpoint_every: int = 100, resume: bool = True, keep_checkpoint: bool = False,
                    command: str | None = None, progress: bool = True, **options) -> TrainResult:
    """Train a VQ tokenizer on random frames of a dataset's train split; evaluate on its test split.

    Args:
        data_path: anything :func:`maskbench.core.data.open_videos` opens, with ``train``/``test`` splits.
        out_dir: output folder: ``save_pretrained`` files, ``training.json``, and while running ``checkpoint.pt``.
        steps: optimiser steps.
        batch_size: frames per step.
        lr: peak learning rate.
        seed: seed of weights, batches and restarts.
        vocab_size: codebook size ``K``.
        checkpoint_every: steps between checkpoints (a killed run loses at most this many).
        resume: continue from ``out_dir/checkpoint.pt`` when there is one (else it is overwritten).
        keep_checkpoint: keep ``checkpoint.pt`` after the final save, so that a later call with more
            ``steps`` can continue training (the cosine schedule then restarts from the new length).
        command: the command line to record (default: this process's ``sys.argv``).
        progress: show a tqdm bar.
        **options: other :class:`TokenizerTrainConfig` fields (``channels``, ``embed_dim``, ...).

    Returns:
        :class:`TrainResult`.
    """
    from maskbench.core.data import open_videos

    config = TokenizerTrainConfig(steps=steps, batch_size=batch_size, lr=lr, seed=seed, vocab_size=vocab_size,
                                  **options)
    train = open_videos(data_path, size=config.frame_size, split="train")
    test = open_videos(data_path, size=config.frame_size, split="test")
    source = {"train": train.video_id(), "test": test.video_id()}
    return fit_tokenizer(sample_frames(train, config.pool_frames), sample_frames(test, config.eval_frames), out_dir,
                         config, checkpoint_every=checkpoint_every, resume=resume, keep_checkpoint=keep_checkpoint,
                         command=command, progress=progress, source=source)


def sample_frames(videos, count: int) -> np.ndarray:
    """About ``count`` frames spread evenly over every video and over time (deterministic).

    Args:
        videos: a :class:`maskbench.core.data.VideoSet` (or any sequence of uint8 ``[F, H, W, 3]``).
        count: frames wanted (fewer if the set has fewer).

    Returns:
        uint8 ``[N, H, W, 3]``.
    """
    lengths = [videos.num_frames(i) if hasattr(videos, "num_frames") else len(videos[i]) for i in range(len(videos))]
    per_video = max(1, math.ceil(count / max(len(videos), 1)))
    frames = []
    for i, length in enumerate(lengths):
        # Offsets by half a stride avoid always taking frame 0, the same warm-up pose class in every video.
        picks = ((np.arange(min(per_video, length)) + 0.5) * length / min(per_video, length)).astype(int)
        video = videos[i]
        frames.append(video[picks])
    return np.concatenate(frames)[:count] if frames else np.zeros((0, 1, 1, 3), np.uint8)


def fit_tokenizer(train_frames: np.ndarray, test_frames: np.ndarray, out_dir: str | os.PathLike,
                  config: TokenizerTrainConfig, checkpoint_every: int = 100, resume: bool = True,
                  keep_checkpoint: bool = False, command: str | None = None, progress: bool = True,
                  source: dict | None = None) -> TrainResult:
    """The training loop on frames already in memory (what :func:`train_tokenizer` calls).

    Args:
        train_frames: uint8 ``[N, H, W, 3]`` frames batches are drawn from.
        test_frames: uint8 ``[M, H, W, 3]`` frames for the final evaluation.
        out_dir: output folder.
        config: the run's hyper-parameters.
        checkpoint_every: steps between checkpoints.
        resume: continue from ``out_dir/checkpoint.pt`` if present.
        keep_checkpoint: keep ``checkpoint.pt`` after the final save.
        command: command line to record.
        progress: show a tqdm bar.
        source: identity of the data, recorded in ``training.json``.

    Returns:
        :class:`TrainResult`.
    """
    from tqdm import tqdm

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _check_frames(train_frames, test_frames, config)
    pool = rearrange(torch.from_numpy(np.ascontiguousarray(train_frames)), "n h w c -> n c h w")
    state = _TrainState.create(config, out / CHECKPOINT if resume else None)

    bar = tqdm(total=config.steps, initial=state.step, desc="tokenizer", unit="step", disable=not progress)
    started = time.perf_counter()
    while state.step < config.steps:
        stats = state.train_step(pool)
        state.step += 1
        bar.update(1)
        bar.set_postfix(loss=f"{stats['loss']:.4f}", psnr=f"{stats['psnr']:.1f}", codes=stats["codes"])
        if state.step % checkpoint_every == 0 or state.step == config.steps:
            state.save(out / CHECKPOINT, state.elapsed + time.perf_counter() - started)
    bar.close()
    wall = state.elapsed + time.perf_counter() - started

    state.model.eval()
    state.model.save_pretrained(out, safe_serialization=True)
    tokenizer = VQTokenizer("vizdoom-vq", state.model, device="cpu")
    card = {
        "command": command if command is not None else shlex.join(sys.argv),
        "config": asdict(config),
        "wall_time_s": round(wall, 1),
        "train_frames": int(len(train_frames)),
        "source": source or {},
        "identity": tokenizer.identity(),
        **evaluate_tokenizer(tokenizer, test_frames),
        **tokenizer_lineage(config.init_from, config.steps, wall),
    }
    (out / TRAINING_CARD).write_text(json.dumps(card, indent=2) + "\n")
    if not keep_checkpoint:  # the finished model supersedes it, and shipped folders stay small
        (out / CHECKPOINT).unlink(missing_ok=True)
    return TrainResult(out, card)


@torch.no_grad()
def evaluate_tokenizer(tokenizer, frames: np.ndarray, batch: int = 64) -> dict:
    """Reconstruction PSNR and codebook usage on uint8 ``[N, H, W, 3]`` frames.

    PSNR is computed per frame on uint8 round trips (``decode(encode(x))``), then averaged.

    Returns:
        ``{"psnr_db", "codes_used", "codebook_usage", "perplexity", "eval_frames"}``.
    """
    psnrs, counts = [], torch.zeros(tokenizer.vocab_size, dtype=torch.long)
    for start in range(0, len(frames), batch):
        video = rearrange(torch.from_numpy(frames[start : start + batch]), "n h w c -> 1 n h w c")
        ids = tokenizer.encode(video)
        recon = tokenizer.decode(ids).cpu()
        psnrs.append(psnr(recon[0], video[0]))
        counts += torch.bincount(ids.flatten().cpu(), minlength=tokenizer.vocab_size)
    probs = counts.double() / counts.sum()
    entropy = -(probs[probs > 0] * probs[probs > 0].log()).sum()
    used = int((counts > 0).sum())
    return {"psnr_db": round(float(torch.cat(psnrs).mean()), 3), "codes_used": used,
            "codebook_usage": round(used / tokenizer.vocab_size, 4), "perplexity": round(float(entropy.exp()), 1),
            "eval_frames": int(len(frames))}


def psnr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-frame PSNR in dB of uint8 ``[N, H, W, 3]`` frames (peak 255); capped at 100 dB for identical frames."""
    mse = (a.double() - b.double()).pow(2).flatten(1).mean(dim=1)
    return (10 * torch.log10(255.0**2 / mse.clamp_min(255.0**2 * 1e-10))).float()


def _check_frames(train_frames: np.ndarray, test_frames: np.ndarray, config: TokenizerTrainConfig) -> None:
    expected = (config.frame_size, config.frame_size, 3)
    for name, frames in (("train", train_frames), ("test", test_frames)):
        if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[1:] != expected:
            raise MaskbenchError(f"tokenizer training: {name} frames must be uint8 [N, {config.frame_size}, "
                                 f"{config.frame_size}, 3], got {frames.dtype} {frames.shape}")
        if not len(frames):
            raise MaskbenchError(f"tokenizer training: the {name} split has no frames")


class _TrainState:
    """Model, optimiser, generator and code-usage counts: everything a checkpoint must restore."""

    def __init__(self, config: TokenizerTrainConfig):
        self.config = config
        self.model = build_vq_model(config)
        if config.init_from is not None:
            _warm_start(self.model, config.init_from)
        self.model = self.model.to(memory_format=torch.channels_last).train()
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=config.lr, betas=(0.9, 0.99), weight_decay=0.0)
        self.generator = torch.Generator().manual_seed(config.seed)
        self.usage = torch.zeros(config.vocab_size, dtype=torch.long)  # assignments since the last restart
        self.step = 0
        self.elapsed = 0.0

    @classmethod
    def create(cls, config: TokenizerTrainConfig, checkpoint: Path | None) -> "_TrainState":
        state = cls(config)
        if checkpoint is not None and checkpoint.is_file():
            state.load(checkpoint)
        return state

    def train_step(self, pool: torch.Tensor) -> dict:
        """One optimiser step on a random batch of ``pool`` (uint8 ``[N, 3, H, W]``)."""
        config, model = self.config, self.model
        x = to_unit_range(self._batch(pool)).contiguous(memory_format=torch.channels_last)
        latents = model.encode(x).latents
        if self.step == 0 and config.init_from is None:  # a warm start keeps its learned codebook
            self._restart_codes(latents, torch.ones(config.vocab_size, dtype=torch.bool))
        quant, vq_loss, (_, _, ids) = model.quantize(latents)
        recon = model.decode(quant, force_not_quantize=True).sample
        loss = F.l1_loss(recon, x) + F.mse_loss(recon, x) + vq_loss
        for group in self.optimizer.param_groups:
            group["lr"] = self._lr(self.step)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()

        self.usage += torch.bincount(ids.flatten(), minlength=config.vocab_size)
        if (self.step + 1) % config.restart_every == 0:
            self._restart_codes(latents.detach(), self.usage == 0)
            self.usage.zero_()
        mse = F.mse_loss(recon.detach().clamp(-1, 1), x).item()
        return {"loss": loss.item(), "psnr": 10 * math.log10(4.0 / max(mse, 1e-10)),
                "codes": int((self.usage > 0).sum())}

    def _batch(self, pool: torch.Tensor) -> torch.Tensor:
        """Random frames, or random token-aligned crops of them: uint8 ``[B, 3, S, S]``."""
        config = self.config
        picks = torch.randint(len(pool), (config.batch_size,), generator=self.generator)
        if config.crop is None or config.crop == config.frame_size:
            return pool[picks]
        grid = 2 ** (len(config.channels) - 1)
        offsets = grid * torch.randint((config.frame_size - config.crop) // grid + 1, (config.batch_size, 2),
                                       generator=self.generator)
        return torch.stack([pool[i, :, y : y + config.crop, x : x + config.crop]
                            for i, (y, x) in zip(picks.tolist(), offsets.tolist())])

    @torch.no_grad()
    def _restart_codes(self, latents: torch.Tensor, dead: torch.Tensor) -> None:
        """Move ``dead`` codes onto random encoder outputs of this batch (with a little noise, so that
        two restarts on the same vector can separate)."""
        n_dead = int(dead.sum())
        if not n_dead:
            return
        vectors = rearrange(latents, "n d h w -> (n h w) d")
        picks = torch.randint(len(vectors), (n_dead,), generator=self.generator)
        noise = 0.01 * vectors.std() * torch.randn(n_dead, vectors.shape[1], generator=self.generator)
        self.model.quantize.embedding.weight[dead] = vectors[picks] + noise
        # Adam's moments belong to the old vectors; stale momentum would drag the new ones away.
        moments = self.optimizer.state.get(self.model.quantize.embedding.weight, {})
        for key in ("exp_avg", "exp_avg_sq"):
            if key in moments:
                moments[key][dead] = 0

    def _lr(self, step: int) -> float:
        config = self.config
        if step < config.warmup:
            return config.lr * (step + 1) / config.warmup
        progress = (step - config.warmup) / max(1, config.steps - config.warmup)
        return config.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))

    def save(self, path: Path, elapsed: float) -> None:
        """Atomic: a kill during the write leaves the previous checkpoint intact."""
        payload = {"config": _plain(asdict(self.config)), "step": self.step, "elapsed": elapsed,
                   "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                   "generator": self.generator.get_state(), "usage": self.usage}
        tmp = path.with_suffix(".tmp")
        torch.save(payload, tmp)
        os.replace(tmp, path)

    def load(self, path: Path) -> None:
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:  # truncated or foreign file
            raise MaskbenchError(f"cannot resume from {path} ({type(error).__name__}); delete it to start over") from None
        saved = {k: v for k, v in payload["config"].items() if k != "steps"}
        current = {k: v for k, v in _plain(asdict(self.config)).items() if k != "steps"}
        if saved != current:
            changed = sorted(k for k in current if saved.get(k) != current[k])
            raise MaskbenchError(f"{path} was written with other settings ({', '.join(changed)}); use them, "
                                 "another output folder, or delete the checkpoint")
        self.model.load_state_dict(payload["model"])
        self.optimizer.load_state_dict(payload["optimizer"])
        self.generator.set_state(payload["generator"])
        self.usage = payload["usage"]
        self.step, self.elapsed = int(payload["step"]), float(payload["elapsed"])


def tokenizer_lineage(init_from: str | None, steps: int, wall: float) -> dict:
    """For a tokenizer continued from another one: that one's card (``earlier``) and the totals over the
    whole chain, so that a shipped card says how long its weights were trained, not only the last run."""
    if init_from is None:
        return {}
    path = Path(init_from) / TRAINING_CARD
    earlier = json.loads(path.read_text()) if path.is_file() else {}
    return {"total_steps": steps + earlier.get("total_steps", earlier.get("config", {}).get("steps", 0)),
            "total_wall_time_s": round(wall + earlier.get("total_wall_time_s", earlier.get("wall_time_s", 0.0)), 1),
            "earlier": earlier}


def _warm_start(model, folder: str) -> None:
    """Copy the weights of a tokenizer of the same architecture (one-line error otherwise)."""
    from maskbench.tokenizers.vq import load_vq_model

    source = load_vq_model(folder, "init_from")
    mine, theirs = (_plain(dict(m.config)) for m in (model, source))
    diff = sorted(k for k in mine if not k.startswith("_") and theirs.get(k) != mine[k])
    if diff:
        raise MaskbenchError(f"tokenizer training: init_from {folder} has another architecture (differs in "
                             f"{', '.join(diff)}); train with its settings")
    model.load_state_dict(source.state_dict())


def _plain(config: dict) -> dict:
    """Tuples to lists, so that a config compares equal after a round trip through a checkpoint."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in config.items()}


def write_reconstruction_gif(tokenizer, videos, path: str | os.PathLike, count: int = 4, frames: int = 32,
                             seed: int = 0, fps: int = 10) -> Path:
    """A GIF of real clips (left) next to their ``decode(encode(x))`` reconstructions (right).

    Args:
        tokenizer: a :class:`maskbench.tokenizers.base.Tokenizer`.
        videos: a :class:`maskbench.core.data.VideoSet` (the test split, normally).
        path: output ``.gif``.
        count: clips, one per row.
        frames: frames per clip.
        seed: seed of the clip draw.
        fps: playback rate.

    Returns:
        ``path``.
    """
    from maskbench.core.data import random_windows
    from maskbench.core.media import video_grid, write_video

    real = random_windows(videos, frames, count, seed=seed)  # [R, T, H, W, 3]
    with torch.no_grad():
        recon = tokenizer.decode(tokenizer.encode(torch.from_numpy(real))).cpu().numpy()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_video(video_grid([real, recon]), path, fps=fps, scale=2)
    return path
