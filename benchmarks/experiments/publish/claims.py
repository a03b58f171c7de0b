"""Sentences about the paper's claims, computed from our rows (and the paper's values beside them).

Every number in a sentence is a measured or reported value, or a ratio of two of them. Where a paired row
(``paired.jsonl``: the two cells saw the same contexts and seeds) exists for the two cells compared, the
sentence gives their paired difference with its interval and whether it is resolved at this number of
videos; cells without one (measured before paired differences were recorded) fall back to comparing the
gap with the real-vs-real FVD.
"""

from __future__ import annotations

from dataclasses import dataclass

from maskbench.metrics.stats import interval_text
from maskbench.report.paired import turned, verdict
from maskbench.report.tables import FEW_VIDEOS

from publish.current import stale
from publish.measured import MeasuredCell
from publish.paper import PaperReference


@dataclass(frozen=True)
class Arm:
    """One side of a comparison: a label and the row attributes that select it (e.g. ``{"sampler": "mgm"}``)."""

    label: str
    select: dict


def compare(rows: list[MeasuredCell], arms: tuple[Arm, Arm], group: tuple[str, ...], paper: PaperReference | None = None,
            tables: tuple[int, ...] = (), paired: list[dict] = ()) -> list[str]:
    """One sentence per group (e.g. per extrapolation factor) in which both arms were measured.

    ``paired``: rows of the grid's ``paired.jsonl`` files; the one for the two arms' cells, if any, is cited.
    """
    sentences = []
    for key in dict.fromkeys(tuple(getattr(r, g) for g in group) for r in rows):  # the rows' order
        a, b = (_pick(rows, arm, dict(zip(group, key))) for arm in arms)
        if a and b and bool(stale(a)) != bool(stale(b)):
            sentences.append(_not_yet(group, key, arms, a, b))
        elif a and b:
            text = f"{_where(group, key)}: {_versus(arms, a, b, paired_between(paired, a, b))}"
            sentences.append(text + _paper_sentence(arms, a, b, paper, tables) if paper else text)
    return sentences


def _not_yet(group: tuple[str, ...], key: tuple, arms: tuple[Arm, Arm], a: MeasuredCell, b: MeasuredCell) -> str:
    """A current cell is not compared with a stale one: they measure different models or sampler code."""
    old, new = (arms[0].label, arms[1].label) if stale(a) else (arms[1].label, arms[0].label)
    return (f"{_where(group, key)}: not compared yet: {old}'s cell measures an earlier model or sampler revision (¶), "
            f"{new}'s the current package.")


def paired_between(paired: list[dict], a: MeasuredCell, b: MeasuredCell) -> dict | None:
    """The paired row of cells ``a`` and ``b`` (by their keys), turned to read ``a - b``; ``None`` without one."""
    keys = (a.key, b.key)
    for row in paired:
        if (row["key_a"], row["key_b"]) == keys:
            return row
        if (row["key_b"], row["key_a"]) == keys:
            return turned(row)
    return None


def paired_text(row: dict, label_a: str, label_b: str) -> str:
    """``mgm - fm over the same 256 contexts and seeds: FVD -8.12 [-20.00, 3.50], not resolved (...); KVD ...``."""
    parts = [f"{name.upper()} {row[f'{name}_diff']:+.2f} {interval_text(row[f'{name}_low'], row[f'{name}_high'], 2)}, "
             f"{verdict(row, name)}" for name in ("fvd", "kvd")]
    return f"{label_a} - {label_b} over the same {row['n']} contexts and seeds: {'; '.join(parts)}"


def steps_sentences(rows: list[MeasuredCell], paired: list[dict] = ()) -> list[str]:
    """Per sampler: FVD at each number of steps, and where it is lowest (with the paired difference between
    the highest and the lowest, where ``paired`` has it)."""
    out = []
    for sampler in sorted({r.sampler for r in rows}):
        points = sorted((r for r in rows if r.sampler == sampler and r.steps and r.fvd is not None),
                        key=lambda r: r.steps)
        if points:
            best = min(points, key=lambda r: r.fvd)
            listing = ", ".join(f"{r.fvd:.2f} at {r.steps}" for r in points)
            spread = _spread(points, paired) if len(points) > 1 else ""
            out.append(f"{sampler.upper()}: FVD {listing} steps; lowest at {best.steps} steps{spread}{_caveat(points)}.")
    return out


def _spread(points: list[MeasuredCell], paired: list[dict] = ()) -> str:
    """How far apart the step counts' FVDs lie: the paired difference of the highest and the lowest, else
    against the real-vs-real FVD of their length and count."""
    fvds, floors = [r.fvd for r in points], {r.fvd_real_vs_real for r in points}
    text = f"; highest and lowest differ by {max(fvds) - min(fvds):.2f}"
    high, low = max(points, key=lambda r: r.fvd), min(points, key=lambda r: r.fvd)
    row = paired_between(paired, high, low)
    if row is not None:
        labels = (f"{high.steps} steps", f"{low.steps} steps")
        text += f" ({paired_text(row, *labels)})"
    elif len(floors) == 1 and None not in floors:
        floor = floors.pop()
        text += f", {'less' if max(fvds) - min(fvds) < floor else 'more'} than two real sets of this size ({floor:.2f})"
    return text


def _pick(rows: list[MeasuredCell], arm: Arm, where: dict) -> MeasuredCell | None:
    found = [r for r in rows if all(getattr(r, k) == v for k, v in {**arm.select, **where}.items())]
    return found[0] if found else None


def _where(group: tuple[str, ...], key: tuple) -> str:
    return ", ".join(f"{value}x" if name == "extrap" else str(value).upper() if name == "sampler" else f"{name} {value}"
                     for name, value in zip(group, key))


def _versus(arms: tuple[Arm, Arm], a: MeasuredCell, b: MeasuredCell, pair: dict | None = None) -> str:
    text = (f"{arms[0].label} reaches {_fvd(a)} with {a.nfe} NFE against {arms[1].label}'s {_fvd(b)} with "
            f"{b.nfe} NFE ({a.nfe / b.nfe:.2g}x the NFE)")
    if a.fvd is not None and b.fvd is not None:
        text += f"; {arms[0].label if a.fvd < b.fvd else arms[1].label} has the lower FVD"
        text += f"; paired, {paired_text(pair, *(arm.label for arm in arms))}" if pair else _resolved(a, b)
    return text + _caveat([a, b]) + "."


def _resolved(a: MeasuredCell, b: MeasuredCell) -> str:
    """Whether the FVD gap stands out from what two real sets of the same size already differ by (the fallback
    for cells without a paired difference)."""
    floors = [r.fvd_real_vs_real for r in (a, b) if r.fvd_real_vs_real is not None]
    if not floors:
        return ""
    gap, floor = abs(a.fvd - b.fvd), max(floors)
    relation = "smaller than" if gap < floor else "larger than"
    return f", by {gap:.2f}, {relation} the FVD between two real sets of this size ({floor:.2f})"


def _fvd(row: MeasuredCell) -> str:
    return "no FVD (run without --no-fvd)" if row.fvd is None else f"FVD {row.fvd:.2f}"


def _caveat(rows: list[MeasuredCell]) -> str:
    if all(r.fvd is None for r in rows):
        return ""
    few = min(r.n_fake for r in rows)
    text = f" (from {few} videos, fewer than {FEW_VIDEOS}: not comparable)" if few < FEW_VIDEOS else ""
    return text + (" (¶ an earlier model or sampler revision: not the current package)" if any(map(stale, rows)) else "")


def _paper_sentence(arms: tuple[Arm, Arm], a: MeasuredCell, b: MeasuredCell, paper: PaperReference,
                    tables: tuple[int, ...]) -> str:
    parts = []
    for dataset in paper.datasets:
        va, vb = paper.beside(a, dataset, tables), paper.beside(b, dataset, tables)
        if va and vb:
            parts.append(f"on {dataset}, {arms[0].label} {_reported(va[0])} against {arms[1].label} {_reported(vb[0])}"
                         + _order(a, b, va[0], vb[0]))
    return f" The paper reports, {'; '.join(parts)}." if parts else ""


def _order(a: MeasuredCell, b: MeasuredCell, va, vb) -> str:
    """Whether our two FVDs rank the arms as the paper's two do."""
    if None in (a.fvd, b.fvd, va.fvd, vb.fvd) or a.fvd == b.fvd or va.fvd == vb.fvd:
        return ""
    return ", the same order as ours" if (a.fvd < b.fvd) == (va.fvd < vb.fvd) else ", the opposite order to ours"


def _reported(value) -> str:
    nfe = f" at {value.nfe} NFE" if value.nfe is not None else ""
    text = f"FVD {value.fvd:.2f}{nfe}" if value.fvd is not None else f"{value.nfe} NFE"
    return f"{text} (T{value.table})"
