"""MGM unmasks by confidence (log-probability plus annealed Gumbel noise), not in a fixed order; the time it
gives the model and its unmasking counts follow its options (docs/fidelity.md)."""

import pytest
import torch

from maskbench.core.errors import MaskbenchError
from maskbench.bench.nfe import counted_nfe
from maskbench.core.rollout import RolloutPlan
from maskbench.samplers.mgm import MGM
from maskbench.schedules import get_schedule
from maskbench.schedules.counts import window_counts

VOCAB, GRID, FRAMES, CONTEXT = 8, (4, 4), 3, 1


class ConfidenceDenoiser:
    """Token 0 at every position, with a confidence that grows with the position's flat index;
    records which positions were still masked at each call."""

    vocab_size, mask_id, device = VOCAB, VOCAB, torch.device("cpu")

    def __init__(self):
        self.masked_at_call = []

    def __call__(self, tokens, t, where):
        self.masked_at_call.append(where.clone())
        rank = torch.arange(where.numel(), dtype=torch.float).reshape(where.shape)[where]
        logits = torch.zeros(len(rank), VOCAB)
        logits[:, 0] = rank / 4
        return logits


def window():
    x = torch.full((1, FRAMES, *GRID), VOCAB)
    x[:, :CONTEXT] = 1
    return x


def revealed_per_call(gumbel: float, seed: int = 0) -> list[torch.Tensor]:
    model = ConfidenceDenoiser()
    MGM(gumbel=gumbel, steps=8).sample_window(model, window(), CONTEXT, torch.Generator().manual_seed(seed))
    masks = model.masked_at_call + [torch.zeros_like(model.masked_at_call[0])]
    return [(a & ~b).flatten().nonzero().flatten() for a, b in zip(masks, masks[1:])]


def test_without_noise_the_most_confident_positions_are_revealed_first():
    order = torch.cat(revealed_per_call(gumbel=0.0))
    masked_positions = torch.arange(CONTEXT * GRID[0] * GRID[1], FRAMES * GRID[0] * GRID[1])
    assert torch.equal(order.sort().values, masked_positions)
    first = revealed_per_call(gumbel=0.0)[0]
    assert first.min() > masked_positions[-len(first) - 1], "first step did not take the most confident positions"


def test_gumbel_noise_changes_the_order_and_depends_on_the_seed():
    plain = revealed_per_call(gumbel=0.0)
    noisy = revealed_per_call(gumbel=4.5, seed=0)
    assert any(not torch.equal(a.sort().values, b.sort().values) for a, b in zip(plain, noisy))
    other = revealed_per_call(gumbel=4.5, seed=1)
    assert any(not torch.equal(a.sort().values, b.sort().values) for a, b in zip(noisy, other))


class TimeSpy(ConfidenceDenoiser):
    """Also records the per-frame times and the unmasked fraction of every frame at each call."""

    def __init__(self):
        super().__init__()
        self.times, self.unmasked = [], []

    def __call__(self, tokens, t, where):
        self.times.append(t.clone())
        self.unmasked.append(1 - where.float().mean(dim=(2, 3)))
        return super().__call__(tokens, t, where)


def times_seen(**options) -> TimeSpy:
    model = TimeSpy()
    MGM(steps=8, **options).sample_window(model, window(), CONTEXT, torch.Generator().manual_seed(0))
    return model


@pytest.mark.parametrize("mode,expected", [
    ("zeros", [0.0, 0.0, 0.0]),  # paper eq. 8, Tables 1 and 5 (the default)
    ("context-ones", [1.0, 0.0, 0.0]),  # Algorithm 4 as printed
    ("ones", [1.0, 1.0, 1.0]),  # the authors' code: stabilization_level 1, time_cond 1.0
])
def test_fixed_time_modes_pass_the_same_times_at_every_step(mode, expected):
    model = times_seen(time=mode)
    assert len(model.times) == 8
    for t in model.times:
        assert torch.equal(t, torch.tensor([expected]))


def test_default_time_is_zero_for_every_frame():
    assert MGM().options.time == "zeros"
    assert all((t == 0).all() for t in times_seen().times)


def test_unmasked_mode_recomputes_kappa_inverse_of_the_unmasked_fraction():
    model = times_seen(time="unmasked")
    schedule = get_schedule("sigmoid")
    for t, unmasked in zip(model.times, model.unmasked):
        assert float(t[0, 0]) == 1
        assert torch.allclose(t[:, CONTEXT:], schedule.inverse(unmasked[:, CONTEXT:]), atol=1e-6)
    assert len({round(float(t[0, -1]), 6) for t in model.times}) > 4, "times must move as tokens are revealed"


def test_time_independent_flag_means_zeros_and_contradicting_modes_are_refused():
    assert all((t == 0).all() for t in times_seen(time_independent=True).times)
    with pytest.raises(MaskbenchError, match="contradicts time_independent"):
        MGM(time_independent=True, time="ones")


def test_mgm_revision_bumped_for_the_new_default_time():
    assert MGM.revision == 3


FFS_GRID = (32, 32)  # 256 px frames through an f8 tokenizer: 1024 tokens per frame


@pytest.mark.parametrize("k,m,s,x,paper,authors", [
    (16, 2, 14, 1, 20, 19),  # one FFS window
    (16, 15, 1, 2, 17 * 20, 17 * 4),  # FFS autoregressive: 17 windows of one new frame
    (36, 35, 1, 2, 37 * 20, 37 * 3),  # DMLab autoregressive
])
def test_nfe_of_both_count_spreads(k, m, s, x, paper, authors):
    plan = RolloutPlan.from_extrapolation(k, m, s, x)
    assert counted_nfe(MGM(), plan, grid=FFS_GRID) == paper
    assert counted_nfe(MGM(spread="window"), plan, grid=FFS_GRID) == authors


def test_window_spread_counts_cover_all_window_tokens_and_stop_when_nothing_is_masked():
    arccos = get_schedule("arccos")
    counts = window_counts(16 * 1024, 14 * 1024, 20, arccos)
    assert sum(counts) == 14 * 1024 and len(counts) == 19 and counts[0] == 1
    assert counts[1:-1] == sorted(counts[1:-1]), "arccos: each step reveals more than the one before"
    full = window_counts(16 * 1024, 16 * 1024, 20, arccos)  # no context: all 20 steps, every token
    assert len(full) == 20 and sum(full) == 16 * 1024
