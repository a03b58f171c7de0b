"""Typed configuration of ``maskbench run`` (validated before any work starts), and the one place samplers are built."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from maskbench.core.config import count, device_name, int_list, positive_int, setting
from maskbench.core.errors import MaskbenchError
from maskbench.metrics.protocols import PROTOCOL_HELP

#: ``--samplers`` of ``maskbench run`` and ``maskbench nfe`` when not given: the paper's four.
DEFAULT_SAMPLERS = ("mgm", "fm", "df", "rdm")


@dataclass(frozen=True)
class RunConfig:
    """One benchmark run: samplers x extrapolation factors on one model and data set.

    ``samplers`` maps each sampler's registry name to the options the user set for it, typed
    (``{"mgm": {"steps": 10}, "fm": {}}``; a plain sequence of names sets none); every other option
    takes the sampler's default, ``schedule`` the model card's (:func:`build_samplers`). Names,
    options and their combinations are checked here, before any work. ``frames``/``context``/``stride``
    of ``None`` take the model card's training values.
    """

    samplers: Mapping[str, Mapping[str, Any]] = setting(
        default_factory=lambda: {name: {} for name in DEFAULT_SAMPLERS},
        help="registry name -> the options set for it, typed, in the order the cells run")
    factors: tuple[int, ...] = setting((2,), "extrapolation factors, comma-separated, L = x * k",
                                       cli=dict(flag="--extrap", type=int_list))
    model: str | None = setting(None, "trained model folder (default: the shipped frame-level ViZDoom model)")
    tokenizer: str | None = setting(None, "registered tokenizer name, e.g. vizdoom-vq or vqgan (default: the model's)")
    tokenizer_path: str | None = setting(None, "weights folder for the tokenizer (default: its shipped weights; "
                                               "SD-VQGAN: a diffusers-format folder)")
    data: str | None = setting(None, "videos: our shard folder, a folder of video files or of frame folders "
                                     "(default: the embedded ViZDoom test split, 625 videos rendered into "
                                     "$MASKBENCH_DATA or ~/.cache/maskbench/vizdoom on first use, about 2 min, 2.2 GB)")
    split: str | None = setting("test", "split of data: train or test (None: every video)", cli=dict(
        default=None, help="split of --data: train, test or all (default test; the embedded set: test only)"))
    videos: int = setting(4, "videos per cell", cli=dict(
        default=None, type=positive_int, help="videos per cell (paper: 625 DMLab / 704 FFS; default 256 on CUDA, "
        "4 on CPU: about 6 minutes on a 2-core CPU, FVD biased); FVD needs at least 2"))
    frames: int | None = setting(None, "window k (default: the model's training window)", cli=dict(type=positive_int))
    context: int | None = setting(None, "context frames m (default: the model card's)", cli=dict(type=positive_int))
    stride: int | None = setting(None, "stride s <= k - m (default: the model card's)", cli=dict(type=positive_int))
    seed: int = setting(0, "seed of the contexts and of every sampler's draws", cli=dict(type=count))
    time_independent: bool = setting(False, "every sampler passes t = 0 to the model (paper eq. 8), unless its "
                                            "options say otherwise")
    device: str = setting("auto", "auto, cpu, cuda, cuda:1, ... (default auto: this rank's GPU if any, else the CPU)",
                          cli=dict(type=device_name))
    out: str = setting("runs/latest", "output folder; rerunning into it skips finished cells")
    batch_size: int | None = setting(None, "videos sampled together (default 8 on CPU, 32 on CUDA)",
                                     cli=dict(type=positive_int))
    fvd: bool = setting(True, "score FVD (off: NFE and timing only)",
                        cli=dict(help="skip FVD (NFE and timing only; default: FVD on)"))
    samples: int = setting(4, "videos per cell kept for the grids", cli=dict(type=count))
    fvd_protocol: str = setting("full", PROTOCOL_HELP)

    def __post_init__(self) -> None:
        object.__setattr__(self, "samplers", named_options(self.samplers))
        if not self.factors or any(f < 1 for f in self.factors):
            raise MaskbenchError(f"extrapolation factors must be integers >= 1, got {self.factors}")
        if self.videos < 1:
            raise MaskbenchError(f"--videos must be at least 1, got {self.videos}")
        if self.fvd and self.videos < 2:
            raise MaskbenchError("FVD needs at least 2 videos; raise --videos or pass --no-fvd")
        from maskbench.metrics.protocols import check_protocol

        check_protocol(self.fvd_protocol)
        if self.batch_size is not None and self.batch_size < 1:
            raise MaskbenchError(f"--batch-size must be at least 1, got {self.batch_size}")
        build_samplers(self)  # names, options and their combinations, before any work


def named_options(samplers: Mapping[str, Mapping[str, Any]] | Sequence[str]) -> dict[str, dict[str, Any]]:
    """``samplers`` of a config as a plain ``{name: {option: value}}`` (a sequence of names sets no option)."""
    if isinstance(samplers, str) or not isinstance(samplers, (Mapping, Sequence)):
        raise MaskbenchError(f"samplers must map sampler names to their options, got {samplers!r}")
    named = samplers.items() if isinstance(samplers, Mapping) else ((name, {}) for name in samplers)
    result = {str(name): dict(options or {}) for name, options in named}
    if not result:
        raise MaskbenchError(f"no sampler given; pass --samplers {','.join(DEFAULT_SAMPLERS)}")
    return result


def sampler_options(names: Iterable[str], pairs: Iterable[str] | Mapping[str, Any] = ()) -> dict[str, dict[str, Any]]:
    """``RunConfig.samplers`` from sampler names and ``SAMPLER.OPTION=VALUE`` settings, every value typed.

    Args:
        names: registry names; an unknown one fails first, listing the registered ones.
        pairs: ``--opt`` texts (``"mgm.steps=10"``), or a grid's mapping (``{"mgm.steps": 10}``, values
            as YAML typed them).
    """
    from maskbench.samplers import get_sampler, parse_option

    options: dict[str, dict[str, Any]] = {name: {} for name in names}
    classes = {name: get_sampler(name) for name in options}
    items = pairs.items() if isinstance(pairs, Mapping) else (_split_pair(pair) for pair in pairs)
    for key, value in items:
        sampler, dot, option = str(key).partition(".")
        pair = f"{key}={value}"
        if not dot:
            raise MaskbenchError(f"--opt expects SAMPLER.OPTION=VALUE, got {pair!r}")
        if sampler not in options:
            raise MaskbenchError(f"--opt {pair!r} names sampler {sampler!r}, which is not in --samplers")
        options[sampler][option] = parse_option(classes[sampler].Options, option, value, prefix=f"{sampler}.")
    return options


def _split_pair(pair: str) -> tuple[str, str]:
    key, sep, value = pair.partition("=")
    if not sep:
        raise MaskbenchError(f"--opt expects SAMPLER.OPTION=VALUE, got {pair!r}")
    return key, value


def build_samplers(config: RunConfig, card: Any = None) -> dict:
    """Every sampler of ``config`` (a :class:`RunConfig`, or any config with ``samplers`` and
    ``time_independent``: ``NFEConfig``), built once and never changed after: name -> ``Sampler``.

    Each option is, in this order of precedence, the one ``config.samplers`` sets, else the model card's
    (``schedule``, the schedule the model was trained with; ``card`` ``None``: none), else
    ``time_independent=True`` under ``config.time_independent``, else the sampler's default.
    """
    from maskbench.samplers import get_sampler, option_fields

    built = {}
    for name, explicit in config.samplers.items():
        cls = get_sampler(name)
        defaults: dict[str, Any] = {"time_independent": True} if config.time_independent else {}
        if card is not None and "schedule" in option_fields(cls.Options):
            defaults["schedule"] = card.schedule
        built[name] = cls(**{**defaults, **explicit})
    return built
