"""Trained models on disk: a diffusers model folder plus ``maskbench.json`` saying how it was trained.

The card carries what sampling needs to match training (window geometry, schedule, tokenizer), so
``maskbench run --model DIR`` picks the right defaults and refuses a model it cannot use.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from maskbench.core.errors import MaskbenchError

CARD = "maskbench.json"


@dataclass(frozen=True)
class ModelCard:
    """How a backbone was trained.

    Attributes:
        frames: training window ``k`` (the rollout window).
        context: default context frames ``m`` for sampling.
        stride: default stride ``s``.
        schedule: masking schedule ``kappa`` used in training.
        masking: ``"frame"`` (per-frame t, Algorithm 1) or ``"constant"`` (one t per clip).
        tokenizer: tokenizer registry name; ``tokenizer_identity`` its weights' identity.
        frame_size: pixel size of the (square) frames the tokenizer sees.
        extra: anything else worth keeping (training command, steps, loss, wall time).
    """

    frames: int
    context: int
    stride: int
    schedule: str = "sigmoid"
    masking: str = "frame"
    tokenizer: str = "vizdoom-vq"
    tokenizer_identity: str = ""
    frame_size: int = 64
    extra: dict = field(default_factory=dict)


def save_model(model: torch.nn.Module, directory: str | Path, card: ModelCard) -> None:
    """``save_pretrained`` (safetensors) plus the card."""
    directory = Path(directory)
    model.save_pretrained(directory, safe_serialization=True)
    (directory / CARD).write_text(json.dumps(asdict(card), indent=2) + "\n")


def load_model(directory: str | Path, device: str | torch.device = "cpu"):
    """Load a backbone and its card; one-line errors for a missing, partial or foreign folder.

    Returns:
        ``(MaskedLatte in eval mode on device, ModelCard)``.
    """
    from maskbench.core.backbone import MaskedLatte

    directory = Path(directory)
    if not directory.is_dir():
        raise MaskbenchError(f"model directory {directory} does not exist; train one with `deepspeed train.py` or omit --model")
    card = _read_card(directory)
    config = _read_json(directory / "config.json", "model config")
    if config.get("_class_name") != MaskedLatte.__name__:
        raise MaskbenchError(
            f"{directory} holds a {config.get('_class_name')!r} checkpoint, not a maskbench {MaskedLatte.__name__}")
    try:
        # fp32 whatever the stored dtype (shipped weights are fp16 to stay small); no accelerate needed
        model = MaskedLatte.from_pretrained(directory, low_cpu_mem_usage=False, torch_dtype=torch.float32)
    except (OSError, ValueError, RuntimeError) as error:
        raise MaskbenchError(f"cannot load the model in {directory}: {str(error).splitlines()[0]}") from None
    return model.to(device).eval(), card


def weights_identity(directory: str | Path) -> str:
    """16 hex digits of a hash of a model folder's config and weights: retrained weights at the same
    path are a different model (results keyed by path alone would be reused for them)."""
    directory = Path(directory)
    digest = hashlib.sha1()
    for path in [directory / "config.json", *sorted(directory.glob("*.safetensors"))]:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _read_card(directory: Path) -> ModelCard:
    data = _read_json(directory / CARD, "model card")
    try:
        return ModelCard(**data)
    except TypeError as error:
        raise MaskbenchError(f"{directory / CARD} is not a maskbench model card: {error}") from None


def _read_json(path: Path, what: str) -> dict:
    if not path.is_file():
        raise MaskbenchError(f"{path} is missing: {path.parent} is not a maskbench model folder")
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise MaskbenchError(f"{what} {path} is corrupt ({error})") from None
