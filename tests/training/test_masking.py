import math

import pytest
import torch

from maskbench.core.backbone import build_backbone
from maskbench.core.errors import MaskbenchError
from maskbench.training.data import window_batch
from maskbench.training.masking import draw_times, fused_snr_weights, mask_tokens, masked_cross_entropy
from maskbench.training.synthetic import write_synthetic_cache
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


def _kappa(t: float) -> float:
    """The authors' sigmoid schedule (docs/fidelity.md), written out again in plain floats."""
    v_start, v_end = 1 / (1 + math.exp(3)), 1 / (1 + math.exp(-3))
    return max(1 - (v_end - 1 / (1 + math.exp(-(6 * t - 3)))) / (v_end - v_start), 1e-5)


def _by_hand(times: list[float], formula: str, clip: float = 6.0, decay: float = 0.8) -> list[float]:
    """The authors' compute_loss_weights (fused, pred_x0 branch) for one video, one frame at a time."""
    weights, previous = [], None
    for t in times:
        k = _kappa(t)
        snr = k * k / (1 - k * k) if formula == "paper" else k * k / (1 - k) ** 2
        own = min(snr, clip) / clip
        carried = 0.0 if previous is None else decay * previous
        weights.append(clip * (1 - (1 - carried) * (1 - own)))
        previous = own if previous is None else decay * previous + (1 - decay) * own
    return weights


SNR_CASES = [
    [0.05, 0.5, 0.8, 0.95],  # noisy to clean
    [0.95, 0.05, 0.05, 0.05],  # a clean frame lifts the noisy ones after it
    [0.3, 0.3, 0.3, 0.3],  # constant masking
    [0.1, 0.9, 0.2, 0.6],
]


@pytest.mark.parametrize("formula", ["authors", "paper"])
def test_fused_snr_weights_match_the_formula_by_hand(formula):
    t = torch.tensor(SNR_CASES, dtype=torch.float64)
    got = fused_snr_weights(t, get_schedule("sigmoid"), formula=formula)
    expected = torch.tensor([_by_hand(row, formula) for row in SNR_CASES], dtype=torch.float32)
    assert got.shape == (4, 4) and got.dtype == torch.float32
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-9)


def test_fused_snr_weights_span_orders_of_magnitude():
    """The values the issue quotes for the authors' SNR, and the bug they catch: the old code clipped
    before fusing, then divided min(fused, 6) by fused, and returned 1 for every frame."""
    sigmoid = get_schedule("sigmoid")
    first = [float(fused_snr_weights(torch.tensor([[t]]), sigmoid, formula="authors")) for t in (0.05, 0.5, 0.8, 0.9)]
    assert first[0] == pytest.approx(3.054e-4, rel=1e-3)
    assert first[1] == pytest.approx(1.0, rel=1e-6)  # kappa(0.5) = 0.5: SNR 1
    assert first[2:] == [pytest.approx(6.0)] * 2  # SNR 74 and 490, clipped
    w = fused_snr_weights(torch.tensor([SNR_CASES[0]]), sigmoid, formula="authors")
    assert float(w.max() / w.min()) > 1e4
    paper = fused_snr_weights(torch.tensor([[0.5], [0.8]]), sigmoid, formula="paper")
    torch.testing.assert_close(paper[:, 0], torch.tensor([1 / 3, 4.0567]), rtol=1e-4, atol=0)  # below the clip


def test_fused_snr_weights_without_decay_are_min_snr():
    t = torch.tensor(SNR_CASES[1:2])
    k = get_schedule("sigmoid").kappa(t.double())
    plain = (k**2 / (1 - k) ** 2).clamp(max=6.0).float()
    torch.testing.assert_close(fused_snr_weights(t, get_schedule("sigmoid"), decay=0.0, formula="authors"), plain)
    with pytest.raises(MaskbenchError, match="unknown SNR formula"):
        fused_snr_weights(t, get_schedule("sigmoid"), formula="nope")


def test_weighted_loss_is_the_weighted_mean_over_masked_tokens(generator):
    """As the authors: sum over masked tokens of weight x CE, divided by the number of masked tokens."""
    targets = torch.randint(0, 5, (2, 3, 2, 2), generator=generator)
    masked = torch.rand(2, 3, 2, 2, generator=generator) < 0.6
    logits = torch.randn(int(masked.sum()), 5, generator=generator)
    weights = torch.tensor([[0.1, 1.0, 6.0], [2.0, 0.5, 3.0]])
    ce = torch.nn.functional.cross_entropy(logits, targets[masked], reduction="none")
    per_token = weights[:, :, None, None].expand_as(masked)[masked]
    expected = (ce * per_token).sum() / ce.numel()
    torch.testing.assert_close(masked_cross_entropy(logits, targets, masked, weights), expected)


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
    from maskbench.training.ema import EMA

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
