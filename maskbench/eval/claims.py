"""Sentences about the paper's claims, computed from our rows (and the paper's values beside them).

Every number in a sentence is a measured or reported value, or a ratio of two of them.
"""

from __future__ import annotations

from dataclasses import dataclass

from maskbench.eval.paper import PaperReference
from maskbench.eval.tables import FEW_VIDEOS


@dataclass(frozen=True)
class Arm:
    """One side of a comparison: a label and the row settings that select it (e.g. ``{"sampler": "mgm"}``)."""

    label: str
    select: dict


def compare(rows: list[dict], arms: tuple[Arm, Arm], group: tuple[str, ...], paper: PaperReference | None = None,
            tables: tuple[int, ...] = ()) -> list[str]:
    """One sentence per group (e.g. per extrapolation factor) in which both arms were measured."""
    sentences = []
    for key in dict.fromkeys(tuple(r[g] for g in group) for r in rows):  # the rows' order
        a, b = (_pick(rows, arm, dict(zip(group, key))) for arm in arms)
        if a and b:
            text = f"{_where(group, key)}: {_versus(arms, a, b)}"
            sentences.append(text + _paper_sentence(arms, a, b, paper, tables) if paper else text)
    return sentences


def steps_sentences(rows: list[dict]) -> list[str]:
    """Per sampler: FVD at each number of steps, and where it is lowest."""
    out = []
    for sampler in sorted({r["sampler"] for r in rows}):
        points = sorted((r for r in rows if r["sampler"] == sampler and r["steps"] and r["fvd"] is not None),
                        key=lambda r: r["steps"])
        if points:
            best = min(points, key=lambda r: r["fvd"])
            listing = ", ".join(f"{r['fvd']:.2f} at {r['steps']}" for r in points)
            spread = _spread(points) if len(points) > 1 else ""
            out.append(f"{sampler.upper()}: FVD {listing} steps; lowest at {best['steps']} steps{spread}{_caveat(points)}.")
    return out


def _spread(points: list[dict]) -> str:
    """How far apart the step counts' FVDs lie, against the real-vs-real FVD of their length and count."""
    fvds, floors = [r["fvd"] for r in points], {r.get("floor") for r in points}
    text = f"; highest and lowest differ by {max(fvds) - min(fvds):.2f}"
    if len(floors) == 1 and None not in floors:
        floor = floors.pop()
        text += f", {'less' if max(fvds) - min(fvds) < floor else 'more'} than two real sets of this size ({floor:.2f})"
    return text


def _pick(rows: list[dict], arm: Arm, where: dict) -> dict | None:
    found = [r for r in rows if all(r.get(k) == v for k, v in {**arm.select, **where}.items())]
    return found[0] if found else None


def _where(group: tuple[str, ...], key: tuple) -> str:
    return ", ".join(f"{value}x" if name == "extrap" else str(value).upper() if name == "sampler" else f"{name} {value}"
                     for name, value in zip(group, key))


def _versus(arms: tuple[Arm, Arm], a: dict, b: dict) -> str:
    text = (f"{arms[0].label} reaches {_fvd(a)} with {a['nfe']} NFE against {arms[1].label}'s {_fvd(b)} with "
            f"{b['nfe']} NFE ({a['nfe'] / b['nfe']:.2g}x the NFE)")
    if a["fvd"] is not None and b["fvd"] is not None:
        text += f"; {arms[0].label if a['fvd'] < b['fvd'] else arms[1].label} has the lower FVD" + _resolved(a, b)
    return text + _caveat([a, b]) + "."


def _resolved(a: dict, b: dict) -> str:
    """Whether the FVD gap stands out from what two real sets of the same size already differ by."""
    floors = [r.get("floor") for r in (a, b) if r.get("floor") is not None]
    if not floors:
        return ""
    gap, floor = abs(a["fvd"] - b["fvd"]), max(floors)
    relation = "smaller than" if gap < floor else "larger than"
    return f", by {gap:.2f}, {relation} the FVD between two real sets of this size ({floor:.2f})"


def _fvd(row: dict) -> str:
    return "no FVD (run without --no-fvd)" if row["fvd"] is None else f"FVD {row['fvd']:.2f}"


def _caveat(rows: list[dict]) -> str:
    if all(r["fvd"] is None for r in rows):
        return ""
    few = min(r["videos"] for r in rows)
    return f" (from {few} videos, fewer than {FEW_VIDEOS}: not comparable)" if few < FEW_VIDEOS else ""


def _paper_sentence(arms: tuple[Arm, Arm], a: dict, b: dict, paper: PaperReference, tables: tuple[int, ...]) -> str:
    parts = []
    for dataset in paper.datasets:
        va, vb = paper.beside(a, dataset, tables), paper.beside(b, dataset, tables)
        if va and vb:
            parts.append(f"on {dataset}, {arms[0].label} {_reported(va[0])} against {arms[1].label} {_reported(vb[0])}"
                         + _order(a, b, va[0], vb[0]))
    return f" The paper reports, {'; '.join(parts)}." if parts else ""


def _order(a: dict, b: dict, va, vb) -> str:
    """Whether our two FVDs rank the arms as the paper's two do."""
    if None in (a["fvd"], b["fvd"], va.fvd, vb.fvd) or a["fvd"] == b["fvd"] or va.fvd == vb.fvd:
        return ""
    return ", the same order as ours" if (a["fvd"] < b["fvd"]) == (va.fvd < vb.fvd) else ", the opposite order to ours"


def _reported(value) -> str:
    nfe = f" at {value.nfe} NFE" if value.nfe is not None else ""
    text = f"FVD {value.fvd:.2f}{nfe}" if value.fvd is not None else f"{value.nfe} NFE"
    return f"{text} (T{value.table})"
