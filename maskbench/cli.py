"""``maskbench`` command line: subcommands -> typed configs -> library calls.

Heavy imports (torch, deepspeed, vizdoom, matplotlib) happen inside the commands, so ``--help``
answers at once.
"""

from __future__ import annotations

import argparse
import sys
from typing import Callable, Sequence

from maskbench.bench.config import DEFAULT_SAMPLERS
from maskbench.core.config import (add_arguments, config_from_args, count, device_name, existing_path, fraction,
                                   int_list, name_list, positive_float, positive_int, split_name)
from maskbench.core.errors import MaskbenchError


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage dump) and exit code 2."""

    def error(self, message: str):  # noqa: D102 - argparse API
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def out_dir(text: str) -> str:
    """An output folder that is, or can be made, writable (nothing is created while parsing)."""
    from maskbench.bench.preflight import check_out

    try:
        check_out(text, flag="folder")
    except MaskbenchError as error:
        raise argparse.ArgumentTypeError(str(error).removeprefix("folder ")) from None
    return text


def opt_pair(text: str) -> str:
    """``SAMPLER.OPTION=VALUE`` (its value is typed and checked against the sampler's options later)."""
    key, sep, _ = text.partition("=")
    sampler, dot, option = key.partition(".")
    if not sep or not dot or not sampler or not option:
        raise argparse.ArgumentTypeError(f"expected SAMPLER.OPTION=VALUE, e.g. mgm.steps=10, got {text!r}")
    return text


def add_sampler_arguments(p: argparse.ArgumentParser, default: str) -> None:
    p.add_argument("--samplers", type=name_list, default=name_list(default),
                   help=f"registered sampler names, comma-separated (default: {default}; list: `maskbench samplers`)")
    p.add_argument("--opt", action="append", default=[], metavar="SAMPLER.OPTION=VALUE", type=opt_pair,
                   help="set a sampler option, repeatable, e.g. --opt mgm.steps=10 (options: `maskbench samplers`)")
    p.add_argument("--time-independent", action="store_true", help="pass t = 0 to the model for every frame at every step, every sampler (paper eq. 8; default off; "
                        "MGM's default mgm.time=zeros already does)")


def cmd_nfe(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    from maskbench.bench.config import sampler_options
    from maskbench.bench.nfe import NFEConfig, nfe_rows

    config = NFEConfig(samplers=sampler_options(args.samplers, args.opt), frames=args.frames, context=args.context,
                       stride=args.stride, factors=args.extrap, time_independent=args.time_independent)
    rows = nfe_rows(config, progress=True)
    if args.format == "csv":
        print("sampler,extrap,nfe")
        for row in rows:
            print(f"{row['sampler']},{row['extrap']},{row['nfe']}")
    else:
        factors = list(dict.fromkeys(r["extrap"] for r in rows))
        nfe = {(r["sampler"], r["extrap"]): r["nfe"] for r in rows}
        table = [[name, *(nfe[name, x] for x in factors)] for name in config.samplers]
        print(tabulate(table, headers=["NFE", *(f"{x}x" for x in factors)], tablefmt="github"))
    return 0


def cmd_samplers(args: argparse.Namespace) -> int:
    import dataclasses

    from maskbench.samplers import describe_option, registered_samplers

    for name, cls in sorted(registered_samplers().items()):
        summary = next(iter((cls.__doc__ or "").strip().splitlines()), "")
        exact = "exact under an exact posterior" if cls.exact else "heuristic"
        print(f"{name}: {summary} (revision {cls.revision}, {exact})")
        for f in dataclasses.fields(cls.Options):
            print(f"    {name}.{f.name} = {f.default!r}  {describe_option(f)}")
    return 0


def run_config(args: argparse.Namespace, videos: int):
    """``maskbench run``'s arguments as a validated :class:`~maskbench.bench.config.RunConfig`."""
    from maskbench.bench.config import RunConfig, sampler_options

    return config_from_args(RunConfig, args, samplers=sampler_options(args.samplers, args.opt), videos=videos,
                            split=None if args.split == "all" else (args.split or "test"))


def cmd_run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from maskbench.bench import preflight

    # 1. Everything that needs no torch: answers at once, writes nothing.
    preflight.check_out(args.out)
    preflight.check_data(args.data, args.split)
    preflight.check_existing(args.tokenizer_path, "--tokenizer-path")
    card = preflight.check_model(args.model or preflight.DEFAULT_MODEL, args.tokenizer)
    # 2. The config (samplers, options, numbers, combinations), then geometry, tokenizer name, I3D weights,
    #    device: still before any weights are loaded.
    from maskbench.core.distributed import local_device
    from maskbench.bench.context import default_videos

    config = run_config(args, args.videos if args.videos is not None else default_videos(local_device(args.device)))
    from maskbench.bench.resume import finished_already
    from maskbench.bench.run import run_benchmark
    from maskbench.report.tables import FEW_VIDEOS

    out = Path(config.out)
    if not finished_already(config, out):  # a finished run needs none of what follows
        preflight.check_before_loading(config, card)
        # 3. The work.
        run_benchmark(config)
    written = [name for name in ("results.md", "results.csv", "fvd_vs_nfe.png", "run.json", "estimate.json")
               if (out / name).exists()]
    grids = sorted(path.name for path in out.glob("grid_*x.gif"))
    print(f"results in {out}: {', '.join(written + grids)}")
    if config.fvd and config.videos < FEW_VIDEOS:
        print(f"note: FVD from {config.videos} videos per cell (fewer than {FEW_VIDEOS}) is biased and not comparable "
              "with published numbers; raise --videos for comparable FVD")
    return 0


def add_run_parser(sub) -> None:
    from maskbench.bench.config import RunConfig

    p = sub.add_parser("run", help="samplers x extrapolation factors: counted NFE, seconds, FVD, tables, plots, videos")
    add_sampler_arguments(p, ",".join(DEFAULT_SAMPLERS))
    add_arguments(p, RunConfig, only=("factors", "model", "tokenizer", "tokenizer_path", "data", "split", "videos",
                                      "frames", "context", "stride", "seed", "device", "batch_size", "out", "fvd",
                                      "samples"), options={"out": dict(type=out_dir)})
    add_fvd_protocol_argument(p)
    p.set_defaults(func=cmd_run)


def cmd_experiment(args: argparse.Namespace) -> int:
    from maskbench.core.distributed import world
    from maskbench.bench.experiments import load_grid, run_grid

    grid = load_grid(args.grid)
    runs = grid.configs(out=args.out, only=args.variants, samplers=args.samplers, factors=args.extrap,
                        videos=args.videos, device=args.device,
                        batch_size=args.batch_size, fvd=args.fvd, fvd_protocol=args.fvd_protocol)
    outs = run_grid(grid, runs)
    if world()[0] == 0:
        print(f"{grid.name}: {len(outs)} variant(s) in {outs[0].parent}; collect with `python benchmarks/experiments/results.py --collect {outs[0].parent.parent}`")
    return 0


def add_experiment_parser(sub) -> None:
    p = sub.add_parser("experiment", help="run a named grid of `maskbench run` variants (benchmarks/experiments/*.yaml)")
    p.add_argument("grid", type=existing_path, help="grid file, e.g. benchmarks/experiments/table1.yaml")
    p.add_argument("--videos", type=positive_int, help="videos per cell for every variant (default: the grid's)")
    p.add_argument("--out", type=out_dir, help="output folder, one sub-folder per variant (default runs/experiments/<grid name>)")
    p.add_argument("--device", type=device_name, help="auto, cpu, cuda, cuda:1, ... (default: the grid's, else auto)")
    p.add_argument("--batch-size", type=positive_int, help="videos sampled together (default 8 on CPU, 32 on CUDA)")
    p.add_argument("--no-fvd", dest="fvd", action="store_false", default=None,
                   help="skip FVD (NFE and timing only; default: the grid's)")
    p.add_argument("--variants", type=name_list, default=(), help="run only these variants, comma-separated (default: all)")
    p.add_argument("--samplers", type=name_list, default=(),
                   help="run only these of each variant's samplers, comma-separated, e.g. mgm (default: all)")
    p.add_argument("--extrap", type=int_list, default=(),
                   help="run only these of each variant's extrapolation factors, comma-separated, e.g. 1,2 (default: all)")
    add_fvd_protocol_argument(p, default=None)
    p.set_defaults(func=cmd_experiment)


def cmd_data_vizdoom(args: argparse.Namespace) -> int:
    from maskbench.core.data import default_data_dir
    from maskbench.core.data.vizdoom import render_dataset

    result = render_dataset(args.out or default_data_dir(), videos=args.videos, frames=args.frames, size=args.size,
                            seed=args.seed, workers=args.workers, test_fraction=args.test_fraction)
    print(f"{result.path}: {result.videos_rendered} videos rendered in {result.seconds:.0f} s "
          f"({result.fps_per_process:.0f} frames/s per process)")
    return 0


def add_data_parser(sub) -> None:
    p = sub.add_parser("data", help="build data sets")
    data = p.add_subparsers(dest="dataset", required=True, parser_class=Parser)
    v = data.add_parser("vizdoom", help="render the embedded ViZDoom maze random-walk data set (lossless shards)")
    v.add_argument("--videos", type=positive_int, default=625, help="videos to render (default 625, about 2.2 GB)")
    v.add_argument("--frames", type=positive_int, default=300, help="frames per video (default 300)")
    v.add_argument("--size", type=positive_int, default=64, help="frame side in pixels (default 64)")
    v.add_argument("--seed", type=count, default=0, help="data set seed: video i depends on (seed, i) only (default 0)")
    v.add_argument("--workers", type=positive_int, help="render processes (default: all cores)")
    v.add_argument("--test-fraction", type=fraction, default=0.2, help="share of videos in the test split (default 0.2)")
    v.add_argument("--out", type=out_dir, help="output folder (default: $MASKBENCH_DATA or ~/.cache/maskbench/vizdoom)")
    v.set_defaults(func=cmd_data_vizdoom)


def cmd_fvd(args: argparse.Namespace) -> int:
    import json

    from maskbench.bench.compare import CompareConfig, fvd_between

    if args.size is not None:  # removed: it resized before I3D, a second resize the protocol does not have
        raise MaskbenchError("--size was removed: frames are now read at their own resolution and resized only by "
                             "I3D's preprocessing (bilinear to 224, as StyleGAN-V); drop --size")
    result = fvd_between(config_from_args(CompareConfig, args, protocol=args.fvd_protocol))
    if args.json:
        print(json.dumps({**result.record(), "position": args.position, "seed": args.seed}))
    else:
        print(result.report())
    return 0


def add_fvd_protocol_argument(p: argparse.ArgumentParser, default: str | None = "full") -> None:
    """``--fvd-protocol`` (see :mod:`maskbench.metrics.protocols`); ``default`` ``None``: the grid's."""
    from maskbench.metrics.protocols import PROTOCOLS

    p.add_argument("--fvd-protocol", choices=PROTOCOLS, default=default,
                   help="frames I3D scores: full (the whole clip / rollout, as the paper), center16 (its 16 centre "
                        "frames, as the authors' fvd_external.py) or last16 (its last 16 frames: ours, beyond the "
                        f"ground-truth context) (default: {default or 'the grid’s, else full'})")


def add_fvd_parser(sub) -> None:
    from maskbench.bench.compare import CompareConfig

    p = sub.add_parser("fvd", help="FVD between two fixed video sets, each video once "
                                   "(folders of videos, of frame folders, or our shards)")
    add_arguments(p, CompareConfig, only=("real", "fake", "frames", "position", "videos", "seed", "device"))
    p.add_argument("--size", type=int, help=argparse.SUPPRESS)  # removed; cmd_fvd says so in one line
    add_fvd_protocol_argument(p)
    p.add_argument("--json", action="store_true",
                   help='print {"fvd", "fvd_low", "fvd_high", "kvd", "kvd_low", "kvd_high", "n_real", "n_fake", "frames", '
                        '"protocol", "ci_level", "ci_method", "ci_resamples", "position", "seed"} (default: a sentence)')
    p.set_defaults(func=cmd_fvd)


def cmd_tokenizer_train(args: argparse.Namespace) -> int:
    from maskbench.tokenizers.train import train_tokenizer

    result = train_tokenizer(args.data, args.out, steps=args.steps, batch_size=args.batch_size, lr=args.lr,
                             seed=args.seed, vocab_size=args.vocab_size, checkpoint_every=args.checkpoint_every,
                             keep_checkpoint=args.keep_checkpoint, init_from=args.init_from)
    print(f"tokenizer written to {args.out}: {result.card}")
    return 0


def cmd_tokenizer_eval(args: argparse.Namespace) -> int:
    from maskbench.metrics.fvd import fvd_report
    from maskbench.tokenizers.evaluate import ReconstructionConfig, evaluate_reconstruction

    r = evaluate_reconstruction(config_from_args(ReconstructionConfig, args))
    print(f"PSNR {r['psnr_db']:.2f} dB, {r['codes_used']} codes used (perplexity {r['perplexity']}); reconstruction "
          + fvd_report(r["videos"], r["videos"], r["reconstruction_fvd"]))
    print(f"wrote {args.out}/reconstruction.json and {args.out}/reconstruction.gif (real | reconstruction)")
    return 0


def cmd_tokenize(args: argparse.Namespace) -> int:
    from maskbench.core.data import default_data_dir, open_videos
    from maskbench.core.distributed import local_device
    from maskbench.core.token_cache import build_token_cache
    from maskbench.tokenizers.base import get_tokenizer

    device = local_device(args.device)
    tokenizer = get_tokenizer(args.tokenizer, args.tokenizer_path, device=device)
    videos = open_videos(args.data or default_data_dir(), size=args.size, split=None if args.split == "all" else args.split)
    cache = build_token_cache(videos, tokenizer, args.out, batch_size=args.batch_size)
    print(f"{args.out}: {cache.tokens.shape[0]} videos x {cache.tokens.shape[1]} frames of "
          f"{cache.tokens.shape[2]}x{cache.tokens.shape[3]} tokens ({tokenizer.name}, K={tokenizer.vocab_size})")
    return 0


def add_tokenizer_parsers(sub) -> None:
    from maskbench.tokenizers.evaluate import ReconstructionConfig

    p = sub.add_parser("tokenizer", help="train or evaluate a VQ tokenizer")
    tok = p.add_subparsers(dest="action", required=True, parser_class=Parser)
    t = tok.add_parser("train", help="train the ViZDoom VQ tokenizer (diffusers VQModel, f8)")
    t.add_argument("--data", required=True, type=existing_path, help="data set with train/test splits (maskbench data vizdoom)")
    t.add_argument("--out", required=True, type=out_dir, help="output folder (save_pretrained + training.json)")
    t.add_argument("--steps", type=positive_int, default=900, help="optimiser steps (default 900)")
    t.add_argument("--batch-size", type=positive_int, default=16, help="clips per step (default 16)")
    t.add_argument("--lr", type=positive_float, default=1e-3, help="learning rate (default 0.001)")
    t.add_argument("--vocab-size", type=positive_int, default=512, help="codebook size K (default 512)")
    t.add_argument("--checkpoint-every", type=positive_int, default=100, help="steps between checkpoints (default 100)")
    t.add_argument("--seed", type=count, default=0, help="seed of initialisation and batches (default 0)")
    t.add_argument("--init-from", type=existing_path,
                   help="start from this tokenizer folder (same architecture), e.g. maskbench/weights/vizdoom-vq (default: random)")
    t.add_argument("--keep-checkpoint", action="store_true",
                   help="keep checkpoint.pt after the final save, so that a later run with more --steps continues")
    t.set_defaults(func=cmd_tokenizer_train)
    e = tok.add_parser("eval", help="PSNR, codebook usage, reconstruction FVD and a real|reconstruction GIF")
    add_arguments(e, ReconstructionConfig, only=("data", "split", "tokenizer", "tokenizer_path", "videos", "frames",
                                                 "seed", "device", "out"), options={"out": dict(type=out_dir)})
    add_fvd_protocol_argument(e)
    e.set_defaults(func=cmd_tokenizer_eval)

    p = sub.add_parser("tokenize", help="tokenize a data set once into a memory-mapped token cache")
    p.add_argument("--data", type=existing_path, help="videos (default: the embedded ViZDoom set)")
    p.add_argument("--split", default="train", type=split_name, help="train, test or all (default train)")
    p.add_argument("--size", type=positive_int, default=64, help="frame size the tokenizer takes (default 64)")
    p.add_argument("--tokenizer", default="vizdoom-vq", help="tokenizer name (default vizdoom-vq)")
    p.add_argument("--tokenizer-path", type=existing_path, help="weights folder (vqgan: required; default: shipped weights)")
    p.add_argument("--batch-size", type=positive_int, default=4, help="videos per encode call (default 4)")
    p.add_argument("--device", type=device_name, default="auto", help="auto, cpu, cuda, cuda:1, ... (default auto)")
    p.add_argument("--out", required=True, type=out_dir, help="cache folder")
    p.set_defaults(func=cmd_tokenize)


def build_parser() -> Parser:
    parser = Parser(prog="maskbench", description="Benchmark samplers of masked-token video models.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    p = sub.add_parser("nfe", help="count every sampler's NFE against a weightless stand-in model")
    add_sampler_arguments(p, ",".join(DEFAULT_SAMPLERS))
    p.add_argument("--frames", type=positive_int, default=16, help="window length k (default 16)")
    p.add_argument("--context", type=positive_int, default=2, help="context frames m (default 2)")
    p.add_argument("--stride", type=positive_int, default=14, help="stride s <= k - m (default 14)")
    p.add_argument("--extrap", type=int_list, default=(1, 2, 5, 10),
                   help="extrapolation factors, comma-separated, L = x * k (default 1,2,5,10)")
    p.add_argument("--format", choices=("csv", "markdown"), default="markdown", help="output format (default markdown)")
    p.set_defaults(func=cmd_nfe)

    add_run_parser(sub)
    add_experiment_parser(sub)
    add_data_parser(sub)
    add_fvd_parser(sub)
    add_tokenizer_parsers(sub)

    p = sub.add_parser("samplers", help="list registered samplers and their options")
    p.set_defaults(func=cmd_samplers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args) or 0
    except MaskbenchError as error:
        print(f"maskbench: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("maskbench: interrupted; results already written are kept", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
