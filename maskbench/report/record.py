"""One result cell (a sampler at one extrapolation factor): the typed, versioned line of ``results.jsonl``.

Written by :mod:`maskbench.bench.run`, kept by :class:`maskbench.bench.store.ResultStore`, read by the
tables, plots, paired differences and the results page. Every line carries ``schema``; lines written
before the schema existed (version 1: options as a ``repr`` string, fields added later missing) are
upgraded by :meth:`CellRecord.from_json` and nowhere else.
"""

from __future__ import annotations

import ast
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from maskbench.core.errors import MaskbenchError

#: 1: lines without ``schema`` (options a ``repr`` string); 2: options as data, ``rollout``, ``schema``;
#: 3: ``resumed_batches`` (a cell finished across invocations).
SCHEMA_VERSION = 3
SAMPLES = "samples"  # <run>/samples/<sampler>-<factor>x.npy: the decoded videos kept of a cell
#: How samplers of version-1 lines rolled out: RDM was the one that rolled its own window (``Sampler.rollout``).
_ROLLOUT_BEFORE_SCHEMA_2 = {"rdm": "rolling"}


@dataclass(frozen=True)
class CellRecord:
    """A finished cell: what was rolled out, what it cost, and its FVD against real videos.

    Attributes:
        key: the cell's identity (``maskbench.bench.run.cell_key``).
        sampler: registered name; ``extrap``: the extrapolation factor x.
        length, frames, context, stride: rollout length L, window k, context m and stride s of the plan.
        nfe: counted model evaluations per video; ``seconds_total``, ``seconds_per_video``: sampling time.
        n_fake: videos rolled out (with or without FVD).
        seed: of the run; ``finished``: Unix time the cell was recorded.
        options: the sampler's options, option name -> value.
        rollout: how the sampler rolls out (``Sampler.rollout``: ``windows`` or its own, e.g. ``rolling``).
        feature_seconds: I3D feature time (``None`` without FVD).
        pairing: what cells must share to be paired video by video (``None``: recorded before it was).
        model_identity, tokenizer_identity, sampler_revision: the weights, tokenizer and sampler code behind it.
        fvd, n_real: the FVD against ``n_real`` real videos (``None`` and 0 without FVD).
        fvd_protocol, fvd_frames: which clip was scored, and its frames (``None``: recorded before protocols).
        fvd_low, fvd_high, kvd, kvd_low, kvd_high, ci_level, ci_method, ci_resamples: the bootstrap interval
            and KVD (:class:`maskbench.metrics.fvd.FVDResult`; ``None`` where not computed or recorded).
        fvd_real_vs_real: FVD between two real sets of this length and count, the floor.
        wall_seconds: the cell's whole wall time, batches kept by an earlier invocation with the time they took
            there; ``None`` for a copy or a cell recorded before it was.
        resumed_batches: batches sampled by an earlier, interrupted invocation and loaded by the one that
            recorded the cell (their seconds were measured where they ran); 0 for a cell measured in one go.
        reused_from: the run folder an identical cell was copied from (``None``: measured here).
    """

    key: str
    sampler: str
    extrap: int
    length: int
    frames: int
    context: int
    stride: int
    nfe: int
    seconds_total: float
    seconds_per_video: float
    n_fake: int
    seed: int
    finished: float
    options: dict[str, Any] = field(default_factory=dict)
    rollout: str = "windows"
    feature_seconds: float | None = None
    pairing: str | None = None
    model_identity: str | None = None
    tokenizer_identity: str | None = None
    sampler_revision: int = 1  # lines from before revisions existed were all revision 1
    fvd: float | None = None
    n_real: int = 0
    fvd_protocol: str | None = None
    fvd_frames: int | None = None
    fvd_low: float | None = None
    fvd_high: float | None = None
    kvd: float | None = None
    kvd_low: float | None = None
    kvd_high: float | None = None
    ci_level: float | None = None
    ci_method: str | None = None
    ci_resamples: int | None = None
    fvd_real_vs_real: float | None = None
    wall_seconds: float | None = None
    resumed_batches: int = 0
    reused_from: str | None = None

    def to_json(self) -> dict:
        """The line's fields, ``schema`` first. ``reused_from`` is written only on a copy, so a copied line
        is its original plus that mark."""
        fields = dataclasses.asdict(self)
        if self.reused_from is None:
            del fields["reused_from"]
        return {"schema": SCHEMA_VERSION, **fields}

    @classmethod
    def from_json(cls, data: dict) -> "CellRecord":
        """A record from one parsed line of any schema up to :data:`SCHEMA_VERSION`.

        Version-1 lines (no ``schema``) are upgraded: ``options`` from its ``repr`` string to a dict,
        ``rollout`` from the sampler's name (RDM rolled its own window), missing later fields to their
        defaults (``None``; ``sampler_revision`` 1).

        Raises:
            MaskbenchError: a newer schema, unknown fields, or missing ones, in one line.
        """
        data = dict(data)
        version = data.pop("schema", 1)
        if not isinstance(version, int) or not 1 <= version <= SCHEMA_VERSION:
            raise MaskbenchError(f"result record of schema {version!r}: this maskbench reads schemas 1 to "
                                 f"{SCHEMA_VERSION}; upgrade maskbench to read it")
        if version == 1:
            data["options"] = _options_from_repr(data.get("options") or "")
            data.setdefault("rollout", _ROLLOUT_BEFORE_SCHEMA_2.get(data.get("sampler"), "windows"))
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise MaskbenchError(f"result record {data.get('key')!r} has unknown field(s) {', '.join(unknown)} "
                                 f"for schema {version}")
        missing = sorted(f.name for f in dataclasses.fields(cls) if f.name not in data
                         and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)
        if missing:
            raise MaskbenchError(f"result record {data.get('key')!r} lacks field(s) {', '.join(missing)}")
        return cls(**data)


def _options_from_repr(text: str) -> dict[str, Any]:
    """``MGMOptions(steps=20, schedule='sigmoid')`` -> ``{"steps": 20, "schedule": "sigmoid"}`` (version-1 lines).

    A value that is not a Python literal (a plugin's own type) is kept as its source text.
    """
    if not text:
        return {}
    try:
        call = ast.parse(text, mode="eval").body
    except SyntaxError:
        call = None
    if not isinstance(call, ast.Call) or call.args:
        raise MaskbenchError(f"result record options {text!r} are not an options repr (Name(option=value, ...))")
    return {kw.arg: _literal(kw.value) for kw in call.keywords}


def _literal(node: ast.expr) -> Any:
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError):
        return ast.unparse(node)


def samples_path(folder: str | Path, sampler: str, factor: int) -> Path:
    """``<folder>/samples/<sampler>-<factor>x.npy``: the decoded videos a run kept of one cell."""
    return Path(folder) / SAMPLES / f"{sampler}-{factor}x.npy"
