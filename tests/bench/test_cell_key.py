"""A result cell's key names what a path does not: the weights, the tokenizer, the sampler's revision.

Cells with an equal key are skipped or copied, so a key that missed any of these would serve stale
numbers for retrained weights at the same path or for a fixed sampler.
"""

from types import SimpleNamespace

import numpy as np
import pytest

from maskbench.core.checkpoint import weights_identity
from maskbench.bench.run import cell_key
from maskbench.samplers.mgm import MGM


def bench(model_identity="aaaa", tokenizer="vq-1111", sampler=MGM, data="shards|split=test|size=64|abc",
          protocol="full", factors=(2,), model="/m", where="/d"):
    config = SimpleNamespace(model=model, videos=4, seed=0, data=where, split="test", fvd=True, fvd_protocol=protocol,
                             factors=factors, samplers=("mgm",))
    videos = SimpleNamespace(video_id=lambda: f"shards:{where}|{data}", content_id=lambda: data)
    return SimpleNamespace(config=config, samplers={"mgm": sampler()}, frames=16, context=2, stride=14, batch_size=4,
                           model_identity=model_identity, tokenizer=SimpleNamespace(identity=lambda: tokenizer),
                           videos=videos, plan=lambda factor: SimpleNamespace(length=16 * factor))


class NextMGM(MGM):
    revision = MGM.revision + 1


def test_key_is_stable_and_changes_with_weights_tokenizer_and_revision():
    key = cell_key(bench(), "mgm", 2)
    assert key == cell_key(bench(), "mgm", 2)
    assert key != cell_key(bench(model_identity="bbbb"), "mgm", 2)
    assert key != cell_key(bench(tokenizer="vq-2222"), "mgm", 2)
    assert key != cell_key(bench(sampler=NextMGM), "mgm", 2)


def test_key_names_the_data_content_and_the_protocol_not_the_other_factors():
    key = cell_key(bench(), "mgm", 2)
    assert key != cell_key(bench(data="shards|split=test|size=64|def"), "mgm", 2)  # re-rendered data
    assert key != cell_key(bench(protocol="center16"), "mgm", 2)
    assert key == cell_key(bench(factors=(2, 5, 10)), "mgm", 2)  # what else was asked is not the cell


def test_key_and_pairing_do_not_depend_on_where_the_model_and_data_lie():
    """The same weights and videos from another checkout (session 12 ran from a worktree: every Table 4 cell got
    a second key when measured again from the main checkout, and its pairs were lost)."""
    from maskbench.bench.run import pairing_id

    here, there = bench(model="/work/main/m", where="/work/main/d"), bench(model="/work/bg/m", where="/data/d")
    assert cell_key(here, "mgm", 2) == cell_key(there, "mgm", 2)
    assert pairing_id(here, 2) == pairing_id(there, 2)


def test_data_content_identity_leaves_out_the_location(assets, tmp_path):
    import shutil

    from maskbench.core.data import open_videos

    shutil.copytree(assets / "data", tmp_path / "moved")
    here, there = open_videos(str(assets / "data")), open_videos(str(tmp_path / "moved"))
    assert here.video_id() != there.video_id() and here.content_id() == there.content_id()
    assert here.content_id() != open_videos(str(assets / "data"), size=32).content_id()


def test_weights_identity_follows_the_bytes(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "diffusion_pytorch_model.safetensors").write_bytes(b"weights one")
    first = weights_identity(tmp_path)
    assert first == weights_identity(tmp_path) and len(first) == 16
    (tmp_path / "diffusion_pytorch_model.safetensors").write_bytes(b"weights two")
    assert weights_identity(tmp_path) != first


def _run(assets, out, samplers: str, extrap: str) -> dict:
    import json

    from maskbench.cli import main

    args = ["run", "--model", str(assets / "model"), "--tokenizer", "vqgan", "--tokenizer-path", str(assets / "vq"),
            "--data", str(assets / "data"), "--split", "all", "--videos", "2", "--batch-size", "1", "--samples", "2",
            "--samplers", samplers, "--extrap", extrap, "--no-fvd", "--device", "cpu", "--out", str(out)]
    args += [a for name in samplers.split(",") for a in ("--opt", f"{name}.steps={4 if name == 'mgm' else 5}")]
    assert main(args) == 0
    return {(r["sampler"], r["extrap"]): r for r in map(json.loads, (out / "results.jsonl").read_text().splitlines())}


@pytest.mark.slow
def test_a_cell_does_not_depend_on_the_other_factors_or_samplers_asked(assets, tmp_path):
    alone = _run(assets, tmp_path / "alone", "mgm", "2")
    many = _run(assets, tmp_path / "many", "fm,mgm", "3,2")
    assert alone["mgm", 2]["key"] == many["mgm", 2]["key"] and alone["mgm", 2]["nfe"] == many["mgm", 2]["nfe"]
    # Same contexts and seeds: the very same rollouts, whatever else the run asked for.
    np.testing.assert_array_equal(np.load(tmp_path / "alone/samples/mgm-2x.npy"),
                                  np.load(tmp_path / "many/samples/mgm-2x.npy"))
    # Paired: the samplers of one length continue the same contexts (frame 0 is the context, m = 1).
    mgm, fm = (np.load(tmp_path / f"many/samples/{name}-2x.npy") for name in ("mgm", "fm"))
    np.testing.assert_array_equal(mgm[:, :1], fm[:, :1])
    assert not np.array_equal(mgm, fm)


@pytest.mark.slow
def test_run_benchmark_from_python_is_the_command_line_run(assets, tmp_path):
    """``run_benchmark(RunConfig(...))`` needs no CLI, and its cells are the very cells ``maskbench run`` writes."""
    import json

    from maskbench.bench.config import RunConfig
    from maskbench.bench.run import run_benchmark

    config = RunConfig(samplers={"mgm": {"steps": 4}}, factors=(2,), model=str(assets / "model"), tokenizer="vqgan",
                       tokenizer_path=str(assets / "vq"), data=str(assets / "data"), split=None, videos=2,
                       batch_size=1, samples=2, fvd=False, device="cpu", out=str(tmp_path / "python"))
    out = run_benchmark(config)
    (record,) = map(json.loads, (out / "results.jsonl").read_text().splitlines())
    cli = _run(assets, tmp_path / "cli", "mgm", "2")
    assert record["key"] == cli["mgm", 2]["key"] and record["options"] == cli["mgm", 2]["options"]
    np.testing.assert_array_equal(np.load(out / "samples/mgm-2x.npy"), np.load(tmp_path / "cli/samples/mgm-2x.npy"))
    run = json.loads((out / "run.json").read_text())
    assert run["config"]["samplers"] == {"mgm": {"steps": 4}} and "steps=4" in run["samplers"]["mgm"]
