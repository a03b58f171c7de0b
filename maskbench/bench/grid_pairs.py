"""Paired differences across the variants of one experiment grid: ``<runs>/<grid>/paired.jsonl``.

Cells of one sampler at one factor in two variants with equal ``pairing`` (and protocol) rolled out
the same contexts with the same seeds; only what the variants change (model, options, geometry)
differs. So video ``i`` of one is paired with video ``i`` of the other, and
:func:`maskbench.report.paired.paired_row` gives their difference with a paired interval. Rows have the
fields of a run's ``paired.jsonl`` plus ``variant_a`` and ``variant_b`` (``a`` and ``b`` are both the
sampler); each is computed once and kept under its two cell keys.

Inputs, from each variant's folder: ``results.jsonl``, ``features/<cell key>.npy`` (generated) and
``features/<paired.real_file(record)>`` (the real side the cell was scored against). A pair lacking
any of these is left out.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from maskbench.report.paired import FEATURES, FILE, paired_row, read_rows, real_file, sentence
from maskbench.report.record import CellRecord
from maskbench.bench.store import ResultStore


def variant_cells(folder: Path) -> list[CellRecord]:
    """A variant's cells that can be paired: with FVD and a ``pairing`` id, one per key, in the file's order."""
    cells = {}
    for record in ResultStore(folder / "results.jsonl").records:
        if record.fvd is not None and record.pairing is not None:
            cells.setdefault(record.key, record)
    return list(cells.values())


def cross_pairs(cells: dict[str, list[CellRecord]]) -> list[tuple[str, CellRecord, str, CellRecord]]:
    """``(variant_a, a, variant_b, b)``: every two cells of two variants with equal sampler, factor, ``pairing``
    and protocol (``cells``: variant -> its cells, in the grid's order; ``a`` from the earlier variant).
    Ordered by factor, then sampler as first met; a cell copied into both variants (one key) is not a pair."""
    names = list(cells)
    everything = [(name, record) for name in names for record in cells[name]]
    samplers = list(dict.fromkeys(record.sampler for _, record in everything))
    result = []
    for i, (va, a) in enumerate(everything):
        for vb, b in everything[i + 1:]:
            if names.index(va) < names.index(vb) and _pairable(a, b):
                result.append((va, a, vb, b))
    return sorted(result, key=lambda p: (p[1].extrap, samplers.index(p[1].sampler)))


def _pairable(a: CellRecord, b: CellRecord) -> bool:
    same = (a.sampler, a.extrap, a.pairing, a.fvd_protocol) == (b.sampler, b.extrap, b.pairing, b.fvd_protocol)
    return same and a.key != b.key


def grid_pair_rows(root: str | Path, variants: list[str]) -> list[dict]:
    """Rows of ``<root>/paired.jsonl`` for every cross-variant pair, computing only those the file lacks.

    Args:
        root: the grid's run folder, holding one folder per variant.
        variants: variant names in the grid's order (``variant_a`` is the earlier one); missing folders
            are skipped.

    Returns:
        the rows, also written to ``<root>/paired.jsonl`` (nothing is written when there are none).
    """
    root = Path(root)
    cells = {name: variant_cells(root / name) for name in variants if (root / name / "results.jsonl").is_file()}
    known = {(r["key_a"], r["key_b"]): r for r in read_rows(root / FILE)}
    rows = []
    for va, a, vb, b in cross_pairs(cells):
        row = known.get((a.key, b.key)) or _computed(root, va, a, vb, b)
        if row is not None:
            rows.append(row)
    if rows:
        (root / FILE).write_text("".join(json.dumps(r) + "\n" for r in rows))
    return rows


def _computed(root: Path, va: str, a: CellRecord, vb: str, b: CellRecord) -> dict | None:
    fa, fb = (_load(root / v / FEATURES / f"{r.key}.npy") for v, r in ((va, a), (vb, b)))
    real = _load(root / va / FEATURES / real_file(a))
    real = real if real is not None else _load(root / vb / FEATURES / real_file(b))
    if fa is None or fb is None or real is None or fa.shape != fb.shape:
        return None
    return {**paired_row(a, b, real, fa, fb, seed=a.seed), "variant_a": va, "variant_b": vb}


def _load(path: Path) -> np.ndarray | None:
    return np.load(path) if path.is_file() else None


def grid_sentence(row: dict) -> str:
    """``mgm (full-sequence) - mgm (autoregressive) at 2x (256 paired videos): FVD ...``."""
    return sentence({**row, "a": f"{row['a']} ({row['variant_a']})", "b": f"{row['b']} ({row['variant_b']})"})
