"""``maskbench run``: samplers x extrapolation factors -> counted NFE, seconds, FVD, tables, plots, grids.

Each finished cell is appended to ``results.jsonl`` at once, and each finished batch of the cell in
progress is kept under ``partial/`` (:mod:`maskbench.bench.partial`), so an interrupted run loses at most
the batch in progress, and a rerun with the same ``--out`` skips what is done. A cell with the same key
in another run's ``results.jsonl`` (``reuse``: e.g. another grid that measured the identical cell) is
copied with its samples instead of computed again. Under ``torchrun`` or the ``deepspeed`` launcher,
batches are sharded over ranks and rank 0 gathers and writes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import shutil
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch

from maskbench.core.denoiser import CountingDenoiser
from maskbench.bench.nfe import counted_nfe
from maskbench.core.distributed import gather, init_process_group, shutdown, world
from maskbench.bench.context import CONTEXT_DRAW, Bench, prepare
from maskbench.bench.config import RunConfig
from maskbench.report.paired import FEATURES
from maskbench.report.record import CellRecord, samples_path
from maskbench.core.progress import bar, say
from maskbench.core.provenance import HISTORY, write_json
from maskbench.bench.partial import BatchStore
from maskbench.bench.resume import REPORTED, finished_already
from maskbench.bench.store import OutLock, ResultStore
from maskbench.metrics.timing import stopwatch


def run_benchmark(config: RunConfig, reuse: Iterable[Path] = (), estimate_for: tuple[int, tuple[int, ...]] | None = None) -> Path:
    """Run every cell not yet in ``<out>/results.jsonl``, then write the reports. Returns ``out``.

    The samplers are ``config``'s (``config.samplers``, built by :func:`~maskbench.bench.config.build_samplers`
    with the model card's defaults), so a run needs nothing but its config: ``run_benchmark(RunConfig(...))``.

    ``reuse``: other ``results.jsonl`` files whose cells with an identical key are copied, not rerun.
    ``estimate_for``: ``(videos, factors)`` the end-of-run estimate extrapolates to (a grid's own size);
    default the paper's protocol (625 videos, factors 2, 5, 10).
    One run at a time per ``out`` (an advisory lock; a second one is refused with the first one's pid).
    When every cell is finished and the reports are current, nothing is loaded, drawn or featurised.
    """
    init_process_group()
    rank, _ = world()
    out, reuse = Path(config.out), list(reuse)
    created = not out.exists()
    try:
        with OutLock(out) if rank == 0 else contextlib.nullcontext():
            if not finished_already(config, out):
                _run_cells(config, out, reuse, estimate_for)
    except BaseException:
        if created and rank == 0 and out.is_dir() and {p.name for p in out.iterdir()} <= {OutLock.NAME}:
            shutil.rmtree(out, ignore_errors=True)  # refused before any work: leave nothing behind
        raise
    shutdown()
    return out


def _run_cells(config: RunConfig, out: Path, reuse: list[Path], estimate_for: tuple[int, tuple[int, ...]] | None) -> None:
    rank, _ = world()
    _say(rank, "loading the model, the tokenizer and the data; drawing the contexts")
    bench = prepare(config)
    store = ResultStore(out / "results.jsonl")
    if rank == 0:
        _write_run_json(out, bench)
    cells = [(name, factor) for factor in config.factors for name in config.samplers]
    keys = [cell_key(bench, name, factor) for name, factor in cells]
    for i, ((name, factor), key) in enumerate(zip(cells, keys), 1):
        if store.has(key):
            _say(rank, f"cell {i} of {len(cells)}: {name} {factor}x: done in an earlier run, skipped")
            continue
        found = measured_elsewhere(key, reuse, out)
        if not found:
            _say(rank, f"cell {i} of {len(cells)}: {name} {factor}x: sampling {config.videos} videos")
        record = copy_cell(found, out, name, factor) if found else timed_cell(bench, name, factor, key)
        if rank == 0:
            store.append(record)
            BatchStore(out, key).clear()  # the record is durable: its kept batches are not needed any more
            _say(rank, f"cell {i} of {len(cells)}: {_summary(record)}")
    if rank == 0:
        from maskbench.report.reports import write_reports

        records = [r for r in store.records if r.key in keys]
        paired = _paired(out, pairable(store.records, keys), bench)
        write_reports(out, records, bench, paired)
        _say_estimate(out, records, bench, estimate_for)
        _say_paired(paired)
        write_json(out / REPORTED, {"keys": keys})


def cell_key(bench: Bench, name: str, factor: int) -> str:
    """Identity of a cell: everything that changes its numbers, and nothing else the run asked for.

    Its contexts are a function of (data set and split, rollout length, videos, seed) and the draw's
    revision (``CONTEXT_DRAW``); its seeds of (seed, batch size); its FVD of the protocol. Other
    factors and samplers of the run are not part of it, and do not change the cell (test_cell_key.py).
    The model and the data are named by their content (weights hash, data set identity), not by where
    they lie: the same cell measured from another checkout or machine has the same key.
    """
    c = bench.config
    sampler = bench.samplers[name]
    ident = dict(sampler=name, factor=factor, length=bench.plan(factor).length, options=repr(sampler.options),
                 frames=bench.frames, context=bench.context, stride=bench.stride, videos=c.videos, seed=c.seed,
                 split=c.split, data_identity=bench.videos.content_id(), context_draw=CONTEXT_DRAW, fvd=c.fvd,
                 fvd_protocol=c.fvd_protocol if c.fvd else None, batch=bench.batch_size, **_versions(bench, name))
    return hashlib.sha1(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:16]


def pairing_id(bench: Bench, factor: int) -> str:
    """What two cells must share for video ``i`` of one to be paired with video ``i`` of the other: the same
    contexts (data content, split, rollout length, count, seed, draw) and the same per-batch seeds (batch
    size). Cells of any sampler, model or run with equal ids saw identical inputs."""
    c = bench.config
    ident = dict(length=bench.plan(factor).length, videos=c.videos, seed=c.seed, split=c.split,
                 data_identity=bench.videos.content_id(), context_draw=CONTEXT_DRAW, batch=bench.batch_size)
    return hashlib.sha1(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:16]


def _versions(bench: Bench, name: str) -> dict:
    """What a path does not say: the weights behind it, the tokenizer, the sampler's code revision."""
    return dict(model_identity=bench.model_identity, tokenizer_identity=bench.tokenizer.identity(),
                sampler_revision=type(bench.samplers[name]).revision)


def measured_elsewhere(key: str, reuse: Iterable[Path], out: Path) -> tuple[Path, CellRecord] | None:
    """``(folder, record)`` of the first other results file holding the cell ``key``, else ``None``."""
    for path in reuse:
        path = Path(path)
        if path.parent.resolve() != out.resolve() and path.is_file():
            record = ResultStore(path).get(key)
            if record is not None:
                return path.parent, record
    return None


def copy_cell(found: tuple[Path, CellRecord], out: Path, name: str, factor: int) -> CellRecord:
    """The record (kept samples, generated features) of a cell measured in ``found``'s folder, marked with where
    it came from."""
    from maskbench.report.paired import real_file

    folder, record = found
    kept_files = [(samples_path(folder, name, factor), samples_path(out, name, factor)),
                  (folder / FEATURES / f"{record.key}.npy", out / FEATURES / f"{record.key}.npy")]
    if real_file(record):
        kept_files.append((folder / FEATURES / real_file(record), out / FEATURES / real_file(record)))
    for kept, copy in kept_files:
        if kept.is_file() and world()[0] == 0:
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(kept, copy)
    _say(world()[0], f"{name} {factor}x: identical cell measured in {folder}, copied")
    return dataclasses.replace(record, reused_from=str(folder))


def run_cell(bench: Bench, name: str, factor: int, key: str) -> CellRecord | None:
    """Roll out every context with one sampler at one factor; return the cell's record (rank 0; ``None`` elsewhere).

    Each finished batch is kept in ``<out>/partial/<key>/`` (:class:`~maskbench.bench.partial.BatchStore`), and
    batches kept by an earlier, interrupted invocation are loaded instead of sampled again: the record is
    the one an uninterrupted run gives, but for the seconds, which each batch took where it ran. The
    record's ``resumed_batches`` counts the loaded ones and its ``wall_seconds`` is their wall time
    (:func:`timed_cell` adds this invocation's).
    """
    plan = bench.plan(factor)
    rank, size = world()
    mine = [i for i in range(_batches(bench)) if i % size == rank]
    kept = BatchStore(bench.config.out, key)
    _warm_up(bench)
    parts = []
    # One tick per model evaluation. The total comes from one rollout against a weightless stand-in
    # (about a second), so the ETA shows from the first evaluation; the first real batch corrects it
    # for a plugin whose NFE depends on the data (every batch of a cell spends the same).
    expected = counted_nfe(bench.samplers[name], plan, tuple(bench.contexts[plan.length].shape[2:]))
    with bar(desc=f"{name} {factor}x", unit="NFE", total=expected * len(mine),
             disable=True if rank != 0 else None) as ticks:
        for done, index in enumerate(mine):
            part = kept.load(index, _batch_videos(bench, index), bench.config.fvd)
            if part is None:
                part = _run_batch(bench, name, plan, index, ticks)
                kept.save(part)
            else:
                ticks.update(part["nfe"])
            parts.append(part)
            ticks.total = parts[0]["nfe"] * len(mine)
            ticks.set_postfix_str(f"batch {done + 1} of {len(mine)}")
    parts = sorted((p for rank_parts in gather(parts) for p in rank_parts), key=lambda p: p["index"])
    return _record(bench, name, factor, plan, parts, key) if rank == 0 else None  # FVD and files: rank 0 only


def timed_cell(bench: Bench, name: str, factor: int, key: str) -> CellRecord | None:
    """``run_cell`` with its wall time (warm-up, sampling, decoding, features, FVD) as ``wall_seconds``; batches
    loaded from an earlier invocation count with the wall time they took there."""
    start = time.perf_counter()
    record = run_cell(bench, name, factor, key)
    if record is None:
        return None
    return dataclasses.replace(record, wall_seconds=record.wall_seconds + time.perf_counter() - start)


def _batches(bench: Bench) -> int:
    return -(-bench.config.videos // bench.batch_size)


def _batch_videos(bench: Bench, index: int) -> int:
    """How many rollouts batch ``index`` holds in any run of its cell."""
    return min(bench.batch_size, bench.config.videos - index * bench.batch_size)


def _warm_up(bench: Bench) -> None:
    """One untimed forward at the window shape: first-call allocations and kernel selection."""
    contexts = next(iter(bench.contexts.values()))
    window = contexts[: bench.batch_size, :1].repeat(1, bench.frames, 1, 1).to(bench.device)
    t = torch.ones(window.shape[:2], device=bench.device)
    bench.denoiser(window, t, torch.ones_like(window, dtype=torch.bool))


class _Ticking:
    """A denoiser that advances a progress bar by one per evaluation (nothing else changes)."""

    def __init__(self, inner, ticks):
        self.inner, self.ticks = inner, ticks
        self.vocab_size, self.mask_id, self.device = inner.vocab_size, inner.mask_id, inner.device

    def __call__(self, tokens: torch.Tensor, t: torch.Tensor, where: torch.Tensor) -> torch.Tensor:
        logits = self.inner(tokens, t, where)
        self.ticks.update(1)
        return logits


def _run_batch(bench: Bench, name: str, plan, index: int, ticks=None) -> dict:
    lo = index * bench.batch_size
    contexts = bench.contexts[plan.length][lo : lo + bench.batch_size]
    model = CountingDenoiser(bench.denoiser if ticks is None else _Ticking(bench.denoiser, ticks))
    generator = torch.Generator(bench.device).manual_seed(bench.config.seed * 1_000_003 + index)
    seconds: list[float] = []
    start = time.perf_counter()
    with stopwatch(bench.device, seconds):
        tokens = bench.samplers[name].generate(model, contexts, plan, generator)
    pixels = _decode(bench, tokens)
    part = {"index": index, "nfe": model.nfe, "seconds": seconds[0], "videos": len(contexts)}
    with stopwatch(bench.device, seconds):
        part["features"] = _features(bench, pixels) if bench.config.fvd else None
    part["feature_seconds"] = seconds[1]
    part["samples"] = pixels[: max(0, bench.config.samples - lo)]
    part["wall"] = time.perf_counter() - start
    return part


def _decode(bench: Bench, tokens: torch.Tensor) -> np.ndarray:
    with torch.inference_mode():
        return bench.tokenizer.decode(tokens.to(bench.device)).cpu().numpy()


def _features(bench: Bench, pixels: np.ndarray) -> np.ndarray:
    from maskbench.metrics.features import i3d_features
    from maskbench.metrics.protocols import protocol_clips

    return i3d_features(protocol_clips(pixels, bench.config.fvd_protocol), device=bench.device, progress=False)


def _record(bench: Bench, name: str, factor: int, plan, parts: list[dict], key: str) -> CellRecord:
    nfes = {p["nfe"] for p in parts}
    assert len(nfes) == 1, f"batches of one cell spent different NFE: {nfes}"
    n_fake = sum(p["videos"] for p in parts)
    sampler = bench.samplers[name]
    record = CellRecord(key=key, sampler=name, extrap=factor, length=plan.length, frames=plan.frames,
                        context=plan.context, stride=plan.stride, nfe=nfes.pop(),
                        seconds_total=sum(p["seconds"] for p in parts),
                        seconds_per_video=sum(p["seconds"] for p in parts) / n_fake, n_fake=n_fake,
                        feature_seconds=sum(p["feature_seconds"] for p in parts) if bench.config.fvd else None,
                        options=dataclasses.asdict(sampler.options), rollout=type(sampler).rollout,
                        seed=bench.config.seed, finished=time.time(), pairing=pairing_id(bench, factor),
                        resumed_batches=sum(1 for p in parts if p.get("resumed")),
                        wall_seconds=sum(p["wall"] for p in parts if p.get("resumed")),
                        **_versions(bench, name), **_fvd(bench, plan.length, parts))
    _save_samples(bench, name, factor, parts)
    _save_features(bench, key, parts)
    _save_real_features(bench, record)
    return record


def _fvd(bench: Bench, length: int, parts: list[dict]) -> dict:
    """FVD fields of a cell's :class:`CellRecord`: the generated rollouts against random real windows of ``length``.

    Keys: those of :class:`maskbench.metrics.fvd.FVDResult` (``frames`` -> ``fvd_frames``, ``protocol``
    -> ``fvd_protocol``: ``frames`` is already the window ``k``; the interval and KVD fields), and
    ``fvd_real_vs_real`` (value only).
    """
    protocol = bench.config.fvd_protocol
    if not bench.config.fvd:
        return {"fvd": None, "n_real": 0, "fvd_protocol": None}
    from maskbench.metrics.fvd import fvd_result
    from maskbench.metrics.protocols import protocol_frames
    from maskbench.bench.real import real_features

    fake = np.concatenate([p["features"] for p in parts])
    real, other = real_features(bench, length), real_features(bench, length, draw=2)
    frames = protocol_frames(protocol, length)
    fields = fvd_result(real, fake, frames, protocol, seed=bench.config.seed).record()
    del fields["n_fake"]  # the record's n_fake counts the rollouts, with or without FVD
    fields["fvd_frames"], fields["fvd_protocol"] = fields.pop("frames"), fields.pop("protocol")
    floor = fvd_result(real, other, frames, protocol, statistics=False)  # the noise floor at this N and length
    return {**fields, "fvd_real_vs_real": floor.fvd}


def _save_samples(bench: Bench, name: str, factor: int, parts: list[dict]) -> None:
    samples = [p["samples"] for p in parts if len(p["samples"])]
    if samples and world()[0] == 0:
        path = samples_path(bench.config.out, name, factor)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, np.concatenate(samples)[: bench.config.samples])


def _save_features(bench: Bench, key: str, parts: list[dict]) -> None:
    """``features/<cell key>.npy``: the cell's generated I3D features, row ``i`` from context ``i`` (paired
    differences, and any statistic a user wants later, without sampling again)."""
    if bench.config.fvd and world()[0] == 0:
        folder = Path(bench.config.out) / FEATURES
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / f"{key}.npy", np.concatenate([p["features"] for p in parts]))


def _save_real_features(bench: Bench, record: CellRecord) -> None:
    """``features/real-<pairing>-<protocol>.npy``: the real side the cell was scored against (from the cache),
    kept beside the generated features so that cells of other runs with the same ``pairing`` (another
    variant of a grid) can be paired with this one without a Bench (:mod:`maskbench.bench.grid_pairs`)."""
    from maskbench.report.paired import real_file
    from maskbench.bench.real import real_features

    name = real_file(record)
    path = Path(bench.config.out) / FEATURES / (name or "")
    if name and world()[0] == 0 and not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, real_features(bench, record.length))


def pairable(records: list[CellRecord], keys: list[str]) -> list[CellRecord]:
    """The cells of a folder whose pairs ``paired.jsonl`` holds: this invocation's (``keys``) and, of every other
    (sampler, factor) in the folder, the latest one. A cell measured by an earlier invocation (``--samplers fm``
    after ``--samplers mgm``) saw the same inputs when its ``pairing`` is equal, so it pairs with this one's."""
    current = [r for r in records if r.key in keys]
    taken = {(r.sampler, r.extrap) for r in current}
    latest = {(r.sampler, r.extrap): r for r in records if r.key not in keys and (r.sampler, r.extrap) not in taken}
    return current + list(latest.values())


def _paired(out: Path, records: list[CellRecord], bench: Bench) -> list[dict]:
    """Paired differences for every pair of samplers at each factor (``paired.jsonl``), from kept features; the
    order of a pair is this run's sampler order, then the folder's."""
    from maskbench.report.paired import FILE, paired_rows

    def features(record: CellRecord) -> np.ndarray | None:
        path = out / FEATURES / f"{record.key}.npy"
        return np.load(path) if path.is_file() else None

    if not bench.config.fvd:
        return []
    for record in records:  # cells measured before real features were kept beside them
        if record.pairing == pairing_id(bench, record.extrap):
            _save_real_features(bench, record)
    order = list(dict.fromkeys([*bench.config.samplers, *(r.sampler for r in records)]))
    return paired_rows(records, order, features, lambda record: _kept_real(out, record), out / FILE,
                       seed=bench.config.seed)


def _kept_real(out: Path, record: CellRecord) -> np.ndarray | None:
    """The real features ``record`` was scored against, as kept beside it (``None`` when they were not)."""
    from maskbench.report.paired import real_file

    path = out / FEATURES / (real_file(record) or "")
    return np.load(path) if real_file(record) and path.is_file() else None


def _say_paired(rows: list[dict]) -> None:
    from maskbench.report.paired import sentence

    if rows:
        _say(0, "paired differences (same contexts and seeds; 95% bootstrap intervals):")
    for row in rows:
        _say(0, "  " + sentence(row))


def _write_run_json(out: Path, bench: Bench) -> None:
    from maskbench.core.provenance import provenance, write_json

    out.mkdir(parents=True, exist_ok=True)
    info = provenance(bench.config, bench.device)
    info["model_card"] = bench.card.__dict__
    info["geometry"] = {"frames": bench.frames, "context": bench.context, "stride": bench.stride,
                        "batch_size": bench.batch_size}
    info["samplers"] = {name: repr(s.options) for name, s in bench.samplers.items()}
    info["fvd"] = _fvd_description(bench)
    history = out / HISTORY  # run.json is the latest invocation; this keeps every one
    if not history.is_file() and (out / "run.json").is_file():  # a folder from before the history was kept
        history.write_text(json.dumps(json.loads((out / "run.json").read_text()), sort_keys=True) + "\n")
    write_json(out / "run.json", info)
    with history.open("a") as handle:
        handle.write(json.dumps(info, sort_keys=True, default=str) + "\n")


def _fvd_description(bench: Bench) -> dict | None:
    """How this run's FVD is computed: protocol, both sides, and where the only resize happens."""
    from maskbench.bench.real import REAL_SIDE

    if not bench.config.fvd:
        return None
    return {"protocol": bench.config.fvd_protocol, "real": REAL_SIDE,
            "generated": "every rollout once, its --fvd-protocol clip",
            "preprocessing": "bilinear resize to 224x224 (align_corners=False, no antialias) inside I3D, as StyleGAN-V"}


def _say_estimate(out: Path, records: list[CellRecord], bench: Bench, size: tuple[int, tuple[int, ...]] | None) -> None:
    """Print, and keep in ``estimate.json``, what the paper's full protocol (or ``size``: a grid's own videos and
    factors) would take here."""
    from maskbench.bench.estimate import estimate_protocol
    from maskbench.core.provenance import write_json

    estimate = estimate_protocol(records, bench) if size is None else \
        estimate_protocol(records, bench, videos=size[0], factors=size[1], label="this variant at its grid's size")
    if estimate is not None:
        write_json(out / "estimate.json", {**estimate.__dict__, "total_s": estimate.total_s})
        _say(0, estimate.sentence(bench.device))


def _summary(record: CellRecord) -> str:
    fvd = "n/a" if record.fvd is None else f"{record.fvd:.1f}"
    return (f"{record.sampler} {record.extrap}x: NFE {record.nfe}, {record.seconds_per_video:.2f} s/video, "
            f"FVD {fvd} ({record.n_fake} generated / {record.n_real} real videos)")


def _say(rank: int, text: str) -> None:
    if rank == 0:
        say(text)
