"""benchmarks/report.py judges each speed target from a pytest-benchmark JSON (fabricated here)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("maskbench_bench_report", ROOT / "benchmarks" / "report.py")
report = sys.modules["maskbench_bench_report"] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(report)


def bench(name, median, lo=None, hi=None, **info):
    return {"name": name, "stats": {"median": median, "min": lo or median, "max": hi or median}, "extra_info": info}


def run_json(forward_gflops=90.0, fm_overhead=0.02, fm_seconds=12.0, peak10=11 << 20, best_batch=16,
             head_ratio=1.5, reference_ratio=0.8, i3d_gflops=70.0):
    marks = [bench("test_matmul_peak", 0.1, gflops=100.0)]
    marks += [bench(f"test_forward_speed[cpu-{b}]", 0.1, preset="cpu", batch=b, default_batch=b == 8,
                    default_preset=True, gflops=forward_gflops if b == 8 else 10.0, matmul_gflops=100.0,
                    of_matmul=(forward_gflops if b == 8 else 10.0) / 100.0, threads=2) for b in (1, 8)]
    marks += [bench("test_against_reference", 1.0, preset=p, batch=8, threads=n, load=load,
                    ratio=reference_ratio if (p, n, load) == ("S/2", 2, "loaded") else 0.7)
              for p in ("cpu", "S/2") for n in (1, 2) for load in ("quiet", "loaded")]
    marks.append(bench("test_i3d_features_speed", 1.0, gflops=i3d_gflops, matmul_gflops=100.0, of_matmul=i3d_gflops / 100,
                       gflop_per_clip=55.6, seconds_per_clip=1.0, batch=4))
    marks += [bench("test_window_overhead[mgm]", 1.0, sampler="mgm", overhead_fraction=0.01),
              bench("test_window_overhead[fm]", 1.0, sampler="fm", overhead_fraction=fm_overhead)]
    marks += [bench("test_autoregressive_forward", 1.0, vocab_size=vocab, masked_s=1.0, full_s=head_ratio)
              for vocab in (1024, 16384)]
    marks += [bench("test_rollout[mgm]", 1.0, sampler="mgm", nfe=60),
              bench("test_rollout[fm]", fm_seconds, sampler="fm", nfe=750)]
    marks += [bench("test_rollout_peak_memory", 1, factor=2, peak_bytes=10 << 20),
              bench("test_rollout_peak_memory", 1, factor=10, peak_bytes=peak10)]
    curve = {"1": 10.0, "8": 50.0 if best_batch == 8 else 48.0, "16": 50.0 if best_batch == 16 else 30.0}
    if best_batch == 32:
        curve["32"] = 80.0
    marks.append(bench("test_mgm_window_throughput", 1, default_batch=8, frames_per_second=curve))
    return {"benchmarks": marks, "machine_info": {"cpu": {"brand_raw": "test CPU", "count": 2}}}


def verdicts(data):
    return [t.verdict for t in report.evaluate(data)]


def test_all_targets_pass_on_a_good_run():
    assert verdicts(run_json()) == ["PASS"] * 7 + ["n/a", "PASS"]


@pytest.mark.parametrize("change, index", [(dict(forward_gflops=60.0), 0), (dict(reference_ratio=1.05), 1),
                                           (dict(fm_overhead=0.08), 2), (dict(fm_seconds=10.0), 4),
                                           (dict(peak10=13 << 20), 5), (dict(best_batch=32), 6),
                                           (dict(head_ratio=1.02), 3), (dict(i3d_gflops=55.0), 8)])
def test_each_target_can_fail(change, index):
    data = run_json(**change)
    got = verdicts(data)
    assert got[index] == "FAIL" and got.count("FAIL") == 1, got


def test_cli_writes_markdown_and_fails_cleanly(tmp_path, capsys):
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(run_json(fm_overhead=0.5)))
    assert report.main([str(path), "--markdown", str(tmp_path / "r.md")]) == 1
    assert "FAIL" in (tmp_path / "r.md").read_text() and "test CPU" in capsys.readouterr().out
    assert report.main([str(tmp_path / "missing.json"), "--markdown", ""]) == 2
    path.write_text(json.dumps({"benchmarks": []}))
    assert report.main([str(path), "--markdown", ""]) == 2
    assert "rerun `pytest --benchmark-only`" in capsys.readouterr().err
