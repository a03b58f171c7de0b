"""Copy experiment run folders into the committed results tree, the single source of ``docs/results.md``.

From ``<runs>/<grid>/<variant>/`` only ``results.jsonl``, ``run.json``, ``runs.jsonl`` and ``paired.jsonl`` are copied
(a few KB), and the grid's own ``paired.jsonl`` (pairs across variants); the sample and feature arrays
stay behind, except as one small GIF per grid: the best and the worst cell at 5x (one video each,
every other frame: a few hundred KB). Collecting merges: cells already in the results tree (from an
earlier session whose ``runs/`` is gone) are kept unless the run measured them again, paired rows
unless the run computed the same pair (the same two cell keys) again, and a GIF whose cells are
unchanged is kept when their samples are no longer on disk.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from maskbench.bench.store import ResultStore
from maskbench.core.errors import MaskbenchError
from maskbench.core.provenance import HISTORY, read_history
from maskbench.report.paired import FILE as PAIRED, read_rows
from maskbench.report.record import samples_path

from publish.measured import MeasuredCell, variant_rows

GIF_FACTOR = 5
GIF_ROWS, GIF_FRAME_STEP, GIF_FPS = 1, 2, 4


def collect_runs(runs: str | Path, results: str | Path) -> list[Path]:
    """Copy every variant of every grid under ``runs`` (or of the one grid ``runs`` is) into ``results``.

    Returns:
        the variant folders written under ``results``.
    """
    runs, results = Path(runs), Path(results)
    variants = sorted(p.parent for p in runs.glob("*/*/results.jsonl"))
    if not variants and any(runs.glob("*/results.jsonl")):
        variants, runs = sorted(p.parent for p in runs.glob("*/results.jsonl")), runs.parent
    if not variants:
        raise MaskbenchError(f"no results under {runs}: expected <grid>/<variant>/results.jsonl "
                             "from `maskbench experiment`")
    written = [_copy(variant, results / variant.parent.name / variant.name) for variant in variants]
    for grid in sorted({v.parent for v in variants}):
        _merge_paired(grid / PAIRED, results / grid.name / PAIRED)
        best_worst_gif(grid, results / grid.name / gif_name())
    return written


def gif_name(factor: int = GIF_FACTOR) -> str:
    return f"best_worst_{factor}x.gif"


def best_and_worst(rows: list[MeasuredCell], factor: int = GIF_FACTOR) -> tuple[MeasuredCell, MeasuredCell] | None:
    """The lowest- and highest-FVD cells at ``factor`` (``None`` with fewer than two measured cells)."""
    measured = sorted((r for r in rows if r.extrap == factor and r.fvd is not None), key=lambda r: r.fvd)
    return (measured[0], measured[-1]) if len(measured) >= 2 else None


def best_worst_gif(grid: Path, path: Path, factor: int = GIF_FACTOR) -> bool:
    """Write ``path``: the best cell's samples left, the worst's right. Without their samples, an existing GIF
    stays only if it shows the same two cells. Returns whether a current GIF exists."""
    from maskbench.core.media import video_grid, write_video

    rows = [row for variant in sorted(path.parent.iterdir()) if variant.is_dir() for row in variant_rows(variant)]
    pair = best_and_worst(rows, factor)
    arrays = [_samples(grid / r.variant, r.sampler, factor) for r in pair] if pair else []
    shown = path.with_suffix(".json")  # which cells the GIF shows, so a later collect can tell it is current
    cells = [[r.variant, r.key] for r in pair] if pair else None
    if arrays and all(a is not None for a in arrays):
        write_video(video_grid([a[:GIF_ROWS, ::GIF_FRAME_STEP] for a in arrays]), path, fps=GIF_FPS, scale=1)
        shown.write_text(json.dumps(cells))
        return True
    if not (path.is_file() and shown.is_file() and json.loads(shown.read_text()) == cells):
        path.unlink(missing_ok=True)  # a GIF of other cells would contradict the page's caption
        shown.unlink(missing_ok=True)
    return path.is_file()


def _samples(folder: Path, sampler: str, factor: int) -> np.ndarray | None:
    path = samples_path(folder, sampler, factor)
    return np.load(path) if path.is_file() else None


def _copy(source: Path, target: Path) -> Path:
    """``run.json`` replaced, ``runs.jsonl`` and ``results.jsonl`` merged: the target's cells the run did not measure, then the run's
    (every line in the current schema)."""
    target.mkdir(parents=True, exist_ok=True)
    _merge_history(source, target)  # before run.json is replaced: an older target's only record of its runs
    if (source / "run.json").is_file():
        shutil.copyfile(source / "run.json", target / "run.json")
    new = ResultStore(source / "results.jsonl").records
    keys = {r.key for r in new}
    kept = [r for r in ResultStore(target / "results.jsonl").records if r.key not in keys]
    (target / "results.jsonl").write_text("".join(json.dumps(r.to_json(), sort_keys=True) + "\n" for r in kept + new))
    _merge_paired(source / PAIRED, target / PAIRED)
    return target


def _merge_history(source: Path, target: Path) -> None:
    """``target/runs.jsonl``: every invocation of both folders once, oldest first. A target holding only the
    ``run.json`` of an earlier collect keeps it as its first invocation."""
    runs = {json.dumps(r, sort_keys=True): r for r in read_history(target) + read_history(source)}
    ordered = sorted(runs.values(), key=lambda r: r.get("started", ""))
    if ordered:
        (target / HISTORY).write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in ordered))


def _merge_paired(source: Path, target: Path) -> None:
    """``target`` gets the rows of ``source`` after its own rows for other pairs. A pair is its two cell keys in
    either order: an invocation that names the samplers the other way round (``--samplers mgm`` after
    ``--samplers fm``) writes ``mgm - fm`` for the cells of an earlier ``fm - mgm``, which it replaces."""
    new = read_rows(source)
    if not new:
        return
    pairs = {_cells_of(r) for r in new}
    kept = [r for r in read_rows(target) if _cells_of(r) not in pairs]
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in kept + new))


def _cells_of(row: dict) -> frozenset:
    """The two cell keys a paired row compares, in either order."""
    return frozenset((row["key_a"], row["key_b"]))
