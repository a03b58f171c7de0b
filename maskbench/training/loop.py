"""The training loop: DeepSpeed engine, Algorithm 1 steps, EMA, resumable checkpoints, export."""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import time
from pathlib import Path

import torch
import yaml

from maskbench.core.backbone import build_backbone
from maskbench.core.checkpoint import CARD, ModelCard, save_model
from maskbench.core.distributed import barrier, local_device, world
from maskbench.core.token_cache import open_token_cache
from maskbench.training.config import TrainConfig
from maskbench.training.data import window_batch
from maskbench.training.ema import EMA
from maskbench.training.masking import draw_times, fused_snr_weights, mask_tokens, masked_cross_entropy
from maskbench.training.synthetic import write_synthetic_cache
from maskbench.schedules import get_schedule


def train(config: TrainConfig, out: Path, resume: bool = False) -> None:
    """Train (or continue training) and export the EMA model to ``out/model``."""
    import deepspeed

    rank, size = world()
    device = local_device("auto")
    deepspeed.init_distributed(dist_backend="nccl" if device.type == "cuda" else "gloo")
    cache = _open_cache(config, rank)
    engine, ema = _engine(config, cache, device, deepspeed)
    step = _resume(engine, ema, out) if resume else 0
    if rank == 0:
        _write_start(out, config)
        offset = _drop_metrics_after(out / "metrics.jsonl", step)
        print(f"training on {size} rank(s), {device}, from step {step}", flush=True)
    else:
        offset = 0.0
    schedule = get_schedule(config.schedule)
    started, first = time.time(), step
    while step < config.steps:
        loss, ce = _train_step(engine, config, cache, schedule, step, rank, size, device)
        ema.update(engine.module)
        step += 1
        if rank == 0 and (step % config.log_every == 0 or step == config.steps):
            _log(out, config, step, loss, started, first, size * cache.tokens.shape[2] * cache.tokens.shape[3], offset,
                 ce)
        if step % config.checkpoint_every == 0 or step == config.steps:
            engine.save_checkpoint(str(out / "checkpoints"), tag=f"step{step:08d}",
                                   client_state={"step": step, "ema": ema.state_dict()})
    if rank == 0:
        _export(out, config, cache, ema)
    barrier()


def _open_cache(config: TrainConfig, rank: int):
    if config.synthetic and not (Path(config.cache) / "meta.json").is_file():
        if rank == 0:
            write_synthetic_cache(config.cache, frames=max(48, 2 * config.frames))
        barrier()
    return open_token_cache(config.cache)


def _engine(config: TrainConfig, cache, device, deepspeed):
    torch.manual_seed(config.seed)  # the same initial weights on every rank
    h, w = cache.tokens.shape[2:]
    model = build_backbone(config.preset, vocab_size=cache.vocab_size, max_frames=config.frames, height=h, width=w,
                           time_conditioning=config.time_conditioning)
    if config.init_from is not None:
        _warm_start(model, config.init_from)
    model.to(device)
    ema = EMA(model, config.ema_decay)
    engine, *_ = deepspeed.initialize(model=model, model_parameters=model.parameters(),
                                      config=config.deepspeed_config(device.type == "cuda"))
    return engine, ema


def _warm_start(model, folder: str) -> None:
    """Copy the weights of an exported model of the same architecture (one-line error otherwise)."""
    from maskbench.core.checkpoint import load_model
    from maskbench.core.errors import MaskbenchError

    source, _ = load_model(folder)
    diff = sorted(k for k in model.config if not k.startswith("_") and source.config.get(k) != model.config[k])
    if diff:
        raise MaskbenchError(f"init_from {folder} has another architecture (differs in {', '.join(diff)}); "
                             "use the same preset, frames and tokenizer")
    model.load_state_dict(source.state_dict())


def _resume(engine, ema: EMA, out: Path) -> int:
    """Continue from the latest checkpoint (optimizer state, step, EMA); 0 if there is none."""
    folder = out / "checkpoints"
    if not (folder / "latest").is_file():
        return 0
    path, client = engine.load_checkpoint(str(folder))
    if path is None:
        return 0
    ema.load_state_dict(client["ema"])
    return int(client["step"])


def _drop_metrics_after(path: Path, step: int) -> float:
    """Forget what a killed run logged after its last checkpoint: the resumed run redoes those steps.

    Returns the training wall time of the kept records (earlier sessions), 0 for a new run.
    """
    if not path.is_file():
        return 0.0
    kept = [json.loads(line) for line in path.read_text().splitlines() if json.loads(line)["step"] <= step]
    path.write_text("".join(json.dumps(record) + "\n" for record in kept))
    return kept[-1].get("wall_s", kept[-1]["elapsed_s"]) if kept else 0.0


def _train_step(engine, config: TrainConfig, cache, schedule, step: int, rank: int, size: int,
                device) -> tuple[float, float | None]:
    """One optimizer step of Algorithm 1 (``grad_accum`` micro-batches).

    Returns the mean loss and, with SNR weighting, the mean unweighted cross-entropy (else ``None``):
    the weighted loss of runs with different weights cannot be compared.
    """
    total, total_ce = 0.0, 0.0
    for micro in range(config.grad_accum):
        draw = step * config.grad_accum + micro
        tokens = window_batch(cache.tokens, config.frames, config.micro_batch, config.seed, draw, rank).to(device)
        generator = torch.Generator(device).manual_seed((config.seed * size + rank) * 1_000_003 + draw)
        t = draw_times(tokens.shape[0], tokens.shape[1], config.masking, generator, device)
        xt, masked = mask_tokens(tokens, t, schedule, engine.module.mask_id, generator)
        weights = None
        if config.snr_weighting:
            weights = fused_snr_weights(t, schedule, config.snr_clip, config.snr_decay, config.snr_formula)
        logits = engine(xt, t, masked)
        loss = masked_cross_entropy(logits, tokens, masked, weights)
        engine.backward(loss)
        engine.step()
        total += loss.detach().item()
        if weights is not None:
            total_ce += masked_cross_entropy(logits.detach(), tokens, masked).item()
    return total / config.grad_accum, total_ce / config.grad_accum if config.snr_weighting else None


def _log(out: Path, config: TrainConfig, step: int, loss: float, started: float, first: int, tokens_per_frame: int,
         offset: float, ce: float | None = None) -> None:
    """``tokens_per_frame`` counts every rank's tokens of one frame (world size x h x w); ``offset`` is
    the wall time of earlier sessions, so ``wall_s`` adds up across resumes."""
    elapsed = time.time() - started
    rate = (step - first) / max(elapsed, 1e-9)
    tokens = rate * config.micro_batch * config.grad_accum * config.frames * tokens_per_frame
    eta = (config.steps - step) / max(rate, 1e-9)
    record = {"step": step, "loss": loss, "steps_per_s": rate, "tokens_per_s": tokens, "elapsed_s": elapsed,
              "wall_s": offset + elapsed, **({"ce": ce} if ce is not None else {})}
    with (out / "metrics.jsonl").open("a") as handle:
        handle.write(json.dumps(record) + "\n")
    print(f"step {step}/{config.steps}  loss {loss:.4f}  {tokens:,.0f} tokens/s  ETA {eta / 60:.1f} min", flush=True)


def _write_start(out: Path, config: TrainConfig) -> None:
    from maskbench.core.provenance import versions

    out.mkdir(parents=True, exist_ok=True)
    with (out / "commands.txt").open("a") as handle:  # the first line started the run, later ones resumed it
        handle.write(" ".join(os.sys.argv) + "\n")
    (out / "config.yaml").write_text(yaml.safe_dump(dataclasses.asdict(config), sort_keys=False))
    (out / "versions.json").write_text(json.dumps(versions(), indent=2))


def _export(out: Path, config: TrainConfig, cache, ema: EMA) -> None:
    """Save the EMA model with its card, and the loss curve."""
    metrics = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    last, commands = metrics[-1], (out / "commands.txt").read_text().splitlines()
    recent = [m["loss"] for m in metrics if m["step"] > last["step"] - 100]
    lineage = _lineage(config.init_from, last)
    extra = {"steps": last["step"], "final_loss": last["loss"], "loss_mean_last_100_steps": sum(recent) / len(recent),
             "wall_time_s": last.get("wall_s", last["elapsed_s"]), "init_from": config.init_from,
             "command": commands[0], "resumed_with": commands[1:], "cache": config.cache, "recipe": _recipe(config),
             **_cross_entropy(metrics, last), **lineage, **config.extra}
    card = ModelCard(config.frames, config.context, config.stride, config.schedule, config.masking, config.tokenizer,
                     cache.meta["tokenizer"], config.frame_size, extra)
    save_model(copy.deepcopy(ema.model).to(getattr(torch, config.export_dtype)), out / "model", card)
    _plot(metrics, out / "loss.png", first=lineage.get("total_steps", last["step"]) - last["step"])


def _cross_entropy(metrics: list[dict], last: dict) -> dict:
    """With SNR weighting the loss is weighted: the unweighted cross-entropy is what compares with other runs."""
    recent = [m["ce"] for m in metrics if "ce" in m and m["step"] > last["step"] - 100]
    return {"final_ce": last["ce"], "ce_mean_last_100_steps": sum(recent) / len(recent)} if "ce" in last else {}


def _recipe(config: TrainConfig) -> dict:
    """The training choices where runs (and the paper's recipe) differ, so a card says how its model
    was trained (config.yaml beside the checkpoints does not ship)."""
    keys = ("masking", "snr_weighting", "snr_clip", "snr_decay", "snr_formula", "time_conditioning", "lr",
            "grad_clip", "ema_decay", "micro_batch", "grad_accum")
    return {key: getattr(config, key) for key in keys}


def _lineage(init_from: str | None, last: dict) -> dict:
    """For a run started from an exported model: that model's own record (``earlier``) and the totals
    over the whole chain, so that a card says how long its weights were trained, not only this run."""
    if init_from is None:
        return {}
    earlier = json.loads((Path(init_from) / CARD).read_text()).get("extra", {})
    steps = last["step"] + earlier.get("total_steps", earlier.get("steps", 0))
    wall = last.get("wall_s", last["elapsed_s"]) + earlier.get("total_wall_time_s", earlier.get("wall_time_s", 0.0))
    return {"total_steps": steps, "total_wall_time_s": wall, "earlier": earlier}


def _plot(metrics: list[dict], path: Path, first: int = 0) -> None:
    """The loss curve; ``first``: steps the weights had before this run (init_from), where its x axis starts."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3), dpi=120)
    ax.plot([first + m["step"] for m in metrics], [m["loss"] for m in metrics])
    ax.set_xlabel("step" + (f" (this run started from a model trained for {first})" if first else ""))
    ax.set_ylabel("masked cross-entropy")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
