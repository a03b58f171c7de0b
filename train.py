"""Train the frame-masked Latte backbone (paper Algorithm 1) through DeepSpeed.

    deepspeed train.py --config configs/vizdoom-frame.yaml --out runs/frame      # all local GPUs / 1 CPU rank
    deepspeed --num_gpus 2 train.py --config configs/tiny.yaml --out runs/tiny   # 2 ranks (gloo on CPU)
    python train.py --config configs/tiny.yaml --out runs/tiny                   # one process, no launcher
    ... --resume                       continue from the latest checkpoint in --out
    ... --masking constant             the constant-masking baseline (one t per clip)
    ... masking=constant steps=2000    override any config key
"""

import argparse
import os
import sys
from pathlib import Path

from maskbench.core.errors import MaskbenchError


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", help="YAML training config (configs/*.yaml)")
    parser.add_argument("--out", default="runs/train", help="checkpoints, metrics, loss curve, exported model")
    parser.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in --out")
    parser.add_argument("--masking", choices=("frame", "constant"),
                        help="frame: per-frame t (Algorithm 1); constant: one t per clip (baseline); overrides the config")
    parser.add_argument("--local_rank", type=int, default=0, help=argparse.SUPPRESS)  # set by the deepspeed launcher
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE")
    args = parser.parse_intermixed_args()  # overrides may stand on both sides of a flag
    # A plain `python train.py` has no launcher: make it a one-rank job (else DeepSpeed tries MPI),
    # on a free port so that two such runs can share a machine.
    if "RANK" not in os.environ:
        for key, value in {"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "1", "MASTER_ADDR": "127.0.0.1"}.items():
            os.environ.setdefault(key, value)
        os.environ.setdefault("MASTER_PORT", str(_free_port()))
    try:
        # 1. Config: one YAML file plus overrides, validated before any work.
        from maskbench.training.config import load_config

        overrides = [*args.overrides, *([f"masking={args.masking}"] if args.masking else [])]
        config = load_config(args.config, overrides)
        # 2. Train: DeepSpeed engine, frame-level (or constant) masking, EMA, checkpoints; export.
        _quiet_libraries()
        from maskbench.training.loop import train

        train(config, Path(args.out), resume=args.resume)
        if os.environ.get("RANK", "0") == "0":
            print(_exported(config, Path(args.out) / "model"))
    except MaskbenchError as error:
        print(f"train.py: error: {error}", file=sys.stderr)
        return 2
    finally:
        # 3. Leave the process group cleanly: an abandoned gloo group can abort the process at exit.
        from maskbench.core.distributed import shutdown

        shutdown()
    return 0


def _quiet_libraries() -> None:
    """Silence what a user cannot act on: DeepSpeed's CPU-accelerator guess, diffusers' dtype-cast note."""
    import torch
    from diffusers.utils import logging as diffusers_logging

    if not torch.cuda.is_available():
        os.environ.setdefault("DS_ACCELERATOR", "cpu")  # said, not guessed: no "unable to detect" warning
    diffusers_logging.set_verbosity_error()


def _exported(config, model: Path) -> str:
    """Where the model went, and what it is good for."""
    if getattr(config, "synthetic", False):
        return (f"model exported to {model}: a smoke-test model (synthetic tokens no tokenizer decodes), which "
                "`maskbench run` refuses; train on real tokens (configs/vizdoom-frame.yaml) to benchmark one")
    return f"model exported to {model}; benchmark it with `maskbench run --model {model}`"


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


if __name__ == "__main__":
    sys.exit(main())
