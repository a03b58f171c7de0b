"""Our measurements as flat rows, read from a results tree ``<root>/<grid>/<variant>/{results.jsonl,run.json}``.

A row is one cell (variant, sampler, extrapolation) with the settings the paper's tables are keyed by
(mode, masking, steps, time dependence) derived from the record and the variant's ``run.json``, and its
FVD's interval, KVD and protocol (``None`` for records from before they were recorded). Paired rows
(``paired.jsonl`` of a variant and of a grid) are read as written. When
a variant folder holds several records of one cell (reruns with other ``--videos``), the row is the
one with an FVD, then the most videos, then the latest.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from maskbench.bench.store import ResultStore
from maskbench.report.paired import FILE as PAIRED, read_rows

#: Interval fields of a record (absent from records measured before intervals were recorded).
INTERVAL_FIELDS = ("fvd_low", "fvd_high", "kvd", "kvd_low", "kvd_high", "ci_level", "ci_method", "ci_resamples")


def load_grids(root: str | Path) -> dict[str, list[dict]]:
    """Grid name -> its rows, for every grid folder under ``root`` that holds results."""
    root = Path(root)
    grids = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
        variants = sorted((p for p in folder.iterdir() if p.is_dir()), key=lambda p: natural_key(p.name))
        rows = [row for variant in variants for row in variant_rows(variant)]
        if rows:
            grids[folder.name] = rows
    fill_floor([row for rows in grids.values() for row in rows])
    return grids


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


def fill_floor(rows: list[dict]) -> None:
    """Give rows measured before the real-vs-real FVD was recorded the floor of their length, count and seed.

    The floor depends on nothing else (the same two real sets), so any row that has it speaks for all.
    """
    known = {_floor_key(r): r["floor"] for r in rows if r["floor"] is not None}
    for row in rows:
        if row["floor"] is None and row["fvd"] is not None:
            row["floor"] = known.get(_floor_key(row))


def _floor_key(row: dict) -> tuple:
    return row["length"], row["videos"], row["real"], row["seed"]


def variant_rows(folder: Path) -> list[dict]:
    """The rows of one variant folder (empty when it has no ``results.jsonl``)."""
    path = folder / "results.jsonl"
    if not path.is_file():
        return []
    run = json.loads((folder / "run.json").read_text()) if (folder / "run.json").is_file() else {}
    rows = [_row(folder.name, record, run) for record in ResultStore(path).records]
    order = {name: i for i, name in enumerate(dict.fromkeys(r["sampler"] for r in rows))}  # the run's order
    best: dict[tuple, dict] = {}
    for row in rows:
        key = (row["sampler"], row["extrap"], row["options"], row["context"], row["stride"])
        if key not in best or _rank(row) > _rank(best[key]):
            best[key] = row
    return sorted(best.values(), key=lambda r: (order[r["sampler"]], r["extrap"]))


def _rank(row: dict) -> tuple:
    return row["fvd"] is not None, row["videos"], row["finished"]


def _row(variant: str, record: dict, run: dict) -> dict:
    options = record.get("options", "")
    card = run.get("model_card", {})
    return dict(
        variant=variant, key=record.get("key"), sampler=record["sampler"], extrap=record["extrap"], frames=record["frames"],
        context=record["context"], stride=record["stride"], mode=_mode(record), options=options,
        steps=_option(options, "steps", int),
        time_independent=_time_independent(options),
        model_time_dependent=_model_time_dependent(card),
        masking=card.get("masking"), model=run.get("config", {}).get("model") or "shipped default",
        nfe=record["nfe"], seconds=record["seconds_per_video"], fvd=record.get("fvd"), videos=record["n_fake"],
        **{name: record.get(name) for name in INTERVAL_FIELDS}, protocol=record.get("fvd_protocol"),
        pairing=record.get("pairing"),
        floor=record.get("fvd_real_vs_real"), length=record["length"], seed=record.get("seed"),
        real=record.get("n_real", 0), finished=record.get("finished", 0.0), wall=record.get("wall_seconds"),
        reused="reused_from" in record, device=run.get("machine", {}).get("device"),
        threads=run.get("machine", {}).get("torch_threads"), cores=run.get("machine", {}).get("cpu_count"),
        train_steps=train_steps(card.get("extra", {})), train_loss=train_loss(card.get("extra", {})),
        tokenizer=card.get("tokenizer"),
        tokenizer_identity=card.get("tokenizer_identity"),
        sampler_revision=record.get("sampler_revision", 1),  # records from before revisions existed: 1
    )


def train_loss(extra: dict) -> float | None:
    """Mean masked cross-entropy of the last 100 training steps: ``ce_mean_last_100_steps`` where training
    weighted its loss (SNR weighting: ``loss`` is then not the cross-entropy), else the loss, which was it."""
    return extra.get("ce_mean_last_100_steps", extra.get("loss_mean_last_100_steps"))


def train_steps(extra: dict) -> int | None:
    """Steps over the whole chain of runs behind the weights (a run started from another model counts its steps)."""
    return extra.get("total_steps", extra.get("steps"))


def _mode(record: dict) -> str:
    if record["sampler"] == "rdm":
        return "full-sequence"  # RDM rolls one window; its stride is the card's and does not apply
    if record["stride"] == 1:
        return "autoregressive"  # m = k - 1 makes s = 1 = k - m too: one new frame per window is what counts
    return "full-sequence" if record["stride"] == record["frames"] - record["context"] else f"stride {record['stride']}"


def _model_time_dependent(card: dict) -> bool:
    """Whether the model was trained with per-frame t: its card's recipe (``time_conditioning``); models
    exported before the recipe was recorded were all conditioned on t."""
    return bool(card.get("extra", {}).get("recipe", {}).get("time_conditioning", True))


def _time_independent(options: str) -> bool | None:
    """t = 0 for every frame: the flag, or MGM's ``time=zeros`` (its default from revision 3)."""
    flag = _option(options, "time_independent", lambda text: text == "True")
    return flag or _option(options, "time", lambda text: text == "zeros") or flag


def _option(options: str, name: str, kind):
    match = re.search(rf"\b{name}=([^,)]+)", options)
    return kind(match.group(1).strip("'\"")) if match else None
