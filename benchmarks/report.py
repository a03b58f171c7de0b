"""Speed targets (issues #6, #19, #22) from one `pytest --benchmark-only` run: each ratio with PASS / FAIL.

    pytest --benchmark-only                 # writes benchmarks/results/benchmark.json
    python benchmarks/report.py             # reads it, prints the targets, writes benchmarks/results/report.md

Every figure is read from the JSON of one run on one machine; nothing is typed in. Exit status 1
when a target fails, 2 when the JSON is missing or from an incomplete run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
BACKBONE_FLOOR, OVERHEAD_CEILING, NFE_FLOOR, MEMORY_CEILING, BATCH_FLOOR = 0.70, 0.05, 0.90, 1.20, 0.90
HEAD_FLOOR = 1.05
REFERENCE_CEILING, I3D_FLOOR = 1.0, 0.60


@dataclass
class Target:
    """One line of the report."""

    name: str
    measured: str
    passed: bool | None  # None: not measurable in this run (e.g. CUDA on a CPU machine)
    detail: str = ""

    @property
    def verdict(self) -> str:
        return {True: "PASS", False: "FAIL", None: "n/a"}[self.passed]


class Run:
    """The benchmarks of one pytest-benchmark JSON, by test function."""

    def __init__(self, data: dict):
        self.data = data
        self.by_function: dict[str, list[dict]] = {}
        for bench in data["benchmarks"]:
            self.by_function.setdefault(bench["name"].split("[")[0], []).append(bench)

    def get(self, function: str) -> list[dict]:
        found = self.by_function.get(function)
        if not found:
            raise LookupError(f"benchmark {function} is missing from the JSON; run the whole `pytest --benchmark-only`")
        return found


def median(bench: dict) -> float:
    return bench["stats"]["median"]


def backbone_efficiency(run: Run) -> Target:
    """FLOP/s counted by ``FlopCounterMode`` (attention included) over the rate of a 2048^2 fp32 matmul
    timed alternately with the forward in the same loop (``extra_info.of_matmul``)."""
    rows, passed = [], True
    for bench in run.get("test_forward_speed"):
        info = bench["extra_info"]
        ratio = info["of_matmul"]
        judged = info["default_preset"] and info["default_batch"]
        passed &= ratio >= BACKBONE_FLOOR or not judged
        rows.append(f"{info['preset']} b{info['batch']}: {ratio:.0%}{' (judged)' if judged else ''}")
    default = next(b for b in run.get("test_forward_speed") if b["extra_info"]["default_preset"] and b["extra_info"]["default_batch"])
    info = default["extra_info"]
    measured = (f"{info['of_matmul']:.0%} ({info['gflops']:.0f} of {info['matmul_gflops']:.0f} GFLOP/s; FLOPs counted by "
                f"FlopCounterMode, matmul 2048^2 fp32 alternated with the forward, {info.get('threads', '?')} threads)")
    return Target(f"1. backbone >= {BACKBONE_FLOOR:.0%} of matmul rate (default preset, default batch)", measured,
                  passed, "; ".join(rows))


def against_reference(run: Run) -> Target:
    """Median forward time of ours over the textbook reference (benchmarks/reference_latte.py), alternated."""
    parts, passed = [], True
    for bench in run.get("test_against_reference"):
        info = bench["extra_info"]
        passed &= info["ratio"] <= REFERENCE_CEILING
        parts.append(f"{info['preset']} b{info['batch']} {info['threads']}t {info['load']}: {info['ratio']:.2f}")
    worst = max(b["extra_info"]["ratio"] for b in run.get("test_against_reference"))
    return Target(f"1b. ours / textbook reference <= {REFERENCE_CEILING:.1f} (1 and 2 threads, quiet and loaded)",
                  f"worst {worst:.2f}; " + ", ".join(parts), passed,
                  "median forward times alternated in one process; loaded: two other processes doing 2-thread matmuls")


def i3d_efficiency(run: Run) -> Target:
    """I3D FLOP/s (FlopCounterMode) over the 2048^2 matmul rate alternated with it (README, "Speed")."""
    info = run.get("test_i3d_features_speed")[0]["extra_info"]
    measured = (f"{info['of_matmul']:.0%} ({info['gflops']:.0f} of {info['matmul_gflops']:.0f} GFLOP/s, "
                f"{info['gflop_per_clip']:.1f} GFLOP per 16x224x224 clip, {info['seconds_per_clip']:.2f} s per clip, "
                f"batch {info['batch']})")
    return Target(f"8. I3D features >= {I3D_FLOOR:.0%} of matmul rate", measured, info["of_matmul"] >= I3D_FLOOR)


def sampler_overhead(run: Run) -> Target:
    fractions = {b["extra_info"]["sampler"]: b["extra_info"]["overhead_fraction"] for b in run.get("test_window_overhead")}
    measured = ", ".join(f"{name} {value:.1%}" for name, value in sorted(fractions.items()))
    return Target(f"2. sampler overhead <= {OVERHEAD_CEILING:.0%} (MGM 20, FM 250 steps)", measured,
                  all(v <= OVERHEAD_CEILING for v in fractions.values()))


def masked_head(run: Run) -> Target:
    """Measurably cheaper: the median full-head forward at least 5% slower than the masked-head one."""
    parts, passed = [], True
    for bench in sorted(run.get("test_autoregressive_forward"), key=lambda b: b["extra_info"]["vocab_size"]):
        info = bench["extra_info"]
        ratio = info["full_s"] / info["masked_s"]
        passed &= ratio >= HEAD_FLOOR
        parts.append(f"K={info['vocab_size']}: full/masked {ratio:.2f}x")
    return Target(f"3. masked-only head >= {HEAD_FLOOR - 1:.0%} cheaper than full head (s=1, m=k-1)", ", ".join(parts),
                  passed, "medians of forwards alternating between the two heads")


def speed_follows_nfe(run: Run) -> Target:
    rollouts = {b["extra_info"]["sampler"]: b for b in run.get("test_rollout")}
    base = rollouts["mgm"]
    parts, passed = [], True
    for name in sorted(set(rollouts) - {"mgm"}):
        bench = rollouts[name]
        time_ratio = median(bench) / median(base)
        nfe_ratio = bench["extra_info"]["nfe"] / base["extra_info"]["nfe"]
        passed &= time_ratio >= NFE_FLOOR * nfe_ratio
        parts.append(f"{name}/mgm time {time_ratio:.1f}x vs NFE {nfe_ratio:.1f}x ({time_ratio / nfe_ratio:.0%})")
    return Target(f"4. wall-clock ratio >= {NFE_FLOOR:.0%} of NFE ratio (2x rollout)", "; ".join(parts), passed)


def bounded_memory(run: Run) -> Target:
    peaks = {b["extra_info"]["factor"]: b["extra_info"]["peak_bytes"] for b in run.get("test_rollout_peak_memory")}
    ratio = peaks[10] / max(peaks[2], 1)
    measured = f"10x/2x peak {ratio:.2f} ({peaks[10] / 2**20:.1f} MiB vs {peaks[2] / 2**20:.1f} MiB above baseline)"
    return Target(f"5. peak memory 10x <= {MEMORY_CEILING}x of 2x rollout", measured, ratio <= MEMORY_CEILING)


def batching(run: Run) -> Target:
    """Larger batches must never cost throughput, and the default must be near the best.

    Throughput "grows until the machine saturates": a batch may saturate it already (then the
    curve is flat), but no batch may fall below 90% of the best of the smaller ones.
    """
    info = run.get("test_mgm_window_throughput")[0]["extra_info"]
    curve = sorted((int(batch), fps) for batch, fps in info["frames_per_second"].items())
    best = max(fps for _, fps in curve)
    at_default = dict(curve)[info["default_batch"]]
    never_drops = all(fps >= BATCH_FLOOR * max(f for _, f in curve[:i]) for i, (_, fps) in enumerate(curve) if i)
    saturated = next(batch for batch, fps in curve if fps >= 0.95 * best)
    measured = (f"default batch {info['default_batch']}: {at_default / best:.0%} of best; saturates at batch {saturated}; "
                + ", ".join(f"b{batch} {fps:.1f}" for batch, fps in curve) + " frames/s")
    return Target(f"6. throughput never drops with batch; default batch >= {BATCH_FLOOR:.0%} of best", measured,
                  never_drops and at_default >= BATCH_FLOOR * best, "batch sizes measured round-robin, medians of 3")


def cuda(run: Run) -> Target:
    devices = {b["extra_info"].get("device", "cpu") for b in run.data["benchmarks"]}
    if not any(str(d).startswith("cuda") for d in devices):
        return Target("7. CUDA: bf16 autocast, SDPA, synchronised timing", "no CUDA device in this run", None)
    return Target("7. CUDA: bf16 autocast, SDPA, synchronised timing", f"measured on {sorted(devices)}", True)


CHECKS = (backbone_efficiency, against_reference, sampler_overhead, masked_head, speed_follows_nfe, bounded_memory,
          batching, cuda, i3d_efficiency)


def evaluate(data: dict) -> list[Target]:
    run = Run(data)
    return [check(run) for check in CHECKS]


def render(data: dict, targets: list[Target], source: str) -> str:
    from tabulate import tabulate

    machine = data.get("machine_info", {})
    cpu = machine.get("cpu", {}).get("brand_raw", machine.get("processor", "?"))
    threads = next((b["extra_info"].get("threads", "?") for b in data["benchmarks"] if b["name"] == "test_matmul_peak"), "?")
    header = (f"Speed targets from `{source}` ({data.get('datetime', '?')}; {cpu}, "
              f"{machine.get('cpu', {}).get('count', '?')} logical CPUs, torch at {threads} threads, "
              f"Python {machine.get('python_version', '?')})")
    table = tabulate([(t.name, t.measured, t.verdict) for t in targets], headers=("target", "measured", "result"),
                     tablefmt="github")
    details = "\n".join(f"- {t.name.split('.')[0]}: {t.detail}" for t in targets if t.detail)
    return f"{header}\n\n{table}\n\n{details}\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("json", nargs="?", default=str(RESULTS / "benchmark.json"), help="pytest-benchmark JSON")
    parser.add_argument("--markdown", default=str(RESULTS / "report.md"), help="where to write the report ('' for none)")
    args = parser.parse_args(argv)
    path = Path(args.json)
    try:
        data = json.loads(path.read_text())
        targets = evaluate(data)
    except FileNotFoundError:
        print(f"report.py: error: {path} does not exist; run `pytest --benchmark-only` first", file=sys.stderr)
        return 2
    except (json.JSONDecodeError, KeyError, LookupError, StopIteration) as error:
        print(f"report.py: error: {path} is not a complete benchmark run ({error}); rerun `pytest --benchmark-only`",
              file=sys.stderr)
        return 2
    text = render(data, targets, path.as_posix())
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text)
    return 0 if all(t.passed is not False for t in targets) else 1


if __name__ == "__main__":
    sys.exit(main())
