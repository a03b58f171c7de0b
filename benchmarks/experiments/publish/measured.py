"""Our measurements, read from a results tree ``<root>/<grid>/<variant>/{results.jsonl,run.json}``.

A row is one cell (variant, sampler, extrapolation): its :class:`CellRecord` with the record's own fields,
plus the facts of its run (``run.json``: model card, machine) and the settings the paper's tables are
keyed by (mode, masking, steps, time dependence) derived from them. Paired rows (``paired.jsonl`` of a
variant and of a grid) are read as written. When a variant folder holds several records of one cell
(reruns with other ``--videos``, or of another model or sampler revision), the row is a current one
(:mod:`publish.current`), then one with an FVD, then the one with the most videos, then the latest.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from pathlib import Path

from maskbench.bench.store import ResultStore
from maskbench.core.provenance import invocation_for, read_history
from maskbench.report.paired import FILE as PAIRED, read_rows
from maskbench.report.record import CellRecord
from maskbench.samplers.base import Sampler

from publish.current import stale, train_steps


@dataclass(frozen=True, kw_only=True)
class MeasuredCell(CellRecord):
    """A cell's record with what its variant's ``run.json`` says about the run, and the paper's settings.

    Attributes:
        variant: the variant folder's name.
        mode: ``full-sequence``, ``autoregressive`` or ``stride <s>`` (paper Table 2).
        steps: the sampler's ``steps`` option (``None`` for a sampler without one).
        time_independent: t = 0 given to the model (the flag, or MGM's ``time=zeros``).
        model_time_dependent: the model was trained with per-frame t.
        masking, tokenizer: the model card's training masking and tokenizer name.
        model: the run's ``--model`` (``shipped default`` without one).
        device, threads, cores: the machine the run sampled on.
        processor: its GPU's name on CUDA, else its CPU model (``None`` for runs before it was recorded).
        train_steps, train_loss: the model's training length and final masked cross-entropy.
    """

    variant: str
    mode: str
    steps: int | None
    time_independent: bool | None
    model_time_dependent: bool
    masking: str | None
    model: str
    device: str | None
    threads: int | None
    cores: int | None
    processor: str | None
    train_steps: int | None
    train_loss: float | None
    tokenizer: str | None


def load_grids(root: str | Path) -> dict[str, list[MeasuredCell]]:
    """Grid name -> its rows, for every grid folder under ``root`` that holds results."""
    root = Path(root)
    grids = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
        variants = sorted((p for p in folder.iterdir() if p.is_dir()), key=lambda p: natural_key(p.name))
        rows = [row for variant in variants for row in variant_rows(variant)]
        if rows:
            grids[folder.name] = rows
    floors = known_floors([row for rows in grids.values() for row in rows])
    return {name: [fill_floor(row, floors) for row in rows] for name, rows in grids.items()}


def load_paired(root: str | Path) -> dict[str, list[dict]]:
    """Grid name -> its paired rows: each variant's ``paired.jsonl`` (pairs of samplers, marked with ``variant``)
    and the grid's (pairs of variants, with ``variant_a`` and ``variant_b``)."""
    root = Path(root)
    paired = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
        variants = sorted((p for p in folder.iterdir() if p.is_dir()), key=lambda p: natural_key(p.name))
        rows = [{**row, "variant": v.name} for v in variants for row in read_rows(v / PAIRED)]
        rows += read_rows(folder / PAIRED)
        if rows:
            paired[folder.name] = rows
    return paired


def natural_key(name: str) -> list:
    """Sort key reading digit runs as numbers: ``mgm-5`` before ``mgm-10`` before ``mgm-100``."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", name)]


def known_floors(rows: list[CellRecord]) -> dict[tuple, float]:
    """The real-vs-real FVD of every (length, count, real count, seed) some row recorded."""
    return {_floor_key(r): r.fvd_real_vs_real for r in rows if r.fvd_real_vs_real is not None}


def fill_floor(row: MeasuredCell, floors: dict[tuple, float]) -> MeasuredCell:
    """A row measured before the real-vs-real FVD was recorded, with the floor of its length, count and seed.

    The floor depends on nothing else (the same two real sets), so any row that has it speaks for all.
    """
    if row.fvd_real_vs_real is None and row.fvd is not None and _floor_key(row) in floors:
        return dataclasses.replace(row, fvd_real_vs_real=floors[_floor_key(row)])
    return row


def _floor_key(row: CellRecord) -> tuple:
    return row.length, row.n_fake, row.n_real, row.seed


def variant_rows(folder: Path) -> list[MeasuredCell]:
    """The rows of one variant folder (empty when it has no ``results.jsonl``)."""
    path = folder / "results.jsonl"
    if not path.is_file():
        return []
    runs = read_history(folder)  # a cell's facts are those of the invocation that measured it
    rows = [measured_cell(folder.name, record, invocation_for(runs, record.finished, copied=record.reused_from is not None))
            for record in ResultStore(path).records]
    order = {name: i for i, name in enumerate(dict.fromkeys(r.sampler for r in rows))}  # the run's order
    best: dict[tuple, MeasuredCell] = {}
    for row in rows:
        key = (row.sampler, row.extrap, json.dumps(row.options, sort_keys=True), row.context, row.stride)
        if key not in best or _rank(row) > _rank(best[key]):
            best[key] = row
    return sorted(best.values(), key=lambda r: (order[r.sampler], r.extrap))


def _rank(row: MeasuredCell) -> tuple:
    return not stale(row), row.fvd is not None, row.n_fake, row.finished


def measured_cell(variant: str, record: CellRecord, run: dict) -> MeasuredCell:
    """``record`` with the facts of its run (``run``: the variant's ``run.json``, empty when there is none).

    A record from before the tokenizer identity was recorded gets its model card's (``prepare`` refuses
    any other tokenizer than the card's).
    """
    card, machine = run.get("model_card", {}), run.get("machine", {})
    fields = {f.name: getattr(record, f.name) for f in dataclasses.fields(CellRecord)}
    if record.tokenizer_identity is None:
        fields["tokenizer_identity"] = card.get("tokenizer_identity")
    return MeasuredCell(
        **fields, variant=variant, mode=_mode(record), steps=record.options.get("steps"),
        time_independent=_time_independent(record.options), model_time_dependent=_model_time_dependent(card),
        masking=card.get("masking"), model=run.get("config", {}).get("model") or "shipped default",
        device=machine.get("device"), threads=machine.get("torch_threads"), cores=machine.get("cpu_count"),
        processor=machine.get("gpu") or machine.get("cpu_model"),
        train_steps=train_steps(card.get("extra", {})), train_loss=train_loss(card.get("extra", {})),
        tokenizer=card.get("tokenizer"))


def train_loss(extra: dict) -> float | None:
    """Mean masked cross-entropy of the last 100 training steps: ``ce_mean_last_100_steps`` where training
    weighted its loss (SNR weighting: ``loss`` is then not the cross-entropy), else the loss, which was it."""
    return extra.get("ce_mean_last_100_steps", extra.get("loss_mean_last_100_steps"))


def _mode(record: CellRecord) -> str:
    if record.rollout != Sampler.rollout:
        return "full-sequence"  # the sampler rolls out its own way (RDM: one rolling window): the stride does not apply
    if record.stride == 1:
        return "autoregressive"  # m = k - 1 makes s = 1 = k - m too: one new frame per window is what counts
    return "full-sequence" if record.stride == record.frames - record.context else f"stride {record.stride}"


def _model_time_dependent(card: dict) -> bool:
    """Whether the model was trained with per-frame t: its card's recipe (``time_conditioning``); models
    exported before the recipe was recorded were all conditioned on t."""
    return bool(card.get("extra", {}).get("recipe", {}).get("time_conditioning", True))


def _time_independent(options: dict) -> bool | None:
    """t = 0 for every frame: the flag, or MGM's ``time=zeros`` (its default from revision 3); ``None`` for a
    sampler with neither option."""
    flag = options.get("time_independent")
    return True if flag or options.get("time") == "zeros" else flag
