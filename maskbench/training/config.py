"""Typed training configuration: one YAML file (plus ``key=value`` overrides) describes a run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from maskbench.core.config import from_mapping, setting
from maskbench.core.errors import MaskbenchError
from maskbench.training.masking import SNR_FORMULAS


EXPORT_DTYPES = ("float32", "float16", "bfloat16")


@dataclass(frozen=True)
class TrainConfig:
    """A training run (paper Algorithm 1 and Appendix A.4 defaults).

    The DeepSpeed configuration is derived from these fields (:meth:`deepspeed_config`).
    """

    cache: str = setting("data/vizdoom-tokens/train", "token cache to train on (`maskbench tokenize`)")
    synthetic: bool = setting(False, "build a small deterministic token set at ``cache`` when missing (smoke tests)")
    preset: str = setting("cpu", "backbone size, a name of maskbench.core.backbone.BACKBONES")
    frames: int = setting(16, "window k")
    context: int = setting(2, "context frames m the model card records")
    stride: int = setting(14, "stride s <= k - m the model card records")
    masking: str = setting("frame", "frame: one t per frame (Algorithm 1); constant: one t per clip")
    schedule: str = setting("sigmoid", "masking schedule kappa(t), a registered schedule")
    snr_weighting: bool = setting(False, "fused-SNR loss weights per frame (paper A.4; authors' reweigh_loss=snr)")
    snr_clip: float = setting(6.0, "min-SNR clip (authors' snr_clip)")
    snr_decay: float = setting(0.8, "smoothing of the SNR over frames (authors' cum_snr_decay); 0: plain min-SNR per frame")
    snr_formula: str = setting("paper", "'paper': kappa^2 / (1 - kappa^2) (A.4); 'authors': kappa^2 / (1 - kappa)^2")
    time_conditioning: bool = setting(True, "false: a timestep-independent model (Table 4), t zeroed inside the backbone")
    lr: float = setting(1e-4, "AdamW learning rate")
    betas: tuple[float, float] = setting((0.9, 0.999), "AdamW betas")
    weight_decay: float = setting(0.0, "AdamW weight decay")
    grad_clip: float = setting(1.0, "gradient norm clip")
    ema_decay: float = setting(0.999, "decay of the exported EMA weights")
    micro_batch: int = setting(8, "clips per rank and step")
    grad_accum: int = setting(1, "micro-batches per optimiser step")
    zero_stage: int = setting(0, "DeepSpeed ZeRO stage, 0 to 3")
    steps: int = setting(1000, "optimiser steps")
    checkpoint_every: int = setting(100, "steps between checkpoints")
    log_every: int = setting(10, "steps between metrics lines")
    seed: int = setting(0, "seed of initialisation, masking and batches")
    tokenizer: str = setting("vizdoom-vq", "tokenizer the cache was built with (recorded in the model card)")
    frame_size: int = setting(64, "frame side in pixels the tokenizer takes")
    init_from: str | None = setting(None, "exported model folder to start from (fresh optimizer): continues a run across machines")
    export_dtype: str = setting("float32", "dtype of the exported weights: float16 halves a shipped model (loading casts to fp32)")
    extra: dict = setting(default_factory=dict, help="more fields for the exported model card's extra")

    def __post_init__(self) -> None:
        from maskbench.core.backbone import BACKBONES
        from maskbench.schedules import get_schedule

        if self.masking not in ("frame", "constant"):
            raise MaskbenchError(f"masking must be 'frame' or 'constant', got {self.masking!r}")
        if not 0 <= self.zero_stage <= 3:
            raise MaskbenchError(f"zero_stage must be 0, 1, 2 or 3, got {self.zero_stage}")
        if self.preset not in BACKBONES:
            raise MaskbenchError(f"unknown preset {self.preset!r}; presets: {', '.join(BACKBONES)}")
        get_schedule(self.schedule)  # unknown schedule -> one-line error listing the known ones
        for name in ("frames", "micro_batch", "grad_accum", "steps", "checkpoint_every", "log_every"):
            if getattr(self, name) < 1:
                raise MaskbenchError(f"{name} must be at least 1, got {getattr(self, name)}")
        if not 1 <= self.context < self.frames or not 1 <= self.stride <= self.frames - self.context:
            raise MaskbenchError(f"need 1 <= context < frames and 1 <= stride <= frames - context, got "
                                 f"frames={self.frames} context={self.context} stride={self.stride}")
        if self.snr_formula not in SNR_FORMULAS:
            raise MaskbenchError(f"snr_formula must be one of {', '.join(SNR_FORMULAS)}, got {self.snr_formula!r}")
        if not self.snr_clip > 0 or not 0 <= self.snr_decay < 1:
            raise MaskbenchError(f"need snr_clip > 0 and 0 <= snr_decay < 1, got snr_clip={self.snr_clip} "
                                 f"snr_decay={self.snr_decay}")
        if self.export_dtype not in EXPORT_DTYPES:
            raise MaskbenchError(f"export_dtype must be one of {', '.join(EXPORT_DTYPES)}, got {self.export_dtype!r}")
        if self.init_from is not None and not (Path(self.init_from) / "config.json").is_file():
            raise MaskbenchError(f"init_from {self.init_from} is not an exported model folder (no config.json)")
        if not self.synthetic and not (Path(self.cache) / "meta.json").is_file():
            raise MaskbenchError(f"token cache {self.cache} is missing; build it with `maskbench tokenize --out {self.cache}`")

    def deepspeed_config(self, cuda: bool) -> dict:
        """DeepSpeed's config dict: bf16 on CUDA only (bf16 on CPUs is ~100x slower than fp32)."""
        return {
            "train_micro_batch_size_per_gpu": self.micro_batch,
            "gradient_accumulation_steps": self.grad_accum,
            "gradient_clipping": self.grad_clip,
            "optimizer": {"type": "AdamW", "params": {"lr": self.lr, "betas": list(self.betas),
                                                      "weight_decay": self.weight_decay, "torch_adam": True}},
            "zero_optimization": {"stage": self.zero_stage},
            "bf16": {"enabled": cuda},
            "steps_per_print": 10**9,
        }


def load_config(path: str | None, overrides: list[str]) -> TrainConfig:
    """Config from a YAML file, then ``key=value`` overrides, each value typed as its field
    (:mod:`maskbench.core.config`)."""
    data: dict = {}
    if path:
        file = Path(path)
        if not file.is_file():
            raise MaskbenchError(f"config file {path} does not exist")
        try:
            data = yaml.safe_load(file.read_text()) or {}
        except yaml.YAMLError as error:
            raise MaskbenchError(f"config file {path} is not valid YAML: {str(error).splitlines()[0]}") from None
    return from_mapping(TrainConfig, data, overrides, what="config keys")
