"""What produced a result: config, package versions, git commit, machine, device (``run.json``)."""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import subprocess
import sys
from dataclasses import asdict, is_dataclass
from datetime import datetime, timezone
from pathlib import Path

import torch

PACKAGES = ("maskbench", "torch", "diffusers", "numpy", "scipy", "deepspeed", "vizdoom", "einops", "pluggy")


def versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": sys.version.split()[0]}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def git_commit() -> str | None:
    root = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if commit.returncode != 0:
        return None
    return commit.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def machine(device: torch.device | str) -> dict:
    device = torch.device(device)
    info = {
        "host": platform.node(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_model": cpu_model(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),  # the kernels torch dispatches to (AVX2, AVX512, ...)
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": str(device),
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def cpu_model() -> str | None:
    """The CPU's model name (``/proc/cpuinfo``; ``None`` where there is none). Sampling is bitwise reproducible
    on one kind of CPU; another kind (other vector kernels) can round a near-tie in a token draw the other way."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return None
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), None)


def provenance(config, device: torch.device | str) -> dict:
    """Everything ``run.json`` holds."""
    return {
        "config": asdict(config) if is_dataclass(config) else dict(config),
        "argv": sys.argv,
        "versions": versions(),
        "git_commit": git_commit(),
        "machine": machine(device),
        "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def write_json(path: str | Path, data: dict) -> None:
    Path(path).write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


HISTORY = "runs.jsonl"  # <run folder>/runs.jsonl: every invocation's run.json, oldest first (run.json: the latest)


def read_history(folder: str | Path) -> list[dict]:
    """The invocations that wrote into a run folder: ``runs.jsonl``, else its one ``run.json``, else none."""
    folder = Path(folder)
    if (folder / HISTORY).is_file():
        return [json.loads(line) for line in (folder / HISTORY).read_text().splitlines() if line.strip()]
    return [json.loads((folder / "run.json").read_text())] if (folder / "run.json").is_file() else []


def invocation_for(runs: list[dict], finished: float | None, copied: bool = False) -> dict:
    """Of ``runs`` (:func:`read_history`), the one that measured a cell finished at ``finished`` (Unix time):
    the latest started at or before it; the latest of all when the time is unknown; ``{}`` without runs.

    A ``copied`` cell (an identical cell measured in another folder, copied with its original ``finished``)
    was written by the first invocation into this folder that started after the original finished.
    """
    if finished is None or not runs:
        return runs[-1] if runs else {}
    if copied:
        later = [r for r in runs if _started(r) >= finished]
        return later[0] if later else runs[-1]
    started = [r for r in runs if _started(r) <= finished]
    return started[-1] if started else runs[0]


def _started(run: dict) -> float:
    return datetime.fromisoformat(run["started"]).timestamp() if run.get("started") else float("-inf")
