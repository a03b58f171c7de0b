"""Everything a benchmark run shares across cells: model, tokenizer, data, paired contexts."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from maskbench.core.checkpoint import ModelCard, load_model, weights_identity
from maskbench.core.denoiser import BackboneDenoiser
from maskbench.core.distributed import local_device
from maskbench.core.errors import MaskbenchError
from maskbench.core.rollout import RolloutPlan
from maskbench.bench.config import RunConfig, build_samplers
from maskbench.bench.preflight import DEFAULT_MODEL  # one home: preflight needs it without torch
from maskbench.metrics.i3d import MIN_FRAMES
from maskbench.metrics.protocols import check_protocol


@dataclass
class Bench:
    """The shared state of a run.

    Attributes:
        contexts: rollout length ``L`` -> long ``[N, m, h, w]`` (CPU) ground-truth context tokens: the
            first ``m`` frames of ``N`` random real windows of ``L`` frames, the same for every sampler of
            that length, and a function of (data set, split, ``L``, ``N``, seed) alone (see :func:`cell_windows`).
        model_identity: hash of the model's config and weights (``weights_identity``).
        truth: rollout length ``L`` -> uint8 ``[S, L, H, W, 3]``: those windows for the first ``S`` contexts (grids).
    """

    config: RunConfig
    device: torch.device
    card: ModelCard
    denoiser: BackboneDenoiser
    tokenizer: object
    videos: object
    frames: int
    context: int
    stride: int
    contexts: dict[int, torch.Tensor]
    truth: dict[int, np.ndarray]
    samplers: dict = field(default_factory=dict)
    model_identity: str = ""

    def plan(self, factor: int) -> RolloutPlan:
        return RolloutPlan.from_extrapolation(self.frames, self.context, self.stride, factor)

    @property
    def batch_size(self) -> int:
        return min(self.config.batch_size or default_batch_size(self.device), self.config.videos)


def default_videos(device: torch.device) -> int:
    """Videos per cell of a plain ``maskbench run``: the least comparable FVD set on a GPU; on a CPU,
    what 4 samplers at 2x sample and score in about ten minutes on 2 cores (the run then prints
    what the full protocol would take)."""
    from maskbench.report.tables import FEW_VIDEOS

    return FEW_VIDEOS if device.type == "cuda" else 4


def default_batch_size(device: torch.device) -> int:
    """Videos sampled together unless ``--batch-size`` says otherwise (benchmarks/test_batching.py
    measures where throughput saturates)."""
    return 32 if device.type == "cuda" else 8


def prepare(config: RunConfig) -> Bench:
    """Load model, tokenizer and data, build the samplers (:func:`~maskbench.bench.config.build_samplers`) and
    draw the paired contexts; all checks before any sampling."""
    device = local_device(config.device)
    model, card = load_model(config.model or DEFAULT_MODEL, device)
    frames, context, stride = config.frames or card.frames, config.context or card.context, config.stride or card.stride
    if frames > model.config.max_frames:
        raise MaskbenchError(f"--frames {frames} exceeds the model's trained window of {model.config.max_frames} frames")
    for factor in config.factors:
        plan = RolloutPlan.from_extrapolation(frames, context, stride, factor)
        if config.fvd and plan.length < MIN_FRAMES:
            raise MaskbenchError(f"FVD's I3D needs videos of at least {MIN_FRAMES} frames, {factor}x gives "
                                 f"{plan.length}; raise --extrap or pass --no-fvd")
        if config.fvd:
            check_protocol(config.fvd_protocol, plan.length)
    tokenizer = _tokenizer(config, card, model, device)
    videos = _videos(config, card)
    lengths = sorted({RolloutPlan.from_extrapolation(frames, context, stride, f).length for f in config.factors})
    contexts, truth = {}, {}
    for length in lengths:  # one draw per rollout length, so a cell does not depend on the other factors asked
        firsts, truth[length] = cell_windows(videos, length, context, config.videos, config.seed, config.samples)
        contexts[length] = _encode(tokenizer, firsts, config.batch_size or 8)
    return Bench(config, device, card, BackboneDenoiser(model), tokenizer, videos, frames, context, stride,
                 contexts, truth, build_samplers(config, card), weights_identity(config.model or DEFAULT_MODEL))


def _tokenizer(config: RunConfig, card: ModelCard, model, device):
    from maskbench.tokenizers.base import get_tokenizer

    tokenizer = get_tokenizer(config.tokenizer or card.tokenizer, config.tokenizer_path, device=device)
    if tokenizer.vocab_size != model.config.vocab_size:
        raise MaskbenchError(f"tokenizer {tokenizer.name!r} has {tokenizer.vocab_size} codes but the model was trained on "
                             f"{model.config.vocab_size} (tokenizer {card.tokenizer!r}); pass the matching --tokenizer")
    # Same vocabulary size is not the same tokens: a retrained tokenizer maps every patch to other ids.
    if card.tokenizer_identity and tokenizer.identity() != card.tokenizer_identity:
        raise MaskbenchError(f"the model was trained on the tokens of {card.tokenizer_identity}, not of {tokenizer.identity()}; "
                             "pass that tokenizer's weights with --tokenizer-path, or retrain the model on this one's tokens")
    return tokenizer


def _videos(config: RunConfig, card: ModelCard):
    from maskbench.core.data import default_data_dir, open_videos

    if config.data:
        return open_videos(config.data, size=card.frame_size, split=config.split)
    path = default_data_dir()
    if not (path / "meta.json").exists():
        from maskbench.core.data.vizdoom import render_dataset

        # How long depends on the number and speed of the cores: render_dataset's bar measures it, we do not guess.
        print(f"first use: rendering the embedded ViZDoom data set once (625 videos of 300 frames, 2.2 GB, one game "
              f"per core; on a terminal a bar shows the time left) into {path}; set MASKBENCH_DATA to put it elsewhere",
              flush=True)
        render_dataset(path, size=card.frame_size)
    return open_videos(path, size=card.frame_size, split="test")


#: Names how contexts are drawn; part of every cell key (bump when :func:`cell_windows` changes).
CONTEXT_DRAW = "random-windows-of-L-v2"


def cell_windows(videos, length: int, context: int, count: int, seed: int, samples: int) -> tuple[np.ndarray, np.ndarray]:
    """The real windows behind the cells of rollout length ``length``.

    ``count`` random windows of ``length`` frames (:func:`maskbench.core.data.window_picks`, seeded
    by ``seed``): a function of the data set, ``length``, ``count`` and ``seed`` only, never of the
    other lengths or samplers of the run, so a cell's key can say everything its contexts depend on.

    Returns:
        ``(contexts, truth)``: uint8 ``[count, context, H, W, 3]`` first frames of every window (only
        they are read), and uint8 ``[min(samples, count), length, H, W, 3]`` the first windows whole (grids).
    """
    from maskbench.core.data import read_windows, window_picks

    picks, starts = window_picks(videos, length, count, seed=seed)
    return read_windows(videos, picks, starts, context), read_windows(videos, picks[:samples], starts[:samples], length)


def _encode(tokenizer, pixels: np.ndarray, batch: int) -> torch.Tensor:
    parts = [tokenizer.encode(torch.from_numpy(pixels[i : i + batch])).cpu() for i in range(0, len(pixels), batch)]
    return torch.cat(parts)
