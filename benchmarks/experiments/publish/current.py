"""Which cells measure what the package ships now: its models and its samplers' code.

A cell is *stale* when the model it sampled is not the shipped model of its kind (masking, time input)
any more (another training length or tokenizer) or when its sampler's code has a newer revision. The
results page keeps a stale cell only where no current cell of the same place (variant, sampler, factor,
geometry, steps) exists yet, and marks it; a current cell supersedes it. The files keep both.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import maskbench

WEIGHTS = Path(maskbench.__file__).resolve().parent / "weights"  # the shipped models, to tell whether the cells measured them


def shipped_models(weights: Path = WEIGHTS) -> dict[tuple, tuple]:
    """``(masking, trained with t) -> (training steps, tokenizer identity)`` of each shipped ``latte-*`` model."""
    now = {}
    for card in sorted(Path(weights).glob("latte-*/maskbench.json")):
        data = json.loads(card.read_text())
        config = card.with_name("config.json")
        timed = json.loads(config.read_text()).get("time_conditioning", True) if config.is_file() else True
        now[data.get("masking"), timed] = (train_steps(data.get("extra", {})), data.get("tokenizer_identity"))
    return now


def train_steps(extra: dict) -> int | None:
    """Steps over the whole chain of runs behind the weights (a run started from another model counts its steps)."""
    return extra.get("total_steps", extra.get("steps"))


@lru_cache(maxsize=1)
def _installed() -> tuple[dict, dict]:
    from maskbench.samplers import registered_samplers

    return shipped_models(), {name: cls.revision for name, cls in registered_samplers().items()}


def stale(row, shipped: dict | None = None, revisions: dict | None = None) -> str:
    """Why ``row`` (a :class:`publish.measured.MeasuredCell`) does not measure the installed package: ``"model"``,
    ``"sampler"``, both joined by ``" and "``, or ``""`` when it does (or when the files cannot tell)."""
    if shipped is None or revisions is None:
        shipped, revisions = _installed()
    kind = (row.masking, getattr(row, "model_time_dependent", True))
    now = shipped.get(kind)
    reasons = []
    if row.train_steps is not None and now is not None and now != (row.train_steps, row.tokenizer_identity):
        reasons.append("model")
    if row.sampler in revisions and row.sampler_revision < revisions[row.sampler]:
        reasons.append("sampler")
    return " and ".join(reasons)


def current_rows(rows: list, shipped: dict | None = None, revisions: dict | None = None) -> list:
    """``rows`` less the stale ones that a current row of the same place supersedes (order kept)."""
    def place(row) -> tuple:
        return row.variant, row.sampler, row.extrap, row.context, row.stride, row.steps

    fresh = {place(r) for r in rows if not stale(r, shipped, revisions)}
    return [r for r in rows if not stale(r, shipped, revisions) or place(r) not in fresh]
