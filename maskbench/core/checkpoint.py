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
    from diffusers.utils import logging as diffusers_logging

    verbosity = diffusers_logging.get_verbosity()
    diffusers_logging.set_verbosity_error()  # its "newly initialized" warning becomes our one-line error below
    try:
        # fp32 whatever the stored dtype (shipped weights are fp16 to stay small); no accelerate needed
        model, info = MaskedLatte.from_pretrained(directory, low_cpu_mem_usage=False, torch_dtype=torch.float32,
                                                  output_loading_info=True)
    except Exception as error:  # noqa: BLE001 - diffusers and safetensors raise many types for one bad folder
        raise MaskbenchError(load_error(directory, error)) from None
    finally:
        diffusers_logging.set_verbosity(verbosity)
    # diffusers only warns when config and weights disagree, and initialises what is missing at random.
    misfit = {kind: info.get(kind) for kind in ("missing_keys", "unexpected_keys", "mismatched_keys") if info.get(kind)}
    if misfit:
        kind, keys = next(iter(misfit.items()))
        raise MaskbenchError(f"the weights in {directory} do not fit its config.json ({len(keys)} {kind.replace('_', ' ')}, "
                             f"e.g. {keys[0]}); the folder mixes two models, export it again from one training run")
    return model.to(device).eval(), card


def read_card(directory: str | Path) -> ModelCard:
    """The card of a model folder, without loading its weights."""
    directory = Path(directory)
    if not directory.is_dir():
        raise MaskbenchError(f"model directory {directory} does not exist; train one with `deepspeed train.py` or omit --model")
    return _read_card(directory)


def load_error(directory: Path, error: Exception) -> str:
    """One line saying why ``from_pretrained`` failed: weights that do not fit the config, or a damaged file."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    text = " ".join(lines)
    if "state_dict" in text or "size mismatch" in text or "Missing key" in text or "Unexpected key" in text:
        detail = next((line for line in lines[1:] if line), text)
        more = f" (and {len(lines) - 2} more)" if len(lines) > 2 else ""
        return (f"the weights in {directory} do not fit its config.json: {detail}{more}; the folder mixes two models, "
                "export it again from one training run")
    if type(error).__name__ == "SafetensorError" or any(
            w in text.lower() for w in ("header", "deserializ", "truncat", "incomplete", "unable to load weights")):
        return (f"the weights file in {directory} is corrupt or truncated ({type(error).__name__}: {lines[0] if lines else ''}); "
                "download or export the model again")
    return f"cannot load the model in {directory}: {type(error).__name__}: {lines[0] if lines else ''}"


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


def check_weights(directory: str | Path) -> None:
    """Refuse a weights file that is truncated or does not fit the folder's config, before loading it.

    Reads only the safetensors header (shapes and byte ranges) and builds the model on the meta device
    (no memory, no initialisation), so the answer takes milliseconds whatever the model's size.

    Raises:
        MaskbenchError: no weights file, a truncated or corrupt one, or shapes and names that the config does not give.
    """
    from maskbench.core.backbone import MaskedLatte

    directory = Path(directory)
    files = sorted(directory.glob("*.safetensors"))
    if not files:
        raise MaskbenchError(f"{directory} has no *.safetensors weights file; export the model again")
    stored: dict[str, tuple[int, ...]] = {}
    for path in files:
        stored.update(_safetensors_shapes(path))
    config = _read_json(directory / "config.json", "model config")
    try:
        with torch.device("meta"):
            model = MaskedLatte.from_config(config)
    except (TypeError, ValueError) as error:
        raise MaskbenchError(f"model config {directory / 'config.json'} is not a MaskedLatte config: {error}") from None
    expected = {name: tuple(tensor.shape) for name, tensor in model.state_dict().items()}
    missing, unexpected = sorted(expected.keys() - stored.keys()), sorted(stored.keys() - expected.keys())
    wrong = sorted(n for n in expected.keys() & stored.keys() if expected[n] != stored[n])
    for names, what in ((wrong, "have other shapes"), (missing, "are missing"), (unexpected, "are not in the model")):
        if names:
            detail = f"{names[0]}: {stored[names[0]]} stored, {expected[names[0]]} expected" if what == "have other shapes" else names[0]
            raise MaskbenchError(f"the weights in {directory} do not fit its config.json: {len(names)} tensor(s) {what} "
                                 f"(e.g. {detail}); the folder mixes two models, export it again from one training run")


def _safetensors_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """Tensor shapes from a safetensors header; a file shorter than its header says is truncated."""
    size = path.stat().st_size
    try:
        with path.open("rb") as handle:
            length = int.from_bytes(handle.read(8), "little")
            if length <= 0 or 8 + length > size:
                raise ValueError("header longer than the file")
            header = json.loads(handle.read(length))
        end = max((spec["data_offsets"][1] for name, spec in header.items() if name != "__metadata__"), default=0)
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as error:
        raise MaskbenchError(f"the weights file {path} is corrupt ({error}); download or export the model again") from None
    if 8 + length + end > size:
        raise MaskbenchError(f"the weights file {path} is truncated ({size} of {8 + length + end} bytes); "
                             "download or export the model again")
    return {name: tuple(spec["shape"]) for name, spec in header.items() if name != "__metadata__"}
