"""Named experiment grids (``benchmarks/experiments/*.yaml``): variants of one benchmark, one folder each.

A grid file::

    name: table2                          # optional; the file's stem otherwise
    description: MGM full-sequence against autoregressive sampling
    defaults: {samplers: [mgm], factors: [2, 5], videos: 256}
    variants:
      full-sequence: {}                   # the model card's k, m, s
      autoregressive: {context: 15, stride: 1}

Every key of ``defaults`` and of a variant is a :class:`RunConfig` field except ``out`` (``samplers`` a
list of names), or ``options``, a mapping ``sampler.option: value`` (``--opt`` of ``maskbench run``),
merged key by key; values are typed by :mod:`maskbench.core.config`. Variant ``v`` runs into ``<out>/v``
through ``run_benchmark``, so a rerun skips the cells it finished, and a cell
already measured with the identical key by any grid beside it (``<out>/../*/*/results.jsonl``: Table 3's
frame-level MGM at 1x is Table 4's and Figure 4's) is copied instead of sampled again. After the
variants ran, ``<out>/paired.jsonl`` holds the paired differences between variants whose cells of one
sampler and factor saw the same contexts and seeds (:mod:`maskbench.bench.grid_pairs`). Relative
paths (``model``, ``data``, ``tokenizer_path``) are taken from the current folder, else from the
project root.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from maskbench.core.config import field_types, typed_fields
from maskbench.core.distributed import world
from maskbench.core.errors import MaskbenchError
from maskbench.bench.config import DEFAULT_SAMPLERS, RunConfig, sampler_options

PROJECT_ROOT = Path(__file__).resolve().parents[2]
GRID_KEYS = ("name", "description", "defaults", "variants")
PATH_FIELDS = ("model", "data", "tokenizer_path")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def resolve_path(text: str) -> str:
    """A relative path as given if it exists from here, else from the project root if it exists there."""
    path = Path(text).expanduser()
    if path.is_absolute() or path.exists() or not (PROJECT_ROOT / path).exists():
        return str(path)
    return str(PROJECT_ROOT / path)


def variant_fields() -> dict[str, Any]:
    """Key -> type a grid may set: RunConfig's fields (``out`` belongs to the runner), ``samplers`` as a list of
    names, and ``options``, ``sampler.option`` -> value."""
    fields = {name: hint for name, hint in field_types(RunConfig).items() if name != "out"}
    return {**fields, "samplers": tuple[str, ...], "options": dict}


@dataclass(frozen=True)
class Variant:
    """One run of a grid: ``settings`` are RunConfig fields, grid defaults already merged in."""

    name: str
    settings: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not NAME.match(self.name):
            raise MaskbenchError(f"variant name {self.name!r} must be letters, digits, '.', '_' or '-' (a folder name)")
        where = f"variant {self.name!r}"
        settings = dict(self.settings)
        if "options" in settings:
            settings["options"] = _options_map(settings["options"], where)
        if settings.get("split") == "all":
            settings["split"] = None  # RunConfig keeps --split all as None
        typed = typed_fields(RunConfig, settings, f"{where}: ", variant_fields())
        typed.update({key: resolve_path(typed[key]) for key in PATH_FIELDS if typed.get(key) is not None})
        object.__setattr__(self, "settings", typed)

    def config(self, out: Path, **overrides: Any) -> RunConfig:
        """The variant's RunConfig, writing into ``out / name``; ``overrides`` of ``None`` are ignored."""
        given = {key: value for key, value in overrides.items() if value is not None}
        settings = {key: value for key, value in self.settings.items() if key not in ("samplers", "options")}
        samplers = sampler_options(self.settings.get("samplers", DEFAULT_SAMPLERS), self.settings.get("options", {}))
        return RunConfig(**{**settings, **given, "samplers": samplers, "out": str(Path(out) / self.name)})


@dataclass(frozen=True)
class Grid:
    """A named list of variants run one after another into ``<out>/<variant>/``."""

    name: str
    variants: tuple[Variant, ...]
    description: str = ""
    path: Path | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not NAME.match(self.name):
            raise MaskbenchError(f"grid name {self.name!r} must be letters, digits, '.', '_' or '-' (a folder name)")
        if not self.variants:
            raise MaskbenchError(f"grid {self.name!r} has no variants; add at least one under 'variants:'")
        names = [v.name for v in self.variants]
        if len(set(names)) != len(names):
            raise MaskbenchError(f"grid {self.name!r} names a variant twice: {names}")
        for variant in self.variants:
            variant.config(Path("runs"))  # RunConfig's own checks, before any work

    def size(self, variant: str) -> tuple[int, tuple[int, ...]]:
        """``(videos, factors)`` the grid file gives ``variant`` (before any command-line override)."""
        config = next(v for v in self.variants if v.name == variant).config(Path("runs"))
        return config.videos, tuple(config.factors)

    @property
    def default_out(self) -> Path:
        return Path("runs") / "experiments" / self.name

    def configs(self, out: str | Path | None = None, only: tuple[str, ...] = (), samplers: tuple[str, ...] = (),
                factors: tuple[int, ...] = (), **overrides: Any) -> list[tuple[str, RunConfig]]:
        """``(variant, RunConfig)`` of the chosen variants (all when ``only`` is empty), CLI overrides applied.

        ``samplers`` / ``factors`` (when given) keep only those of each variant's cells; a variant left
        with none is dropped.
        """
        names = [v.name for v in self.variants]
        missing = [name for name in only if name not in names]
        if missing:
            raise MaskbenchError(f"grid {self.name!r} has no variant {', '.join(missing)}; "
                                 f"variants: {', '.join(names)}")
        chosen = [v for v in self.variants if not only or v.name in only]
        runs = [(v.name, v.config(Path(out or self.default_out), **overrides)) for v in chosen]
        runs = [(name, _only_cells(config, samplers, factors)) for name, config in runs]
        kept = [(name, config) for name, config in runs if config is not None]
        if not kept:
            raise MaskbenchError(f"grid {self.name!r}: no variant has a cell with samplers "
                                 f"{','.join(samplers) or 'any'} at factors {','.join(map(str, factors)) or 'any'}")
        return kept


def load_grid(path: str | Path) -> Grid:
    """Read and validate a grid file; every problem is a one-line :class:`MaskbenchError`."""
    data = _read_yaml(Path(path))
    unknown = sorted(set(data) - set(GRID_KEYS))
    if unknown:
        raise MaskbenchError(f"{path}: unknown key(s) {', '.join(unknown)}; a grid has {', '.join(GRID_KEYS)}")
    defaults, variants = _mapping(path, data, "defaults"), _mapping(path, data, "variants")
    try:
        built = tuple(Variant(str(name), _merge(defaults, own or {}, f"variant {name!r}"))
                      for name, own in variants.items())
        return Grid(str(data.get("name") or Path(path).stem), built, str(data.get("description") or ""), Path(path))
    except MaskbenchError as error:
        raise MaskbenchError(f"{path}: {error}") from None


def _only_cells(config: RunConfig, samplers: tuple[str, ...], factors: tuple[int, ...]) -> RunConfig | None:
    keep_samplers = {name: options for name, options in config.samplers.items() if not samplers or name in samplers}
    keep_factors = tuple(f for f in config.factors if not factors or f in factors)
    if not keep_samplers or not keep_factors:
        return None
    return dataclasses.replace(config, samplers=keep_samplers, factors=keep_factors)


def measured_cells(out: Path) -> list[Path]:
    """Every results file of every grid beside ``out`` (``<out>/../*/*/results.jsonl``): cells to reuse."""
    return sorted(Path(out).parent.parent.glob("*/*/results.jsonl"))


def run_grid(grid: Grid, runs: list[tuple[str, RunConfig]]) -> list[Path]:
    """Run each variant with ``run_benchmark``; models and every other prerequisite are all checked first (samplers
    and options already were, by each RunConfig). Then (rank 0) the paired differences between variants,
    ``<out>/paired.jsonl`` (:mod:`maskbench.bench.grid_pairs`)."""
    from maskbench.bench import run

    for name, config in runs:
        _check_model(grid, name, config, [n for n, _ in runs if n != name])
        _preflight(config)  # every variant's prerequisites before the first one runs
    outs = []
    for index, (name, config) in enumerate(runs, start=1):
        if world()[0] == 0:  # one line per variant under torchrun / deepspeed, not one per rank
            print(f"maskbench: {grid.name} variant {name} ({index}/{len(runs)}) -> {config.out}", flush=True)
        outs.append(run.run_benchmark(config, reuse=measured_cells(Path(config.out)), estimate_for=grid.size(name)))
    if runs and world()[0] == 0:
        _grid_pairs(grid, Path(runs[0][1].out).parent)
        _say_grid_estimate(grid, outs)
    return outs


def _say_grid_estimate(grid: Grid, outs: list[Path]) -> None:
    """The sum of the variants' ``estimate.json`` (each at the grid's own size, for the samplers it ran)."""
    import json

    from maskbench.bench.estimate import human

    estimates = [json.loads((out / "estimate.json").read_text()) for out in outs if (out / "estimate.json").is_file()]
    if estimates:
        total = sum(e["total_s"] for e in estimates)
        print(f"maskbench: {grid.name} at its own size, summed over the {len(estimates)} variant(s) run, would take "
              f"about {human(total)} here (each variant's line above says which samplers it covers)", flush=True)


def _grid_pairs(grid: Grid, root: Path) -> None:
    """``<root>/paired.jsonl``: the paired differences between the grid's variants (each one with a folder under
    ``root``, also those not run this time), printed."""
    from maskbench.bench.grid_pairs import grid_pair_rows, grid_sentence

    rows = grid_pair_rows(root, [v.name for v in grid.variants])
    if rows:
        print(f"maskbench: {grid.name} paired differences between variants (same contexts and seeds):", flush=True)
    for row in rows:
        print(f"  {grid_sentence(row)}", flush=True)


def _preflight(config: RunConfig) -> None:
    """What ``maskbench run`` checks before any work: data, model card and weights, geometry, I3D."""
    from maskbench.bench import preflight

    if config.data:  # RunConfig keeps --split all as None
        preflight.check_data(config.data, config.split or "all")
    card = preflight.check_model(config.model or preflight.DEFAULT_MODEL, config.tokenizer)
    preflight.check_before_loading(config, card)


def _check_model(grid: Grid, name: str, config: RunConfig, others: list[str]) -> None:
    if config.model is None or Path(config.model).is_dir():
        return
    hint = f", or run the others with --variants {','.join(others)}" if others else ""
    raise MaskbenchError(f"{grid.name} variant {name!r} needs the model {config.model}, which does not exist yet; "
                         f"train it first{hint}")


def _read_yaml(path: Path) -> dict:
    import yaml

    if not path.is_file():
        raise MaskbenchError(f"grid file {path} does not exist; see benchmarks/experiments/ for the shipped grids")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise MaskbenchError(f"{path} is not valid YAML{where}: {getattr(error, 'problem', None) or error}") from None
    if not isinstance(data, dict):
        raise MaskbenchError(f"{path}: a grid file is a mapping with keys {', '.join(GRID_KEYS)}")
    return data


def _mapping(path, data: dict, key: str) -> dict:
    value = data.get(key) or {}
    if not isinstance(value, dict):
        raise MaskbenchError(f"{path}: '{key}' must be a mapping, got {type(value).__name__}")
    return value


def _merge(defaults: dict, own: dict, where: str) -> dict:
    if not isinstance(own, dict):
        raise MaskbenchError(f"{where} must be a mapping of RunConfig fields, got {own!r}")
    merged = {**defaults, **own}
    if "options" in defaults and "options" in own:
        merged["options"] = {**_options_map(defaults["options"], where), **_options_map(own["options"], where)}
    return merged


def _options_map(value: Any, where: str) -> dict:
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, list) and all(isinstance(v, str) and "=" in v for v in value):
        return dict(v.split("=", 1) for v in value)
    raise MaskbenchError(f"{where}: options must map sampler.option to a value, e.g. {{mgm.steps: 20}}")
