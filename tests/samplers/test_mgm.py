"""MGM unmasks by confidence (log-probability plus annealed Gumbel noise), not in a fixed order."""

import torch

from maskbench.samplers.mgm import MGM

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
