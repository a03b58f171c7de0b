"""Checks of a run's prerequisites before any work: paths, data, model folder, I3D weights.

Everything here answers in milliseconds and imports neither torch nor the engines (the CLI calls it
before the heavy imports): a bad argument is a one-line error at once, not after minutes of loading,
rendering or sampling, and nothing is written.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from maskbench.core.errors import MaskbenchError

SPLITS = ("train", "test", "all")
# The shipped frame-level model: the default of `--model` (bench.py takes it from here, torch-free).
DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "weights" / "latte-vizdoom-frame"
SMOKE_TOKENIZER = "synthetic"  # configs/tiny.yaml: stripes no tokenizer decodes (a training smoke test)


def check_out(out: str | os.PathLike, flag: str = "--out") -> Path:
    """``out`` is, or can be made, a writable folder (nothing is created here).

    Raises:
        MaskbenchError: ``out`` or one of its parents is a file, or the folder that would hold it is not writable.
    """
    path = Path(out).expanduser()
    if path.exists() and not path.is_dir():
        raise MaskbenchError(f"{flag} {out} is a file; give a folder (it is created when missing)")
    ancestor = path.absolute()
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise MaskbenchError(f"{flag} {out}: {ancestor} is a file, so the folder cannot be created")
    if not _writable(ancestor):
        raise MaskbenchError(f"{flag} {out}: {ancestor} is not writable (read-only file system or permissions); "
                             f"choose another {flag}")
    return path


def _writable(folder: Path) -> bool:
    """Whether a folder can be created in ``folder``: tried (and removed at once), since ``os.access``
    says yes to root on any file system that is not mounted read-only."""
    if not os.access(folder, os.W_OK | os.X_OK):
        return False
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".maskbench-probe-", dir=folder))
    except OSError:
        return False
    return True


def check_data(data: str | None, split: str | None) -> None:
    """``--data``/``--split``: the split is known, applies to a given folder, and that folder holds something.

    Args:
        data: ``--data`` (``None``: the embedded ViZDoom set, always its test split).
        split: ``--split`` as typed (``None`` when not given).
    """
    if split is not None and split not in SPLITS:
        raise MaskbenchError(f"--split must be one of {', '.join(SPLITS)}, got {split!r}")
    if data is None:
        if split not in (None, "test"):
            raise MaskbenchError(f"--split {split} needs --data: the embedded ViZDoom set is always measured on its "
                                 "test split")
        return
    root = Path(data).expanduser()
    if not root.exists():
        raise MaskbenchError(f"--data {data} does not exist; render the embedded set with `maskbench data vizdoom "
                             f"--out {data}` or give a folder of videos")
    if not root.is_dir():
        raise MaskbenchError(f"--data {data} is a file; give the folder that holds the videos")
    if not any(root.iterdir()):
        raise MaskbenchError(f"--data {data} is empty; give a folder of video files, of frame folders, or our shards")
    split = split or "test"
    if split != "all" and not (root / "meta.json").is_file() and not (root / split).is_dir():
        raise MaskbenchError(f"--data {data} has no '{split}' sub-folder; pass --split all to use every video in it")


def check_model(model: str | os.PathLike, tokenizer: str | None) -> dict:
    """The model folder holds a maskbench model card and a MaskedLatte config; returns the card.

    Raises:
        MaskbenchError: missing or foreign folder, unreadable card or config, or a smoke-test model.
    """
    folder = Path(model).expanduser()
    if not folder.is_dir():
        raise MaskbenchError(f"--model {model} does not exist; train one with `deepspeed train.py` or omit --model")
    card, config = _json(folder / "maskbench.json", "model card"), _json(folder / "config.json", "model config")
    if config.get("_class_name") != "MaskedLatte":
        raise MaskbenchError(f"--model {model} holds a {config.get('_class_name')!r} checkpoint, not a maskbench MaskedLatte")
    if card.get("tokenizer") == SMOKE_TOKENIZER and tokenizer is None:
        raise MaskbenchError(f"--model {model} is a smoke-test model (configs/tiny.yaml trains on synthetic stripes no "
                             "tokenizer can decode): it shows that training runs, it cannot be benchmarked; train on "
                             "real tokens, e.g. `deepspeed train.py --config configs/vizdoom-frame.yaml`")
    return {**card, "max_frames": config.get("max_frames")}


def check_existing(path: str | None, flag: str) -> None:
    """An input path that must exist (``None``: not given, nothing to check)."""
    if path is not None and not Path(path).expanduser().exists():
        raise MaskbenchError(f"{flag} {path} does not exist")


def _json(path: Path, what: str) -> dict:
    if not path.is_file():
        raise MaskbenchError(f"{path} is missing: {path.parent} is not a maskbench model folder")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise MaskbenchError(f"{what} {path} is corrupt ({error})") from None
    if not isinstance(data, dict):
        raise MaskbenchError(f"{what} {path} is not a JSON object")
    return data


def check_before_loading(config, card: dict) -> None:
    """What needs torch but no weights: geometry against the card, tokenizer name, I3D weights, device.

    Args:
        config: the run's :class:`~maskbench.bench.config.RunConfig`.
        card: from :func:`check_model` (the model card plus the config's ``max_frames``).
    """
    from maskbench.core.checkpoint import check_weights
    from maskbench.core.distributed import local_device
    from maskbench.core.plugins import lookup
    from maskbench.core.rollout import RolloutPlan
    from maskbench.tokenizers.base import tokenizer_registry
    from maskbench.metrics.i3d import MIN_FRAMES

    local_device(config.device)
    check_weights(config.model or DEFAULT_MODEL)
    frames = config.frames or card["frames"]
    if card.get("max_frames") and frames > card["max_frames"]:
        raise MaskbenchError(f"--frames {frames} exceeds the model's trained window of {card['max_frames']} frames")
    for factor in config.factors:
        plan = RolloutPlan.from_extrapolation(frames, config.context or card["context"], config.stride or card["stride"], factor)
        if config.fvd and plan.length < MIN_FRAMES:
            raise MaskbenchError(f"FVD's I3D needs videos of at least {MIN_FRAMES} frames, {factor}x gives "
                                 f"{plan.length}; raise --extrap or pass --no-fvd")
        if config.fvd:
            from maskbench.metrics.protocols import check_protocol

            check_protocol(config.fvd_protocol, plan.length)
    lookup(tokenizer_registry(), config.tokenizer or card.get("tokenizer", "vizdoom-vq"), "tokenizer")
    if config.fvd:
        from maskbench.metrics.i3d import checkpoint_path

        checkpoint_path()
