"""Held-out masked cross-entropy: fixed paired draws, plain CE aligned with the masks, intervals, CLI."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from maskbench.core.backbone import build_backbone
from maskbench.core.token_cache import open_token_cache
from maskbench.training.data import window_batch
from maskbench.training.heldout import (heldout_cross_entropy, heldout_draws, load_for_heldout, main,
                                             paired_difference)
from maskbench.training.masking import draw_times, mask_tokens, masked_cross_entropy
from maskbench.training.synthetic import write_synthetic_cache
from maskbench.schedules import get_schedule

ROOT = Path(__file__).resolve().parents[2]
K, FRAMES = 32, 8


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    path = tmp_path_factory.mktemp("heldout") / "tokens"
    write_synthetic_cache(path, videos=8, frames=24, vocab_size=K)
    return open_token_cache(path)


class Uniform(torch.nn.Module):
    """Ignores its input: equal logits for every token, so every masked token costs exactly log K."""

    mask_id = K

    def forward(self, tokens, t, where):
        return torch.zeros(int(where.sum()), K)


class Oracle(torch.nn.Module):
    """Knows the clean clips (batches come in order) and is sure of them where ``t > above``, uniform elsewhere."""

    mask_id = K

    def __init__(self, clean, above=-1.0):
        super().__init__()
        self.clean, self.above, self.seen = clean, above, 0

    def forward(self, tokens, t, where):
        clean = self.clean[self.seen : self.seen + len(tokens)]
        self.seen += len(tokens)
        assert (tokens[where] == K).all() and (tokens[~where] == clean[~where]).all()  # masked input, clean context
        sure = (t > self.above)[:, :, None, None].expand_as(where)[where]
        return 30.0 * torch.nn.functional.one_hot(clean[where], K).float() * sure[:, None]


def trained_tiny(cache, steps=120):
    """A tiny backbone trained in-process on the cache's stripes (Algorithm 1, plain Adam)."""
    torch.manual_seed(0)
    model = build_backbone("tiny", vocab_size=K, max_frames=FRAMES, height=8, width=8)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    generator = torch.Generator().manual_seed(1)
    for step in range(steps):
        tokens = window_batch(cache.tokens, FRAMES, 8, 0, step, 0)
        t = draw_times(8, FRAMES, "frame", generator)
        xt, masked = mask_tokens(tokens, t, get_schedule("sigmoid"), model.mask_id, generator)
        loss = masked_cross_entropy(model(xt, t, masked), tokens, masked)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


def test_same_seed_same_draws_and_number(cache):
    a, b = heldout_draws(cache, FRAMES, 32, seed=3), heldout_draws(cache, FRAMES, 32, seed=3)
    assert all(torch.equal(x, y) for x, y in zip(vars(a).values(), vars(b).values()))
    other = heldout_draws(cache, FRAMES, 32, seed=4)
    assert not torch.equal(a.t, other.t) and not torch.equal(a.masked, other.masked)
    model = build_backbone("tiny", vocab_size=K, max_frames=FRAMES, height=8, width=8).eval()
    first, again = heldout_cross_entropy(model, a), heldout_cross_entropy(model, b, batch=5)  # batching changes nothing
    assert first.overall.mean == pytest.approx(again.overall.mean, abs=1e-6)
    assert paired_difference(first, again)["overall"]["mean"] == pytest.approx(0, abs=1e-6)


def test_clips_are_windows_of_the_cache(cache):
    draws = heldout_draws(cache, FRAMES, 16, seed=0)
    for i in range(16):
        v, s = int(draws.videos[i]), int(draws.starts[i])
        assert torch.equal(draws.tokens[i], cache.clip(v, s, s + FRAMES))


def test_uniform_scores_log_k_and_oracle_zero(cache):
    draws = heldout_draws(cache, FRAMES, 32, seed=0)
    uniform = heldout_cross_entropy(Uniform(), draws)
    assert uniform.overall.mean == pytest.approx(math.log(K), abs=1e-6)
    oracle = heldout_cross_entropy(Oracle(draws.tokens), draws, batch=7)
    assert oracle.overall.mean < 1e-6  # would be ~log K if logits and targets were misaligned
    assert paired_difference(uniform, oracle)["overall"]["high"] < -3


def test_a_trained_model_beats_one_that_ignores_its_input(cache):
    draws = heldout_draws(cache, FRAMES, 64, seed=0)
    trained = heldout_cross_entropy(trained_tiny(cache), draws)
    uniform = heldout_cross_entropy(Uniform(), draws)  # the stripes' tokens are uniform: the best blind guess
    diff = paired_difference(uniform, trained)["overall"]
    assert diff["high"] < 0, diff


def test_bins_by_t_put_each_token_in_its_frames_bin(cache):
    """An oracle sure only of frames with t > 0.6: the bins above score 0, those below log K."""
    draws = heldout_draws(cache, FRAMES, 64, seed=0)
    result = heldout_cross_entropy(Oracle(draws.tokens, above=0.6), draws, bins=5)
    means = [e.mean for e in result.by_t]
    assert means[:3] == pytest.approx([math.log(K)] * 3, abs=1e-6) and means[3:] == pytest.approx([0, 0], abs=1e-6)
    assert [round(x, 6) for x in result.bin_edges] == [0, 0.2, 0.4, 0.6, 0.8, 1.0]


def test_constant_masking_draws_one_time_per_clip(cache):
    draws = heldout_draws(cache, FRAMES, 16, seed=0, masking="constant")
    assert torch.equal(draws.t, draws.t[:, :1].expand_as(draws.t))


def test_interval_shrinks_with_more_clips(cache):
    model = trained_tiny(cache, steps=40)
    small = heldout_cross_entropy(model, heldout_draws(cache, FRAMES, 16, seed=0)).overall
    large = heldout_cross_entropy(model, heldout_draws(cache, FRAMES, 256, seed=0)).overall
    assert large.clips == 256 and small.clips == 16
    assert large.high - large.low < 0.6 * (small.high - small.low)
    assert small.low < small.mean < small.high


def test_checkpoint_scores_as_the_export_and_cli_errors(tmp_path, capsys):
    """A run's last checkpoint (EMA weights) is the exported model; bad inputs exit 2 with one line."""
    out, tokens = tmp_path / "run", tmp_path / "tokens"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "train.py", "--config", "configs/tiny.yaml", "--out", str(out), f"cache={tokens}",
                    "steps=4", "checkpoint_every=2"], cwd=ROOT, env=env, check=True, capture_output=True, timeout=300)
    common = ["--cache", str(tokens), "--clips", "16", "--json"]
    assert main(["--model", str(out), "--model", str(out), "--step", "4", *common]) == 0
    from_checkpoint = json.loads(capsys.readouterr().out)["models"][0]
    assert main(["--model", str(out / "model"), *common]) == 0
    exported = json.loads(capsys.readouterr().out)["models"][0]
    assert from_checkpoint["mean"] == pytest.approx(exported["mean"], abs=1e-5)
    earlier, _ = load_for_heldout(out, step=2)
    last, _ = load_for_heldout(out, step=4)
    assert not torch.equal(earlier.token_embed.weight, last.token_embed.weight)
    for argv, fragment in ((["--model", str(out), "--step", "3"], "no checkpoint at step 3"),
                           (["--model", str(tmp_path / "nope")], "does not exist"),
                           (["--model", str(out), "--cache", str(tmp_path / "none")], "no token cache"),
                           (["--model", str(out), "--clips", "0"], "--clips")):
        argv = [*argv, *([] if "--cache" in argv else ["--cache", str(tokens)])]
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and fragment in err[0], err
    states = out / "checkpoints" / "step00000002" / "mp_rank_00_model_states.pt"
    states.write_bytes(states.read_bytes()[:5000])  # a checkpoint cut short by a full disk or a kill
    assert main(["--model", str(out), "--step", "2", "--cache", str(tokens)]) == 2
    assert "is damaged" in capsys.readouterr().err


TINY = "preset=tiny frames=8 context=2 stride=6 micro_batch=4 tokenizer=synthetic checkpoint_every=10"


@pytest.mark.slow
def test_snr_comparison_script_at_tiny_size(tmp_path):
    """The equal-budget script trains both arms, scores their checkpoints on shared draws, and reruns idle."""
    tokens, out = tmp_path / "tokens", tmp_path / "cmp"
    write_synthetic_cache(tokens, frames=48)
    env = {**os.environ, "STEPS": "20", "EVAL_EVERY": "10", "CLIPS": "16", "MASKINGS": "frame", "OUT": str(out),
           "TEST_CACHE": str(tokens), "EXTRA": f"{TINY} cache={tokens}", "PYTHON": sys.executable}
    script = ROOT / "benchmarks" / "experiments" / "snr_comparison.sh"
    done = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = (out / "results.csv").read_text().splitlines()
    assert [r.split(",")[:3] for r in rows[1:]] == [["10", "frame", "off"], ["10", "frame", "on"],
                                                    ["20", "frame", "off"], ["20", "frame", "on"]]
    on = [json.loads(line) for line in (out / "on" / "metrics.jsonl").read_text().splitlines()]
    assert all(abs(r["loss"] - r["ce"]) > 0.1 for r in on)  # the on arm's loss is weighted
    assert "on - off held-out CE" in done.stdout and "min per arm" in done.stdout
    scored = json.loads((out / "eval" / "frame-step00000020.json").read_text())["models"]
    diff = scored[1]["minus_first"]["overall"]["mean"]
    assert diff == pytest.approx(scored[1]["mean"] - scored[0]["mean"], abs=1e-9)  # same clips for both arms
    stamp = (out / "eval" / "frame-step00000020.json").stat().st_mtime_ns
    again = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and "from step 20" in (out / "off.log").read_text()
    assert (out / "eval" / "frame-step00000020.json").stat().st_mtime_ns == stamp
    missing = subprocess.run(["bash", str(script)], env={**env, "TEST_CACHE": str(tmp_path / "none")},
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2 and len(missing.stderr.strip().splitlines()) == 1
