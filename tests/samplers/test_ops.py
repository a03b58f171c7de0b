import math

import torch

from maskbench.samplers.ops import gumbel_noise, reveal_random, sample_categorical


def test_sample_categorical_matches_distribution(generator):
    probs = torch.tensor([0.1, 0.0, 0.6, 0.3])
    logits = probs.clamp_min(1e-30).log().expand(20000, 4)
    tokens, p = sample_categorical(logits, generator)
    freq = torch.bincount(tokens, minlength=4).float() / 20000
    assert torch.allclose(freq, probs, atol=0.02)
    assert freq[1] == 0, "a zero-probability token was drawn"
    assert torch.allclose(p, probs[tokens])


def test_sample_categorical_temperature_zero_is_argmax(generator):
    logits = torch.randn(50, 7, generator=generator)
    tokens, _ = sample_categorical(logits, generator, temperature=0)
    assert torch.equal(tokens, logits.argmax(-1))


def test_reveal_random_picks_exact_counts_among_masked(generator):
    masked = torch.rand(2, 3, 4, 4, generator=generator) < 0.7
    counts = torch.tensor([[1, 2, 3], [0, 4, 100]])
    reveal = reveal_random(masked, counts, generator)
    assert not (reveal & ~masked).any()
    got = reveal.sum(dim=(2, 3))
    assert torch.equal(got, torch.minimum(counts, masked.sum(dim=(2, 3))))


def test_gumbel_noise_is_finite_standard_gumbel(generator):
    g = gumbel_noise((200000,), generator, torch.device("cpu"))
    assert torch.isfinite(g).all()
    assert abs(g.mean().item() - 0.5772) < 0.02  # Euler-Mascheroni constant
    assert abs(g.var().item() - math.pi**2 / 6) < 0.05
