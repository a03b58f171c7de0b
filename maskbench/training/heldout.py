"""Held-out masked cross-entropy: models compared on the same clips and masks (paired), unweighted.

The training loss of a run with fused-SNR weights is not comparable with that of a run without them;
plain cross-entropy over the masked tokens of held-out clips is. Every model sees the same draws
(clips, per-frame times, masks) for a given seed, so two models differ only by their predictions and
the per-clip differences give a paired interval.

    python -m maskbench.training.heldout --model maskbench/weights/latte-vizdoom-frame \\
        --cache data/vizdoom-tokens/test --clips 256 --seed 0 --json
    python -m maskbench.training.heldout --model runs/a --model runs/b --step 1000 --cache ...   # checkpoints
"""

from __future__ import annotations

import argparse
import json
import math
import pickle
import sys
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
import yaml

from maskbench.core.errors import MaskbenchError
from maskbench.core.token_cache import TokenCache, open_token_cache
from maskbench.training.masking import draw_times, mask_tokens
from maskbench.schedules import get_schedule

Z95 = 1.959963984540054  # two-sided 95% normal quantile


@dataclass(frozen=True)
class HeldOutDraws:
    """The fixed evaluation set: clean clips, per-frame times and masks, identical for every model.

    Attributes:
        tokens: long ``[N, F, h, w]`` clean clips.
        t: float ``[N, F]`` per-frame times (0 fully masked, 1 clean).
        masked: bool ``[N, F, h, w]``, the positions scored.
        videos: long ``[N]`` source video of each clip; ``starts``: long ``[N]`` its first frame.
    """

    tokens: torch.Tensor
    t: torch.Tensor
    masked: torch.Tensor
    videos: torch.Tensor
    starts: torch.Tensor


@dataclass(frozen=True)
class Estimate:
    """A mean over clips with its standard error and normal 95% interval."""

    mean: float
    stderr: float
    low: float
    high: float
    clips: int


@dataclass(frozen=True)
class HeldOutResult:
    """Held-out masked cross-entropy of one model (nats per masked token).

    Attributes:
        per_clip: float64 ``[N]`` mean cross-entropy over each clip's masked tokens (NaN: no masked token).
        overall: the mean over clips (each clip weighs the same), with its interval.
        by_t: one :class:`Estimate` per bin of the frame time ``t`` (``[lo, hi)``, the last one closed),
            over the clips with masked tokens in frames of that bin.
        bin_edges: ``bins + 1`` edges of the ``t`` bins.
    """

    per_clip: torch.Tensor
    overall: Estimate
    by_t: list[Estimate] = field(default_factory=list)
    by_t_per_clip: torch.Tensor | None = None
    bin_edges: list[float] = field(default_factory=list)

    def to_dict(self) -> dict:
        """JSON-ready summary (no per-clip values)."""
        bins = [{"t_low": lo, "t_high": hi, **vars(e)} for lo, hi, e in zip(self.bin_edges, self.bin_edges[1:], self.by_t)]
        return {**vars(self.overall), "by_t": bins}


def heldout_draws(cache: TokenCache, frames: int, clips: int, seed: int, masking: str = "frame",
                  schedule: str = "sigmoid") -> HeldOutDraws:
    """Draw ``clips`` windows of ``frames`` frames and their masks from ``cache``, a pure function of the arguments.

    Times follow Algorithm 1 (``t ~ U(0, 1)`` per frame, ``masking="frame"``) or one ``t`` per clip
    (``"constant"``); a token of frame ``f`` is masked with probability ``1 - kappa(t_f)``.

    Raises:
        MaskbenchError: ``clips < 1`` or videos shorter than ``frames``.
    """
    if clips < 1:
        raise MaskbenchError(f"--clips must be at least 1, got {clips}")
    videos, length = cache.tokens.shape[:2]
    if length < frames:
        raise MaskbenchError(f"the cache's videos have {length} frames, fewer than the model's window of {frames}")
    generator = torch.Generator().manual_seed(seed)
    which = torch.randint(videos, (clips,), generator=generator)
    starts = torch.randint(length - frames + 1, (clips,), generator=generator)
    tokens = torch.stack([cache.clip(int(v), int(s), int(s) + frames) for v, s in zip(which, starts)])
    t = draw_times(clips, frames, masking, generator)
    _, masked = mask_tokens(tokens, t, get_schedule(schedule), 0, generator)  # the mask id is set per model
    return HeldOutDraws(tokens, t, masked, which, starts)


@torch.no_grad()
def heldout_cross_entropy(model: torch.nn.Module, draws: HeldOutDraws, batch: int = 16, bins: int = 5) -> HeldOutResult:
    """Unweighted masked cross-entropy of ``model`` on ``draws``, per clip, overall and by frame time.

    Args:
        model: a backbone ``(tokens [B, F, h, w], t [B, F], where [B, F, h, w]) -> logits [N, K]``
            (rows in the order of ``tokens[where]``) with a ``mask_id``.
        draws: from :func:`heldout_draws`.
        batch: clips per forward.
        bins: equal-width bins of ``t`` over ``[0, 1]`` for :attr:`HeldOutResult.by_t` (0: none).
    """
    edges = torch.linspace(0, 1, bins + 1, dtype=torch.float64) if bins else torch.zeros(1, dtype=torch.float64)
    sums = torch.zeros(len(draws.tokens), max(bins, 1) + 1, dtype=torch.float64)  # column 0: all tokens
    counts = torch.zeros_like(sums)
    for lo in range(0, len(draws.tokens), batch):
        part = slice(lo, lo + batch)
        tokens, t, masked = draws.tokens[part], draws.t[part], draws.masked[part]
        logits = model(tokens.masked_fill(masked, model.mask_id), t, masked)
        ce = F.cross_entropy(logits.float(), tokens[masked], reduction="none").double()
        where = masked.nonzero()  # row-major, the order of the logits' rows
        clip, frame_t = where[:, 0] + lo, t[where[:, 0], where[:, 1]].double()
        column = 1 + (torch.bucketize(frame_t, edges[1:-1], right=True) if bins else torch.zeros_like(clip))
        for col in (torch.zeros_like(clip), column):
            sums.index_put_((clip, col), ce, accumulate=True)
            counts.index_put_((clip, col), torch.ones_like(ce), accumulate=True)
    per = sums / counts  # NaN where a clip has no masked token (in that bin)
    return HeldOutResult(per[:, 0], estimate(per[:, 0]), [estimate(per[:, b]) for b in range(1, bins + 1)],
                         per[:, 1:] if bins else None, edges.tolist() if bins else [])


def estimate(values: torch.Tensor) -> Estimate:
    """Mean of the finite ``values`` ``[N]`` with standard error ``sd / sqrt(n)`` and normal 95% interval."""
    values = values[torch.isfinite(values)].double()
    n = len(values)
    mean = values.mean().item() if n else math.nan
    stderr = (values.std(unbiased=True) / math.sqrt(n)).item() if n > 1 else math.nan
    return Estimate(mean, stderr, mean - Z95 * stderr, mean + Z95 * stderr, n)


def paired_difference(a: HeldOutResult, b: HeldOutResult) -> dict:
    """``b - a`` over the clips both scored (same draws), overall and per ``t`` bin: negative means ``b`` is better."""
    out = {"overall": vars(estimate(b.per_clip - a.per_clip))}
    if a.by_t_per_clip is not None and b.by_t_per_clip is not None:
        out["by_t"] = [vars(estimate(b.by_t_per_clip[:, i] - a.by_t_per_clip[:, i])) for i in range(a.by_t_per_clip.shape[1])]
    return out


def load_for_heldout(path: str | Path, step: int | None = None) -> tuple[torch.nn.Module, dict]:
    """A model to score: an exported folder, or a training run's exported model or its checkpoint at ``step``.

    Returns:
        ``(model in eval mode, info)``; ``info`` has ``frames``, ``schedule``, ``masking``,
        ``tokenizer_identity``, ``train_cache`` and ``source`` (what was loaded).

    Raises:
        MaskbenchError: no such folder, no checkpoint at ``step``, or a damaged one.
    """
    from maskbench.core.checkpoint import load_model

    path = Path(path)
    if step is None:
        folder = path if (path / "config.json").is_file() or not (path / "checkpoints").is_dir() else path / "model"
        model, card = load_model(folder)
        info = {"frames": card.frames, "schedule": card.schedule, "masking": card.masking,
                "tokenizer_identity": card.tokenizer_identity, "train_cache": card.extra.get("cache"),
                "source": str(folder), "steps": card.extra.get("steps")}
        return model, info
    return _load_checkpoint(path, step)


def _load_checkpoint(run: Path, step: int) -> tuple[torch.nn.Module, dict]:
    """The EMA weights of a DeepSpeed checkpoint of ``run`` (what an export at that step would ship)."""
    from maskbench.core.backbone import build_backbone

    files = sorted((run / "checkpoints" / f"step{step:08d}").glob("*model_states.pt"))
    if not (run / "config.yaml").is_file() or not files:
        raise MaskbenchError(f"no checkpoint at step {step} in {run} (expected {run}/checkpoints/step{step:08d}/ "
                             "and config.yaml); pick a step that is a multiple of the run's checkpoint_every")
    config = yaml.safe_load((run / "config.yaml").read_text())
    cache = open_token_cache(config["cache"])  # the training cache gives vocabulary, grid and tokenizer
    h, w = cache.tokens.shape[2:]
    model = build_backbone(config["preset"], vocab_size=cache.vocab_size, max_frames=config["frames"], height=h,
                           width=w, time_conditioning=config.get("time_conditioning", True))
    try:
        # DeepSpeed's file holds its own objects beside the tensors; it is a local file of our own run.
        state = torch.load(files[0], map_location="cpu", weights_only=False)
        model.load_state_dict(state["ema"]["weights"] if "weights" in state["ema"] else state["ema"])
    except (OSError, RuntimeError, KeyError, EOFError, ValueError, pickle.UnpicklingError) as error:
        raise MaskbenchError(f"checkpoint {files[0]} is damaged or not a maskbench run's ({type(error).__name__}: "
                             f"{str(error).splitlines()[0][:200]})") from None
    info = {"frames": config["frames"], "schedule": config["schedule"], "masking": config["masking"],
            "tokenizer_identity": cache.meta["tokenizer"], "train_cache": config["cache"], "source": str(files[0]),
            "steps": step}
    return model.eval(), info


def evaluate(paths: list[str], cache_path: str, clips: int, seed: int, masking: str, bins: int,
             step: int | None = None, batch: int = 16) -> dict:
    """Score every model on one set of draws; with two or more, paired differences against the first.

    Raises:
        MaskbenchError: a model the cache does not fit (other tokenizer, window or grid), or models
            that disagree on window or schedule (their draws would differ).
    """
    loaded = [load_for_heldout(p, step) for p in paths]
    geometry = {(info["frames"], info["schedule"]) for _, info in loaded}
    if len(geometry) > 1:
        raise MaskbenchError(f"the models differ in window or schedule {sorted(geometry)}: their draws would not be paired")
    frames, schedule = geometry.pop()
    cache = open_token_cache(cache_path, loaded[0][1]["tokenizer_identity"] or None)
    draws = heldout_draws(cache, frames, clips, seed, masking, schedule)
    results, records = [], []
    for (model, info), path in zip(loaded, paths):
        _check_fits(model, info, cache)
        result = heldout_cross_entropy(model, draws, batch, bins)
        results.append(result)
        records.append({"model": path, **info, "same_cache_as_training": _same(info["train_cache"], cache_path),
                        **result.to_dict()})
    for record, result in zip(records[1:], results[1:]):
        record["minus_first"] = paired_difference(results[0], result)
    return {"cache": cache_path, "clips": clips, "seed": seed, "masking": masking, "frames": frames, "step": step,
            "models": records}


def _check_fits(model: torch.nn.Module, info: dict, cache: TokenCache) -> None:
    if info["tokenizer_identity"] and cache.meta["tokenizer"] != info["tokenizer_identity"]:
        raise MaskbenchError(f"{info['source']} was trained on tokens of {info['tokenizer_identity']}, the cache holds "
                             f"{cache.meta['tokenizer']}'s")
    grid = tuple(cache.tokens.shape[2:])
    if model.config.vocab_size != cache.vocab_size or grid != (model.config.height, model.config.width):
        raise MaskbenchError(f"{info['source']} takes {model.config.vocab_size} token ids on a "
                             f"{model.config.height}x{model.config.width} grid, the cache has {cache.vocab_size} on "
                             f"{grid[0]}x{grid[1]}")


def _same(a: str | None, b: str) -> bool:
    return a is not None and Path(a).resolve() == Path(b).resolve()


def main(argv: list[str] | None = None) -> int:
    """Command line: one summary line per model (or ``--json``); exit 2 with one line on bad input."""
    parser = argparse.ArgumentParser(prog="python -m maskbench.training.heldout", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", required=True,
                        help="exported model folder or training run folder (repeat to compare on the same draws)")
    parser.add_argument("--step", type=int, help="score run folders' checkpoints at this step (EMA weights)")
    parser.add_argument("--cache", required=True, help="held-out token cache (e.g. data/vizdoom-tokens/test)")
    parser.add_argument("--clips", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--masking", choices=("frame", "constant"), default="frame")
    parser.add_argument("--bins", type=int, default=5, help="bins of t for the cross-entropy by time (0: none)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--json", action="store_true", help="print the full result as JSON")
    parser.add_argument("--out", help="also write the JSON result to this file")
    args = parser.parse_args(argv)
    try:
        if args.bins < 0 or args.batch < 1:
            raise MaskbenchError(f"need --bins >= 0 and --batch >= 1, got {args.bins} and {args.batch}")
        result = evaluate(args.model, args.cache, args.clips, args.seed, args.masking, args.bins, args.step, args.batch)
    except MaskbenchError as error:
        print(f"heldout: error: {error}", file=sys.stderr)
        return 2
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2) if args.json else _summary(result))
    return 0


def _summary(result: dict) -> str:
    lines = []
    for record in result["models"]:
        line = (f"{record['model']}: masked CE {record['mean']:.4f} ± {Z95 * record['stderr']:.4f} "
                f"({record['clips']} clips, {result['masking']} masking)")
        if "minus_first" in record:
            diff = record["minus_first"]["overall"]
            line += f"; minus first {diff['mean']:+.4f} [{diff['low']:+.4f}, {diff['high']:+.4f}]"
        lines.append(line)
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
