"""End to end: ``maskbench run`` on a tiny model, tokenizer and rendered data, with real I3D FVD."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FRAMES, CONTEXT, STRIDE = 5, 1, 4  # the tiny model of conftest.py


def run_args(assets, out, *extra, samplers="mgm,fm", extrap="2,3"):
    return ["run", "--model", str(assets / "model"), "--tokenizer", "vqgan", "--tokenizer-path", str(assets / "vq"),
            "--data", str(assets / "data"), "--split", "all", "--videos", "2", "--batch-size", "1",
            "--samplers", samplers, "--extrap", extrap, "--opt", "mgm.steps=4", "--opt", "fm.steps=5",
            "--out", str(out), *extra]


def maskbench(*args, launcher=(sys.executable, "-m", "maskbench.cli"), timeout=600, **kw):
    env = {**os.environ, "MASKBENCH_CACHE": str(Path(kw.pop("cache"))), "OMP_NUM_THREADS": "1"}
    return subprocess.run([*launcher, *args], capture_output=True, text=True, env=env, timeout=timeout, cwd=ROOT, **kw)


def records(out):
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def finished(assets, tmp_path_factory):
    out = tmp_path_factory.mktemp("run") / "out"
    result = maskbench(*run_args(assets, out), cache=out.parent / "cache")
    assert result.returncode == 0, result.stderr[-3000:]
    return out, result


def test_run_writes_every_output(finished):
    out, _ = finished
    for name in ["results.jsonl", "results.csv", "results.md", "fvd_vs_nfe.png", "grid_2x.gif", "grid_3x.gif", "run.json",
                 "estimate.json"]:
        assert (out / name).is_file(), name
    estimate = json.loads((out / "estimate.json").read_text())
    assert estimate["videos"] == 625 and estimate["sampling_s"] > 0 and estimate["features_s"] > 0
    assert "the full protocol (625 videos per cell, --extrap 2,5,10" in finished[1].stdout + finished[1].stderr
    recs = {(r["sampler"], r["extrap"]): r for r in records(out)}
    assert set(recs) == {("mgm", 2), ("mgm", 3), ("fm", 2), ("fm", 3)}
    # counted NFE: windows = ceil((L - k) / s) + 1 with L = 10, 15
    assert recs["mgm", 2]["nfe"] == 3 * 4 and recs["mgm", 3]["nfe"] == 4 * 4
    assert recs["fm", 2]["nfe"] == 3 * 5 and recs["fm", 3]["nfe"] == 4 * 5
    for r in recs.values():
        assert r["fvd"] > 0 and r["n_fake"] == 2 and r["n_real"] == 2 and r["seconds_per_video"] > 0
        assert r["fvd_real_vs_real"] > 0  # two independent real sets: the FVD noise floor at this N
        assert r["wall_seconds"] > r["seconds_total"] + r["feature_seconds"]  # plus warm-up, decoding, FVD
    for factor in (2, 3):  # the floor depends on the length and N only, not on the sampler
        assert recs["mgm", factor]["fvd_real_vs_real"] == recs["fm", factor]["fvd_real_vs_real"]
    assert recs["mgm", 2]["fvd_real_vs_real"] != recs["mgm", 3]["fvd_real_vs_real"]
    assert "biased" in (out / "results.md").read_text()
    _assert_statistics(out, recs, finished[1].stdout + finished[1].stderr)
    run = json.loads((out / "run.json").read_text())
    assert run["versions"]["torch"] and run["machine"]["cpu_count"] and run["config"]["videos"] == 2
    assert run["machine"]["cpu_capability"] and "cpu_model" in run["machine"]


def _assert_statistics(out, recs, printed):
    """Every FVD has its interval fields and KVD; the generated features are kept, and the paired
    differences are the differences of the cells' FVDs on them."""
    import numpy as np

    for r in recs.values():
        assert r["kvd"] is not None and r["ci_level"] == 0.95 and r["ci_method"] == "basic" and r["ci_resamples"] > 0
        assert "fvd_low" in r and "kvd_low" in r
        assert np.load(out / "features" / f"{r['key']}.npy").shape == (2, 400)
        assert np.load(out / "features" / f"real-{r['pairing']}-full.npy").shape == (2, 400)  # what it was scored on
    assert recs["mgm", 2]["pairing"] == recs["fm", 2]["pairing"] != recs["mgm", 3]["pairing"]
    paired = [json.loads(line) for line in (out / "paired.jsonl").read_text().splitlines()]
    assert {(p["a"], p["b"], p["extrap"]) for p in paired} == {("mgm", "fm", 2), ("mgm", "fm", 3)}
    for p in paired:
        expected = recs["mgm", p["extrap"]]["fvd"] - recs["fm", p["extrap"]]["fvd"]
        assert abs(p["fvd_diff"] - expected) <= 1e-3 * max(1.0, abs(expected))  # the features scored are the ones kept
    assert "Paired differences" in (out / "results.md").read_text() and (out / "paired.csv").is_file()
    assert "mgm - fm at 2x (2 paired videos): FVD" in printed


def test_rerun_skips_finished_cells(finished, assets):
    out, _ = finished
    before = (out / "results.jsonl").read_text()
    result = maskbench(*run_args(assets, out), cache=out.parent / "cache")
    assert result.returncode == 0
    assert result.stdout.count("skipped") + result.stderr.count("skipped") == 4
    assert (out / "results.jsonl").read_text() == before


def test_cells_of_an_earlier_invocation_pair_with_this_ones(finished, assets, tmp_path):
    """``--samplers fm`` into a folder where MGM was measured before: the pairs with MGM's cells (same contexts
    and seeds) are computed, and the pairs of cells this invocation did not ask for stay in ``paired.jsonl``."""
    import shutil

    out = tmp_path / "out"
    shutil.copytree(finished[0], out)
    (out / "runs.jsonl").unlink()  # a folder written before the history was kept: its run.json opens it
    expected = {p["extrap"]: p["fvd_diff"] for p in map(json.loads, (out / "paired.jsonl").read_text().splitlines())}
    (out / "paired.jsonl").unlink()
    args = run_args(assets, out, samplers="fm", extrap="2")
    del args[args.index("mgm.steps=4") - 1: args.index("mgm.steps=4") + 1]
    result = maskbench(*args, cache=finished[0].parent / "cache")
    assert "done in an earlier run, skipped" in result.stdout + result.stderr  # fm 2x: the same cell
    assert result.returncode == 0, result.stderr[-2000:]
    paired = [json.loads(line) for line in (out / "paired.jsonl").read_text().splitlines()]
    assert {(p["a"], p["b"], p["extrap"]) for p in paired} == {("fm", "mgm", 2), ("fm", "mgm", 3)}
    assert {p["extrap"]: -p["fvd_diff"] for p in paired} == pytest.approx(expected)  # mgm - fm, reversed
    assert "fm - mgm at 2x (2 paired videos)" in result.stdout + result.stderr
    history = [json.loads(line) for line in (out / "runs.jsonl").read_text().splitlines()]
    assert [sorted(r["config"]["samplers"]) for r in history] == [["fm", "mgm"], ["fm"]]  # every invocation, in order
    assert history[-1] == json.loads((out / "run.json").read_text())


def test_kill_mid_run_loses_only_the_cell_in_progress(assets, tmp_path):
    out = tmp_path / "out"
    args = run_args(assets, out, samplers="mgm,fm", extrap="2,3,4")
    proc = subprocess.Popen([sys.executable, "-m", "maskbench.cli", *args], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env={**os.environ, "MASKBENCH_CACHE": str(tmp_path / "c")})
    deadline = time.time() + 300
    while time.time() < deadline and not ((out / "results.jsonl").exists() and records(out)):
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    first = (out / "results.jsonl").read_text().splitlines()
    assert 1 <= len(first) < 6
    result = maskbench(*args, cache=tmp_path / "c")
    assert result.returncode == 0, result.stderr[-2000:]
    lines = (out / "results.jsonl").read_text().splitlines()
    assert lines[: len(first)] == first, "finished cells were recomputed or lost"
    assert len(lines) == 6


def test_distributed_run_equals_single_process(finished, assets, tmp_path):
    single, _ = finished
    out = tmp_path / "dist"
    launcher = (sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "maskbench.cli")
    result = maskbench(*run_args(assets, out), launcher=launcher, cache=tmp_path / "cache")
    assert result.returncode == 0, result.stderr[-3000:]
    key = lambda r: (r["sampler"], r["extrap"])  # noqa: E731
    a = {key(r): r for r in records(single)}
    b = {key(r): r for r in records(out)}
    assert a.keys() == b.keys()
    for cell in a:
        assert a[cell]["nfe"] == b[cell]["nfe"]
        assert a[cell]["fvd"] == pytest.approx(b[cell]["fvd"], rel=1e-4)


@pytest.mark.parametrize(
    "change,fragment",
    [
        ({"--samplers": "mgm,nope"}, "unknown sampler 'nope'"),
        ({"--model": "/nonexistent/model"}, "does not exist"),
        ({"--model": "{assets}/not-a-backbone"}, "not a maskbench MaskedLatte"),
        ({"--data": "/nonexistent/videos"}, "/nonexistent/videos"),
        ({"--extrap": "1"}, "at least 9 frames"),
        ({"--videos": "0"}, "--videos"),
        ({"--tokenizer-path": "{assets}/other-vq"}, "trained on the tokens of vqgan-"),
    ],
)
def test_bad_input_one_line_error(assets, tmp_path, change, fragment):
    args = run_args(assets, tmp_path / "out")
    for flag, value in change.items():
        args[args.index(flag) + 1] = value.format(assets=assets)
    result = maskbench(*args, cache=tmp_path / "c")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], result.stderr


def test_cell_progress_knows_its_total_nfe_before_the_first_batch(assets, tmp_path, monkeypatch):
    """The bar of a cell has its total (hence an ETA) from the start, and the total is what the cell spends."""
    from maskbench import cli
    from maskbench.bench import run as run_module

    bars = []

    class Recorder:
        def __init__(self, *args, total=None, **kwargs):
            self.first_total, self.total, self.n = total, total, 0
            bars.append(self)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def update(self, n=1):
            self.n += n

        def set_postfix_str(self, text):
            pass

    monkeypatch.setattr(run_module, "bar", Recorder)
    monkeypatch.setenv("MASKBENCH_CACHE", str(tmp_path / "cache"))
    assert cli.main(run_args(assets, tmp_path / "out", "--no-fvd", extrap="2")) == 0
    assert [(b.first_total, b.n) for b in bars] == [(2 * 3 * 4, 2 * 3 * 4), (2 * 3 * 5, 2 * 3 * 5)]  # 2 batches each


def test_interrupted_cell_resumes_at_its_first_missing_batch(finished, assets, tmp_path, monkeypatch):
    """A cell killed after its first batch keeps that batch; the rerun samples only the second one and records
    what the uninterrupted run recorded (same samples, same features), with ``resumed_batches`` 1; the kept
    batches are removed once the record is written."""
    import numpy as np

    from maskbench import cli
    from maskbench.bench import run as run_module

    sampled, real_batch = [], run_module._run_batch

    def interrupted_at_batch_1(bench, name, plan, index, ticks=None):
        if index == 1 and "second invocation" not in sampled:
            raise KeyboardInterrupt
        sampled.append(index)
        return real_batch(bench, name, plan, index, ticks)

    monkeypatch.setattr(run_module, "_run_batch", interrupted_at_batch_1)
    monkeypatch.setenv("MASKBENCH_CACHE", str(finished[0].parent / "cache"))
    out, args = tmp_path / "out", run_args(assets, tmp_path / "out", samplers="fm", extrap="2")
    del args[args.index("mgm.steps=4") - 1: args.index("mgm.steps=4") + 1]
    assert cli.main(args) == 130
    assert not (out / "results.jsonl").exists() and len(list((out / "partial").glob("*/batch-*.npz"))) == 1
    sampled.clear()
    sampled.append("second invocation")
    assert cli.main(args) == 0
    assert sampled == ["second invocation", 1], "the kept batch 0 was sampled again"
    (mine,) = records(out)
    (theirs,) = [r for r in records(finished[0]) if (r["sampler"], r["extrap"]) == ("fm", 2)]
    assert mine["key"] == theirs["key"] and mine["resumed_batches"] == 1 and theirs["resumed_batches"] == 0
    assert mine["nfe"] == theirs["nfe"] and mine["fvd"] == pytest.approx(theirs["fvd"], rel=1e-4)
    assert mine["wall_seconds"] > 0
    features = [np.load(folder / "features" / f"{mine['key']}.npy") for folder in (out, finished[0])]
    np.testing.assert_allclose(*features, rtol=1e-4, atol=1e-5)
    assert np.array_equal(np.load(out / "samples" / "fm-2x.npy"), np.load(finished[0] / "samples" / "fm-2x.npy"))
    assert not (out / "partial").exists()
