"""The frame-masked Latte backbone: shapes, per-frame conditioning, masked-only head, presets, I/O."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from maskbench.core.backbone import BACKBONES, MaskedLatte, build_backbone, forward_flops
from maskbench.core.errors import MaskbenchError

K, FRAMES, H, W = 24, 4, 3, 5  # h != w catches swapped spatial axes


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny tensors gain nothing from a second thread, and lose a lot when the cores are busy."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _model(**overrides) -> MaskedLatte:
    torch.manual_seed(0)
    return build_backbone("tiny", vocab_size=K, max_frames=FRAMES, height=H, width=W, **overrides).eval()


def _perturbed(**overrides) -> MaskedLatte:
    """adaLN-Zero starts every modulation (and the head) at zero, so time has no effect at init;
    random weights stand in for training."""
    model = _model(**overrides)
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(0.1 * torch.randn(param.shape, generator=generator))
    return model


def _inputs(batch: int = 2, frames: int = FRAMES, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    tokens = torch.randint(0, K + 1, (batch, frames, H, W), generator=generator)
    return tokens, torch.rand(batch, frames, generator=generator)


def _arguments(config) -> dict:
    """The constructor arguments of a config, without diffusers' bookkeeping (``_name_or_path``...)."""
    return {key: value for key, value in config.items() if not key.startswith("_")}


@torch.no_grad()
def test_shapes_full_and_where():
    model = _model()
    tokens, t = _inputs()
    where = tokens == model.mask_id
    assert model.mask_id == K
    assert model(tokens, t).shape == (2, FRAMES, H, W, K)
    assert model(tokens, t, where).shape == (int(where.sum()), K)
    assert model(tokens, t, torch.zeros_like(where)).shape == (0, K)


@torch.no_grad()
def test_where_head_equals_full_head_gathered():
    model = _perturbed()
    tokens, t = _inputs()
    where = torch.rand(tokens.shape, generator=torch.Generator().manual_seed(3)) < 0.4
    torch.testing.assert_close(model(tokens, t, where), model(tokens, t)[where], rtol=1e-5, atol=1e-5)


@torch.no_grad()
def test_adaln_zero_init_predicts_uniform():
    tokens, t = _inputs()
    assert torch.equal(_model()(tokens, t), torch.zeros(2, FRAMES, H, W, K))


@torch.no_grad()
def test_changing_one_frames_time_changes_the_output():
    model = _perturbed()
    tokens, t = _inputs()
    moved = t.clone()
    moved[:, 2] = 1 - moved[:, 2]
    assert not torch.allclose(model(tokens, t)[:, 2], model(tokens, moved)[:, 2])


@torch.no_grad()
def test_time_conditions_each_frame_separately():
    # One spatial block and no temporal one: frames cannot mix, so only frame 2 may change.
    model = _perturbed(depth=1)
    tokens, t = _inputs()
    moved = t.clone()
    moved[:, 2] = 1 - moved[:, 2]
    before, after = model(tokens, t), model(tokens, moved)
    changed = (before - after).abs().amax(dim=(0, 2, 3, 4)) > 1e-6
    assert changed.tolist() == [False, False, True, False]


@torch.no_grad()
def test_identical_inputs_give_identical_outputs_within_a_batch():
    model = _perturbed()
    tokens, t = _inputs(batch=1)
    tokens, t = tokens.repeat(3, 1, 1, 1), t.repeat(3, 1)
    t[2, 0] = 1 - t[2, 0]  # the third video differs only in the time of its first frame
    out = model(tokens, t)
    torch.testing.assert_close(out[0], out[1])
    assert not torch.allclose(out[0], out[2])


@torch.no_grad()
def test_fewer_frames_than_max():
    model = _perturbed()
    tokens, t = _inputs(frames=2)
    assert model(tokens, t).shape == (2, 2, H, W, K)


def test_too_many_frames_raises():
    tokens, t = _inputs(frames=FRAMES + 1)
    with pytest.raises(MaskbenchError, match="max_frames=4"):
        _model()(tokens, t)


@pytest.mark.parametrize(
    "tokens, t",
    [
        (torch.zeros(2, FRAMES, W, H, dtype=torch.long), torch.zeros(2, FRAMES)),  # transposed grid
        (torch.zeros(2, FRAMES, H, W, dtype=torch.long), torch.zeros(2)),  # one t per video
    ],
)
def test_bad_shapes_raise(tokens, t):
    with pytest.raises(MaskbenchError):
        _model()(tokens, t)


def test_save_load_round_trip(tmp_path):
    model = _perturbed()
    model.save_pretrained(tmp_path)
    assert (tmp_path / "diffusion_pytorch_model.safetensors").exists()
    loaded = MaskedLatte.from_pretrained(tmp_path).eval()
    assert _arguments(loaded.config) == _arguments(model.config)
    tokens, t = _inputs()
    with torch.no_grad():
        assert torch.equal(loaded(tokens, t), model(tokens, t))


@torch.no_grad()
def test_time_independent_model_ignores_t_and_uses_the_embedding_of_zero():
    on, off = _perturbed(), _perturbed(time_conditioning=False)
    assert torch.equal(on.state_dict()["head.weight"], off.state_dict()["head.weight"])  # same weights
    tokens, t = _inputs()
    zeros = torch.zeros_like(t)
    assert torch.equal(off(tokens, t), off(tokens, 1 - t))
    assert torch.equal(off(tokens, t), on(tokens, zeros))  # the authors' rule: t is zeroed, not dropped
    assert not torch.allclose(on(tokens, t), on(tokens, 1 - t))


def test_time_conditioning_survives_save_and_load(tmp_path):
    model = _perturbed(time_conditioning=False)
    model.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["time_conditioning"] is False
    loaded = MaskedLatte.from_pretrained(tmp_path).eval()
    assert loaded.config.time_conditioning is False
    tokens, t = _inputs()
    with torch.no_grad():
        assert torch.equal(loaded(tokens, t), loaded(tokens, 1 - t))


def test_config_saved_before_the_flag_loads_time_conditioned(tmp_path):
    model = _perturbed()
    model.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    del config["time_conditioning"]
    (tmp_path / "config.json").write_text(json.dumps(config))
    loaded = MaskedLatte.from_pretrained(tmp_path).eval()
    assert loaded.config.time_conditioning is True
    tokens, t = _inputs()
    with torch.no_grad():
        assert torch.equal(loaded(tokens, t), model(tokens, t))
        assert not torch.allclose(loaded(tokens, t), loaded(tokens, 1 - t))


def test_shipped_models_are_time_conditioned_but_the_table4_one():
    """Every shipped backbone reads its time input, except the timestep-independent model of paper Table 4,
    whose output does not change with t."""
    from maskbench.core.checkpoint import load_model

    shipped = sorted(Path(__file__).resolve().parents[2].glob("maskbench/weights/latte-*"))
    assert {f.name for f in shipped} >= {"latte-vizdoom-frame", "latte-vizdoom-constant", "latte-vizdoom-frame-notime"}
    models = {folder.name: load_model(folder)[0].eval() for folder in shipped}
    for name, model in models.items():
        assert model.config.time_conditioning is (name != "latte-vizdoom-frame-notime"), name
    notime = models["latte-vizdoom-frame-notime"]
    config = notime.config
    tokens = torch.randint(0, config.vocab_size, (1, config.max_frames, config.height, config.width))
    t = torch.linspace(0.1, 0.9, config.max_frames)[None]
    with torch.no_grad():
        assert torch.equal(notime(tokens, t), notime(tokens, 1 - t))
        frame = models["latte-vizdoom-frame"]
        assert not torch.allclose(frame(tokens, t), frame(tokens, 1 - t))


def test_unknown_preset_lists_the_names():
    with pytest.raises(MaskbenchError, match="tiny, cpu, S/2, B/2, L/2, XL/2"):
        build_backbone("M/3")


def test_presets_build_with_latte_sizes():
    sizes = {"S/2": (12, 384, 6), "B/2": (12, 768, 12), "L/2": (24, 1024, 16), "XL/2": (28, 1152, 16)}
    with torch.device("meta"):  # shapes only: XL/2 would take seconds and gigabytes
        for name, (depth, hidden, heads) in sizes.items():
            config = BACKBONES[name](vocab_size=K).config
            assert (config.depth, config.hidden_size, config.num_heads) == (depth, hidden, heads)


@pytest.mark.parametrize("with_where", [False, True])
def test_forward_flops_matches_the_flop_counter(with_where):
    model = _model()
    tokens, t = _inputs(frames=3)
    where = tokens == model.mask_id if with_where else None
    n = int(where.sum()) if with_where else tokens.numel()
    # The counter sees attention FLOPs only in the math kernel, not in the fused CPU one.
    with torch.no_grad(), sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        model(tokens, t, where)
    assert forward_flops(model.config, 2, 3, n) == counter.get_total_flops()


def test_training_steps_reduce_the_loss():
    model = _model().train()
    tokens, t = _inputs()
    target = torch.randint(0, K, tokens.shape, generator=torch.Generator().manual_seed(5))
    where = tokens == model.mask_id
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(5):
        loss = torch.nn.functional.cross_entropy(model(tokens, t, where), target[where])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    assert all(p.grad is not None for p in model.parameters())


def test_gradient_checkpointing_gives_the_same_gradients():
    tokens, t = _inputs()
    grads = []
    for checkpointing in (False, True):
        model = _perturbed().train()
        if checkpointing:
            model.enable_gradient_checkpointing()
        model(tokens, t).square().mean().backward()
        grads.append([p.grad for p in model.parameters()])
    for plain, checkpointed in zip(*grads):
        torch.testing.assert_close(plain, checkpointed)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_bf16_autocast():
    model = _perturbed().cuda()
    tokens, t = _inputs()
    tokens, t = tokens.cuda(), t.cuda()
    where = tokens == model.mask_id
    with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
        logits = model(tokens, t, where)
    reference = model(tokens, t, where).float()
    torch.testing.assert_close(logits.float(), reference, rtol=0.1, atol=0.1)


@pytest.mark.parametrize("with_where", [False, True])
@pytest.mark.parametrize("threads", [2, 3])
def test_cpu_batch_split_over_threads_changes_nothing(with_where, threads):
    # Batch 5 over 2 threads: slices of 3 + 2 videos; over 3: 2 + 2 + 1 (cpu_threads.py).
    model = _perturbed()
    tokens, t = _inputs(batch=5)
    where = tokens == model.mask_id if with_where else None
    before = torch.get_num_threads()
    try:
        with torch.inference_mode():
            torch.set_num_threads(1)
            whole = model(tokens, t, where)  # one thread: no split
            torch.set_num_threads(threads)
            split = model(tokens, t, where)
            assert torch.get_num_threads() == threads  # restored after the slices ran
    finally:
        torch.set_num_threads(before)
    assert split.shape == whole.shape
    torch.testing.assert_close(split, whole, rtol=1e-5, atol=1e-5)
