import pytest
import torch

from maskbench.core.backbone import build_backbone
from maskbench.core.training.data import window_batch
from maskbench.core.training.masking import draw_times, fused_snr_weights, mask_tokens, masked_cross_entropy
from maskbench.core.training.synthetic import write_synthetic_cache
from maskbench.core.token_cache import open_token_cache
from maskbench.schedules import get_schedule


def test_frame_level_times_are_independent_per_frame_constant_are_not(generator):
    frame = draw_times(64, 8, "frame", generator)
    constant = draw_times(64, 8, "constant", generator)
    assert frame.shape == constant.shape == (64, 8)
    assert (frame.std(dim=1) > 0.05).float().mean() > 0.9
    assert torch.all(constant == constant[:, :1])
    assert constant[:, 0].std() > 0.1, "constant masking still varies across clips"


def test_mask_tokens_follows_kappa(generator):
    tokens = torch.randint(0, 10, (4, 3, 32, 32), generator=generator)
    t = torch.tensor([[0.0, 0.5, 1.0]]).expand(4, 3)
    xt, masked = mask_tokens(tokens, t, get_schedule("linear"), 10, generator)
    frac = masked.float().mean(dim=(0, 2, 3))
    assert frac[0] == 1 and abs(float(frac[1]) - 0.5) < 0.03 and frac[2] == 0
    assert torch.equal(xt[~masked], tokens[~masked]) and torch.all(xt[masked] == 10)


def test_loss_ignores_unmasked_positions(generator):
    targets = torch.randint(0, 5, (2, 2, 3, 3), generator=generator)
    masked = torch.rand(2, 2, 3, 3, generator=generator) < 0.5
    logits = torch.randn(int(masked.sum()), 5, generator=generator)
    base = masked_cross_entropy(logits, targets, masked)
    changed = targets.clone()
    changed[~masked] = (changed[~masked] + 1) % 5  # unmasked targets carry no loss
    assert torch.equal(masked_cross_entropy(logits, changed, masked), base)
    manual = torch.nn.functional.cross_entropy(logits, targets[masked])
    assert torch.allclose(base, manual)


def test_fused_snr_weights(generator):
    t = torch.rand(16, 8, generator=generator)
    w = fused_snr_weights(t, get_schedule("sigmoid"))
    assert w.shape == (16, 8) and torch.all(w > 0) and abs(float(w.mean()) - 1) < 1e-5


def test_window_batches_are_a_function_of_seed_step_rank(tmp_path):
    write_synthetic_cache(tmp_path)
    tokens = open_token_cache(tmp_path).tokens
    a, b = window_batch(tokens, 8, 4, 0, 5, 0), window_batch(tokens, 8, 4, 0, 5, 0)
    assert torch.equal(a, b) and a.shape == (4, 8, 8, 8)
    assert not torch.equal(a, window_batch(tokens, 8, 4, 0, 6, 0))
    assert not torch.equal(a, window_batch(tokens, 8, 4, 0, 5, 1))


def test_loss_decreases_when_overfitting(tmp_path, generator):
    write_synthetic_cache(tmp_path, videos=2)
    tokens = open_token_cache(tmp_path).tokens
    torch.manual_seed(0)
    model = build_backbone("tiny", vocab_size=32, max_frames=8, height=8, width=8)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    schedule = get_schedule("sigmoid")
    losses = []
    for step in range(100):
        batch = window_batch(tokens, 8, 4, 0, step % 2, 0)
        t = draw_times(4, 8, "frame", generator)
        xt, masked = mask_tokens(batch, t, schedule, 32, generator)
        loss = masked_cross_entropy(model(xt, t, masked), batch, masked)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert sum(losses[-10:]) / 10 < 0.7 * sum(losses[:10]) / 10, losses


def test_ema_warms_up_instead_of_keeping_the_initialisation():
    from maskbench.core.training.ema import EMA

    live = torch.nn.Linear(4, 4)
    ema = EMA(live, decay=0.999)
    with torch.no_grad():
        live.weight.fill_(1.0)
    for _ in range(100):
        ema.update(live)
    # without warm-up 0.999 ** 100 = 90% of the initial weights would remain; with it, almost none
    assert torch.allclose(ema.model.weight, torch.ones(4, 4), atol=0.02)
    assert ema.current_decay() == pytest.approx(101 / 110)
    restored = EMA(torch.nn.Linear(4, 4), decay=0.999)
    restored.load_state_dict(ema.state_dict())
    assert restored.updates == 100 and torch.equal(restored.model.weight, ema.model.weight)
