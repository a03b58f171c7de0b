"""Typed training configuration: one YAML file (plus ``key=value`` overrides) describes a run."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from maskbench.core.errors import MaskbenchError
from maskbench.training.masking import SNR_FORMULAS


EXPORT_DTYPES = ("float32", "float16", "bfloat16")


@dataclass(frozen=True)
class TrainConfig:
    """A training run (paper Algorithm 1 and Appendix A.4 defaults).

    The DeepSpeed configuration is derived from these fields (:meth:`deepspeed_config`).
    """

    cache: str = "data/vizdoom-tokens/train"
    synthetic: bool = False  # build a small deterministic token set at ``cache`` when missing (smoke tests)
    preset: str = "cpu"
    frames: int = 16
    context: int = 2
    stride: int = 14
    masking: str = "frame"
    schedule: str = "sigmoid"
    snr_weighting: bool = False  # fused-SNR loss weights per frame (paper A.4; authors' reweigh_loss=snr)
    snr_clip: float = 6.0  # min-SNR clip (authors' snr_clip)
    snr_decay: float = 0.8  # smoothing of the SNR over frames (authors' cum_snr_decay); 0: plain min-SNR per frame
    snr_formula: str = "paper"  # "paper": kappa^2 / (1 - kappa^2) (A.4); "authors": kappa^2 / (1 - kappa)^2
    time_conditioning: bool = True  # false: a timestep-independent model (Table 4), t zeroed inside the backbone
    lr: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    ema_decay: float = 0.999
    micro_batch: int = 8
    grad_accum: int = 1
    zero_stage: int = 0
    steps: int = 1000
    checkpoint_every: int = 100
    log_every: int = 10
    seed: int = 0
    tokenizer: str = "vizdoom-vq"
    frame_size: int = 64
    init_from: str | None = None  # exported model folder to start from (fresh optimizer): continues a run across machines
    export_dtype: str = "float32"  # dtype of the exported weights: float16 halves a shipped model (loading casts to fp32)
    extra: dict = field(default_factory=dict)

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
    """Config from a YAML file, then ``key=value`` overrides (values parsed as YAML scalars)."""
    data: dict = {}
    if path:
        file = Path(path)
        if not file.is_file():
            raise MaskbenchError(f"config file {path} does not exist")
        try:
            data = yaml.safe_load(file.read_text()) or {}
        except yaml.YAMLError as error:
            raise MaskbenchError(f"config file {path} is not valid YAML: {str(error).splitlines()[0]}") from None
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise MaskbenchError(f"override {item!r} must look like key=value")
        data[key.strip()] = yaml.safe_load(value)
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise MaskbenchError(f"unknown config keys {unknown}; known: {', '.join(sorted(known))}")
    if "betas" in data:
        data["betas"] = tuple(data["betas"])
    return TrainConfig(**data)
