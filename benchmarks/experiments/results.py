"""Regenerate docs/results.md (and the README's headline block) from the committed result files.

    python benchmarks/experiments/results.py [--collect [RUNS_DIR]] [--docs docs] [--readme README.md]

The paper-publication tool of this repository (package ``publish`` beside this file); the installed
framework does not depend on it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from maskbench.cli import Parser, existing_path, out_dir  # noqa: E402
from maskbench.core.errors import MaskbenchError  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="benchmarks/experiments/results.py",
               description="regenerate docs/results.md (tables, figures, discussion) from docs/results/")
    p.add_argument("--collect", nargs="?", const="runs/experiments", metavar="RUNS_DIR", type=existing_path,
                   help="first copy results.jsonl and run.json of <RUNS_DIR>/<grid>/<variant>/ into <docs>/results/ "
                        "(default RUNS_DIR: runs/experiments)")
    p.add_argument("--docs", default="docs", type=out_dir,
                   help="folder of results.md; its results/ sub-folder is the source (default docs)")
    p.add_argument("--paper", type=existing_path, help="the paper's reported values (default: paper.yaml beside this file)")
    p.add_argument("--readme", type=existing_path,
                   help="also rewrite this file's headline block (between <!-- headline:start ... --> and "
                        "<!-- headline:end -->) with Table 1, e.g. README.md; a file without it is left alone (default: none)")
    return p


def main(argv: list[str] | None = None) -> int:
    from publish.collect import collect_runs
    from publish.paper import PAPER_FILE
    from publish.results_page import update_readme, write_results_page

    args = build_parser().parse_args(argv)
    try:
        if args.collect:
            written = collect_runs(args.collect, Path(args.docs) / "results")
            print(f"collected {len(written)} variant folder(s) from {args.collect} into {Path(args.docs) / 'results'}")
        paper = args.paper or str(PAPER_FILE)
        print(f"wrote {write_results_page(args.docs, paper)}")
        if args.readme and update_readme(args.readme, args.docs, paper):
            print(f"updated the headline table in {args.readme}")
    except MaskbenchError as error:
        print(f"results.py: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
