"""``maskbench run``: samplers x extrapolation factors -> counted NFE, seconds, FVD, tables, plots, grids.

Each finished cell is appended to ``results.jsonl`` at once, so an interrupted run loses at most
the cell in progress, and a rerun with the same ``--out`` skips what is done. A cell with the same key
in another run's ``results.jsonl`` (``reuse``: e.g. another grid that measured the identical cell) is
copied with its samples instead of computed again. Under ``torchrun`` or the ``deepspeed`` launcher,
batches are sharded over ranks and rank 0 gathers and writes.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from maskbench.core.denoiser import CountingDenoiser
from maskbench.core.distributed import gather, init_process_group, shutdown, world
from maskbench.eval.bench import DEFAULT_MODEL, Bench, prepare
from maskbench.eval.config import RunConfig
from maskbench.eval.store import ResultStore
from maskbench.eval.timing import stopwatch


def run_benchmark(config: RunConfig, samplers: dict, reuse: Iterable[Path] = ()) -> Path:
    """Run every cell not yet in ``<out>/results.jsonl``, then write the reports. Returns ``out``.

    ``reuse``: other ``results.jsonl`` files whose cells with an identical key are copied, not rerun.
    """
    init_process_group()
    rank, _ = world()
    out, reuse = Path(config.out), list(reuse)
    bench = prepare(config, samplers)
    store = ResultStore(out / "results.jsonl")
    if rank == 0:
        _write_run_json(out, bench)
    cells = [(name, factor) for factor in config.factors for name in config.samplers]
    keys = [cell_key(bench, name, factor) for name, factor in cells]
    for (name, factor), key in zip(cells, keys):
        if store.has(key):
            _say(rank, f"{name} {factor}x: done in an earlier run, skipped")
            continue
        found = measured_elsewhere(key, reuse, out)
        record = copy_cell(found, out, name, factor) if found else timed_cell(bench, name, factor, key)
        if rank == 0:
            store.append(record)
            _say(rank, _summary(record))
    if rank == 0:
        from maskbench.eval.reports import write_reports

        records = [r for r in store.records if r["key"] in keys]
        write_reports(out, records, bench)
        _say_estimate(out, records, bench)
    shutdown()
    return out


def cell_key(bench: Bench, name: str, factor: int) -> str:
    """Identity of a cell: everything that changes its numbers."""
    c = bench.config
    sampler = bench.samplers[name]
    ident = dict(sampler=name, factor=factor, options=repr(sampler.options), frames=bench.frames, context=bench.context,
                 stride=bench.stride, videos=c.videos, seed=c.seed, model=str(Path(c.model or DEFAULT_MODEL).resolve()),
                 data=str(c.data), fvd=c.fvd, batch=bench.batch_size, **_versions(bench, name))
    return hashlib.sha1(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:16]


def _versions(bench: Bench, name: str) -> dict:
    """What a path does not say: the weights behind it, the tokenizer, the sampler's code revision."""
    return dict(model_identity=bench.model_identity, tokenizer_identity=bench.tokenizer.identity(),
                sampler_revision=type(bench.samplers[name]).revision)


def measured_elsewhere(key: str, reuse: Iterable[Path], out: Path) -> tuple[Path, dict] | None:
    """``(folder, record)`` of the first other results file holding the cell ``key``, else ``None``."""
    for path in reuse:
        path = Path(path)
        if path.parent.resolve() != out.resolve() and path.is_file():
            record = next((r for r in ResultStore(path).records if r.get("key") == key), None)
            if record is not None:
                return path.parent, record
    return None


def copy_cell(found: tuple[Path, dict], out: Path, name: str, factor: int) -> dict:
    """The record (and kept samples) of a cell measured in ``found``'s folder, marked with where it came from."""
    folder, record = found
    samples = folder / "samples" / f"{name}-{factor}x.npy"
    if samples.is_file() and world()[0] == 0:
        (out / "samples").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(samples, out / "samples" / samples.name)
    _say(world()[0], f"{name} {factor}x: identical cell measured in {folder}, copied")
    return {**record, "reused_from": str(folder)}


def run_cell(bench: Bench, name: str, factor: int, key: str) -> dict:
    """Roll out every context with one sampler at one factor; return the cell's record (rank 0; ``{}`` elsewhere)."""
    plan = bench.plan(factor)
    rank, size = world()
    mine = [i for i in range(_batches(bench)) if i % size == rank]
    _warm_up(bench)
    parts = [_run_batch(bench, name, plan, index) for index in tqdm(mine, desc=f"{name} {factor}x", disable=rank != 0, leave=False)]
    parts = sorted((p for rank_parts in gather(parts) for p in rank_parts), key=lambda p: p["index"])
    return _record(bench, name, factor, plan, parts, key) if rank == 0 else {}  # FVD and files: rank 0 only


def timed_cell(bench: Bench, name: str, factor: int, key: str) -> dict:
    """``run_cell`` with its wall time (warm-up, sampling, decoding, features, FVD) as ``wall_seconds``."""
    start = time.perf_counter()
    record = run_cell(bench, name, factor, key)
    return {**record, "wall_seconds": time.perf_counter() - start}


def _batches(bench: Bench) -> int:
    return -(-bench.config.videos // bench.batch_size)


def _warm_up(bench: Bench) -> None:
    """One untimed forward at the window shape: first-call allocations and kernel selection."""
    window = bench.contexts[: bench.batch_size, :1].repeat(1, bench.frames, 1, 1).to(bench.device)
    t = torch.ones(window.shape[:2], device=bench.device)
    bench.denoiser(window, t, torch.ones_like(window, dtype=torch.bool))


def _run_batch(bench: Bench, name: str, plan, index: int) -> dict:
    lo = index * bench.batch_size
    contexts = bench.contexts[lo : lo + bench.batch_size]
    model = CountingDenoiser(bench.denoiser)
    generator = torch.Generator(bench.device).manual_seed(bench.config.seed * 1_000_003 + index)
    seconds: list[float] = []
    with stopwatch(bench.device, seconds):
        tokens = bench.samplers[name].generate(model, contexts, plan, generator)
    pixels = _decode(bench, tokens)
    part = {"index": index, "nfe": model.nfe, "seconds": seconds[0], "videos": len(contexts)}
    with stopwatch(bench.device, seconds):
        part["features"] = _features(bench, pixels) if bench.config.fvd else None
    part["feature_seconds"] = seconds[1]
    part["samples"] = pixels[: max(0, bench.config.samples - lo)]
    return part


def _decode(bench: Bench, tokens: torch.Tensor) -> np.ndarray:
    with torch.inference_mode():
        return bench.tokenizer.decode(tokens.to(bench.device)).cpu().numpy()


def _features(bench: Bench, pixels: np.ndarray) -> np.ndarray:
    from maskbench.eval.features import i3d_features

    return i3d_features(pixels, device=bench.device, progress=False)


def _record(bench: Bench, name: str, factor: int, plan, parts: list[dict], key: str) -> dict:
    nfes = {p["nfe"] for p in parts}
    assert len(nfes) == 1, f"batches of one cell spent different NFE: {nfes}"
    n_fake = sum(p["videos"] for p in parts)
    record = dict(key=key, sampler=name, extrap=factor, length=plan.length, frames=plan.frames, context=plan.context,
                  stride=plan.stride, nfe=nfes.pop(), seconds_total=sum(p["seconds"] for p in parts),
                  seconds_per_video=sum(p["seconds"] for p in parts) / n_fake, n_fake=n_fake,
                  feature_seconds=sum(p["feature_seconds"] for p in parts) if bench.config.fvd else None,
                  options=repr(bench.samplers[name].options), seed=bench.config.seed, finished=time.time(),
                  **_versions(bench, name))
    record.update(_fvd(bench, plan.length, parts))
    _save_samples(bench, name, factor, parts)
    return record


def _fvd(bench: Bench, length: int, parts: list[dict]) -> dict:
    if not bench.config.fvd:
        return {"fvd": None, "n_real": 0}
    from maskbench.eval.fvd import fvd_from_features
    from maskbench.eval.real import real_features

    fake = np.concatenate([p["features"] for p in parts])
    real, other = real_features(bench, length), real_features(bench, length, draw=2)
    return {"fvd": float(fvd_from_features(real, fake)), "n_real": len(real),
            "fvd_real_vs_real": float(fvd_from_features(real, other))}  # the noise floor at this N and length


def _save_samples(bench: Bench, name: str, factor: int, parts: list[dict]) -> None:
    samples = [p["samples"] for p in parts if len(p["samples"])]
    if samples and world()[0] == 0:
        folder = Path(bench.config.out) / "samples"
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / f"{name}-{factor}x.npy", np.concatenate(samples)[: bench.config.samples])


def _write_run_json(out: Path, bench: Bench) -> None:
    from maskbench.eval.provenance import provenance, write_json

    out.mkdir(parents=True, exist_ok=True)
    info = provenance(bench.config, bench.device)
    info["model_card"] = bench.card.__dict__
    info["geometry"] = {"frames": bench.frames, "context": bench.context, "stride": bench.stride,
                        "batch_size": bench.batch_size}
    info["samplers"] = {name: repr(s.options) for name, s in bench.samplers.items()}
    write_json(out / "run.json", info)


def _say_estimate(out: Path, records: list[dict], bench: Bench) -> None:
    """Print, and keep in ``estimate.json``, what the paper's full protocol would take here."""
    from maskbench.eval.estimate import estimate_protocol
    from maskbench.eval.provenance import write_json

    estimate = estimate_protocol(records, bench)
    if estimate is not None:
        write_json(out / "estimate.json", {**estimate.__dict__, "total_s": estimate.total_s})
        _say(0, estimate.sentence(bench.device))


def _summary(record: dict) -> str:
    fvd = "n/a" if record["fvd"] is None else f"{record['fvd']:.1f}"
    return (f"{record['sampler']} {record['extrap']}x: NFE {record['nfe']}, {record['seconds_per_video']:.2f} s/video, "
            f"FVD {fvd} ({record['n_fake']} generated / {record['n_real']} real videos)")


def _say(rank: int, text: str) -> None:
    if rank == 0:
        tqdm.write(text)
