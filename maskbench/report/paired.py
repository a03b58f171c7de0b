"""Paired differences between the samplers of one run: ``paired.jsonl``, ``paired.csv`` and their sentences.

Samplers of one run roll out the same contexts with the same seeds, so video ``i`` of one cell is
paired with video ``i`` of another at the same factor; :func:`maskbench.metrics.stats.paired_difference`
resamples the pairs jointly. A pair is computed once and kept in ``paired.jsonl`` under its two cell
keys (a rerun that adds cells computes only the new pairs, and one that asks for the samplers in another
order turns the kept rows round instead of computing them again).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from maskbench.metrics.stats import interval_text, paired_difference, videos_needed
from maskbench.report.record import CellRecord

FILE = "paired.jsonl"
#: Below this many paired videos a difference is never called resolved: with no true difference the
#: bootstrap interval excluded 0 in 10-15% of trials at 4-8 videos against the nominal 5%
#: (benchmarks/experiments/paired_calibration.py; docs/fidelity.md has the measured rates).
MIN_PAIRED_VIDEOS = 32
#: A videos-needed estimate above this multiple of the videos measured is shown as "more than" that
#: multiple: it extrapolates a difference near zero over orders of magnitude, and its digits mean nothing.
FAR = 100
FEATURES = "features"  # <run>/features/<cell key>.npy (generated), real-<pairing>-<protocol>.npy (real side)


def pairs(records: list[CellRecord], order: list[str]) -> list[tuple[CellRecord, CellRecord]]:
    """Every pair of cells at one factor, both with FVD and the same inputs (``pairing``), in the order the
    samplers were asked for."""
    rank = {name: i for i, name in enumerate(order)}
    done = [r for r in records if r.fvd is not None]
    result = []
    for factor in sorted({r.extrap for r in done}):
        cells = sorted((r for r in done if r.extrap == factor), key=lambda r: rank.get(r.sampler, len(rank)))
        result += [(a, b) for a, b in itertools.combinations(cells, 2) if a.pairing == b.pairing]
    return result


def paired_rows(records: list[CellRecord], order: list[str], features: Callable[[CellRecord], np.ndarray | None],
                real: Callable[[CellRecord], np.ndarray | None], path: Path, seed: int = 0) -> list[dict]:
    """Rows of ``paired.jsonl`` for every pair of ``records``, computing the ones ``path`` lacks.

    Args:
        records: the run's cells.
        order: sampler names as asked for (``a`` of a pair is the earlier one).
        features: a cell's generated features ``[N, D]``, or ``None`` when they were not kept.
        real: the real features a cell was scored against (``None`` when they were not kept: no row).
        path: ``paired.jsonl``, read for rows already computed and rewritten with all rows.
        seed: of the bootstrap.
    """
    known = {(r["key_a"], r["key_b"]): r for r in read_rows(path)}
    rows = []
    for a, b in pairs(records, order):
        row = known.get((a.key, b.key))
        if row is None and (b.key, a.key) in known:  # asked the other way round: the same pair, turned
            row = turned(known[b.key, a.key])
        if row is None:
            fa, fb, ra = features(a), features(b), real(a)
            if fa is None or fb is None or ra is None or fa.shape != fb.shape:
                continue
            row = paired_row(a, b, ra, fa, fb, seed=seed)
        rows.append(row)
    if rows:
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return rows


def turned(row: dict) -> dict:
    """``b - a`` from ``a - b``: differences and interval ends negated and swapped; verdicts unchanged."""
    other = {**row, "a": row["b"], "b": row["a"], "key_a": row["key_b"], "key_b": row["key_a"]}
    if "variant_a" in row:
        other.update(variant_a=row["variant_b"], variant_b=row["variant_a"])
    for name in ("fvd", "kvd"):
        low, high = row[f"{name}_low"], row[f"{name}_high"]
        other.update({f"{name}_diff": -row[f"{name}_diff"], f"{name}_low": None if high is None else -high,
                      f"{name}_high": None if low is None else -low})
    return other


def _row(a: CellRecord, b: CellRecord, diff) -> dict:
    fields = dict(extrap=a.extrap, a=a.sampler, b=b.sampler, key_a=a.key, key_b=b.key, n=diff.n,
                  n_real=diff.n_real, fvd_protocol=a.fvd_protocol, ci_level=diff.level, ci_method=diff.method,
                  ci_resamples=diff.resamples)
    for name, estimate in (("fvd", diff.fvd), ("kvd", diff.kvd)):
        resolved = bool(estimate.excludes_zero) and diff.n >= MIN_PAIRED_VIDEOS
        needed = videos_needed(estimate, diff.n)
        fields.update({f"{name}_diff": estimate.value, f"{name}_low": _finite(estimate.low),
                       f"{name}_high": _finite(estimate.high), f"{name}_resolved": resolved,
                       f"{name}_videos_needed": None if needed is None else max(MIN_PAIRED_VIDEOS, needed)})
    return fields


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def read_rows(path: Path) -> list[dict]:
    """The rows of a ``paired.jsonl`` (empty when there is none)."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.is_file() else []


def sentence(row: dict) -> str:
    """``mgm - fm at 2x (64 paired videos): FVD -12.3 [-40.1, 15.2], not resolved (about 900 videos ...); KVD ...``."""
    head = f"{row['a']} - {row['b']} at {row['extrap']}x ({row['n']} paired videos): "
    if row["n"] < MIN_PAIRED_VIDEOS:  # one reason for both
        return head + f"FVD {_difference(row, 'fvd', 1)}; KVD {_difference(row, 'kvd', 2)}; {verdict(row, 'fvd')}"
    parts = [f"{name.upper()} {_difference(row, name, digits)}, {verdict(row, name)}" for name, digits in (("fvd", 1), ("kvd", 2))]
    return head + "; ".join(parts)


def verdict(row: dict, name: str) -> str:
    """``resolved``, ``not resolved`` or ``not resolved (about N videos per cell would resolve it, ...)`` for
    ``name`` (``fvd`` or ``kvd``) of a paired row."""
    if row[f"{name}_resolved"]:
        return "resolved"
    if row["n"] < MIN_PAIRED_VIDEOS:
        return f"not resolved (fewer than {MIN_PAIRED_VIDEOS} paired videos: too few for a reliable interval)"
    needed = row[f"{name}_videos_needed"]
    if row[f"{name}_low"] is None or needed is None:
        return "not resolved"
    if needed > FAR * row["n"]:
        return f"not resolved (near zero: more than {FAR * row['n']} videos per cell would be needed, if it held)"
    return f"not resolved (about {needed} videos per cell would resolve it, if the difference held)"


def _difference(row: dict, name: str, digits: int) -> str:
    return f"{row[f'{name}_diff']:+.{digits}f} {interval_text(row[f'{name}_low'], row[f'{name}_high'], digits)}"


def difference_text(row: dict, name: str, digits: int) -> str:
    """A table cell: ``+12.30 [-3.10, 27.70] needs ~900`` or ``+40.10 [22.00, 58.20] resolved``."""
    if row[f"{name}_resolved"]:
        return f"{_difference(row, name, digits)} resolved"
    if row["n"] < MIN_PAIRED_VIDEOS:
        return f"{_difference(row, name, digits)} too few videos"
    needed = row[f"{name}_videos_needed"]
    if needed is None or row[f"{name}_low"] is None:
        return _difference(row, name, digits)
    far = needed > FAR * row["n"]
    return f"{_difference(row, name, digits)} needs " + (f">{FAR * row['n']}" if far else f"~{needed}")


def paired_markdown(rows: list[dict]) -> str:
    """The pairs as a table (``results.md``): difference, interval, resolved or not, videos needed."""
    if not rows:
        return ""
    frame = pd.DataFrame([{"pair": f"{r['a']} - {r['b']}", "extrap": f"{r['extrap']}x", "videos": r["n"],
                           "FVD difference": difference_text(r, "fvd", 1), "KVD difference": difference_text(r, "kvd", 2)} for r in rows])
    level, method = rows[0]["ci_level"], rows[0]["ci_method"]
    return ("\n## Paired differences\n\n" + frame.to_markdown(index=False, tablefmt="github") +
            f"\n\nSamplers of one run see the same contexts and seeds; intervals ({level:.0%}, {method} bootstrap) "
            "resample the pairs jointly and the real videos independently. *resolved*: the interval excludes 0, "
            f"with at least {MIN_PAIRED_VIDEOS} paired videos; otherwise the number of videos per cell that would "
            f"resolve it if the difference held (shown as more than {FAR} times the videos measured where the "
            "difference is so near zero that the estimate's digits would mean nothing).\n")


def write_paired_csv(rows: list[dict], path: Path) -> None:
    if rows:
        pd.DataFrame(rows).to_csv(path, index=False)


def paired_row(a: CellRecord, b: CellRecord, real: np.ndarray, feats_a: np.ndarray, feats_b: np.ndarray,
               seed: int = 0) -> dict:
    """The ``paired.jsonl`` row of cells ``a`` and ``b`` (records with equal ``pairing``) from their features.

    Args:
        a, b: the two cells' records (``a`` is the minuend).
        real: ``[N, D]`` real features both were scored against.
        feats_a, feats_b: ``[M, D]`` generated features each, row ``i`` from the same context and seed.
        seed: of the bootstrap.
    """
    return _row(a, b, paired_difference(real, feats_a, feats_b, seed=seed))


def real_file(record: CellRecord) -> str | None:
    """Name, inside a run's ``features/`` folder, of the real features a cell was scored against.

    The real side depends on the data, split, length, count and seed (all in ``pairing``) and on the
    protocol, so cells of any run with equal ``pairing`` and ``fvd_protocol`` share the file's content.
    ``None`` for a record without ``pairing`` (measured before it was recorded) or without FVD.
    """
    if record.pairing is None or record.fvd is None:
        return None
    return f"real-{record.pairing}-{record.fvd_protocol or 'full'}.npy"
