"""``maskbench`` command line: subcommands -> typed configs -> library calls.

Heavy imports (torch, deepspeed, vizdoom, matplotlib) happen inside the commands, so ``--help``
answers at once.
"""

from __future__ import annotations

import argparse
import sys
from typing import Callable, Sequence

from maskbench.core.errors import MaskbenchError


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage dump) and exit code 2."""

    def error(self, message: str):  # noqa: D102 - argparse API
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def int_list(text: str) -> tuple[int, ...]:
    """``"1,2,5"`` -> ``(1, 2, 5)``; anything else is a one-line argparse error."""
    try:
        values = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError("expected at least one integer")
    return values


def name_list(text: str) -> tuple[str, ...]:
    from maskbench.core.plugins import parse_names

    return tuple(parse_names(text))


def sampler_options(pairs: Sequence[str], names: Sequence[str], time_independent: bool) -> dict:
    """Build every named sampler from ``--opt sampler.option=value`` pairs (validated, typed)."""
    from maskbench.samplers import get_sampler, parse_option

    options: dict[str, dict] = {name: {} for name in names}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        sampler, dot, option = key.partition(".")
        if not sep or not dot:
            raise MaskbenchError(f"--opt expects SAMPLER.OPTION=VALUE, got {pair!r}")
        if sampler not in options:
            raise MaskbenchError(f"--opt {pair!r} names sampler {sampler!r}, which is not in --samplers")
        options[sampler][option] = parse_option(get_sampler(sampler).Options, option, value)
    if time_independent:
        for opts in options.values():
            opts.setdefault("time_independent", True)
    return {name: get_sampler(name)(**opts) for name, opts in options.items()}


def add_sampler_arguments(p: argparse.ArgumentParser, default: str) -> None:
    p.add_argument("--samplers", type=name_list, default=name_list(default), help=f"registered sampler names (default: {default})")
    p.add_argument("--opt", action="append", default=[], metavar="SAMPLER.OPTION=VALUE",
                   help="set a sampler option, e.g. --opt mgm.steps=10 (see `maskbench samplers`)")
    p.add_argument("--time-independent", action="store_true", help="pass t = 0 to the model (paper eq. 8)")


def cmd_nfe(args: argparse.Namespace) -> int:
    from tabulate import tabulate

    from maskbench.core.nfe import NFEConfig, nfe_rows

    config = NFEConfig(args.samplers, args.frames, args.context, args.stride, args.extrap)
    samplers = sampler_options(args.opt, config.samplers, args.time_independent)
    rows = nfe_rows(config, samplers)
    if args.format == "csv":
        print("sampler,extrap,nfe")
        for row in rows:
            print(f"{row['sampler']},{row['extrap']},{row['nfe']}")
    else:
        print(tabulate([[r["sampler"], f"{r['extrap']}x", r["nfe"]] for r in rows], headers=["sampler", "extrap", "NFE"], tablefmt="github"))
    return 0


def cmd_samplers(args: argparse.Namespace) -> int:
    import dataclasses

    from maskbench.samplers import registered_samplers

    for name, cls in sorted(registered_samplers().items()):
        print(f"{name}: {(cls.__doc__ or '').strip().splitlines()[0]}")
        for f in dataclasses.fields(cls.Options):
            print(f"    {name}.{f.name} = {f.default!r}  {f.metadata.get('help', '')}")
    return 0


def build_parser() -> Parser:
    parser = Parser(prog="maskbench", description="Benchmark samplers of masked-token video models.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    p = sub.add_parser("nfe", help="count every sampler's NFE against a weightless stand-in model")
    add_sampler_arguments(p, "mgm,fm,df,rdm")
    p.add_argument("--frames", type=int, default=16, help="window length k (default 16)")
    p.add_argument("--context", type=int, default=2, help="context frames m (default 2)")
    p.add_argument("--stride", type=int, default=14, help="stride s <= k - m (default 14)")
    p.add_argument("--extrap", type=int_list, default=(1, 2, 5, 10), help="extrapolation factors, L = x * k")
    p.add_argument("--format", choices=("csv", "markdown"), default="markdown")
    p.set_defaults(func=cmd_nfe)

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


if __name__ == "__main__":
    sys.exit(main())
