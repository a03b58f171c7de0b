"""Frechet Video Distance from I3D features: pure functions of arrays, apart from the feature network."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import scipy.linalg

from maskbench.core.errors import MaskbenchError

#: Below this many videos on either side FVD is strongly biased upwards (published FVDs use 2048).
MIN_UNBIASED_VIDEOS = 256
_EPS = 1e-6  # diagonal offset when sqrtm of a (near-)singular covariance product goes wrong


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Frechet distance ``|mu1 - mu2|^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2))`` between two Gaussians.

    Args:
        mu1, mu2: means ``[D]``.
        sigma1, sigma2: covariances ``[D, D]``.

    Returns:
        The squared distance, in float64 arithmetic.
    """
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    sigma1, sigma2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    covmean = _sqrtm_product(sigma1, sigma2)
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean))


def _sqrtm_product(sigma1: np.ndarray, sigma2: np.ndarray) -> np.ndarray:
    """Real ``(S1 S2)^(1/2)``.

    With fewer videos than feature dimensions both covariances are singular; ``sqrtm`` may then
    return non-finite values or a noticeable imaginary part. As in pytorch-fid and StyleGAN-V's
    relatives, retry with ``eps * I`` added to both, then keep the real part (the imaginary part of
    the square root of a product of PSD matrices is numerical noise).
    """
    covmean = scipy.linalg.sqrtm(sigma1 @ sigma2)
    if not np.isfinite(covmean).all() or _imaginary(covmean):
        offset = np.eye(len(sigma1)) * _EPS
        covmean = scipy.linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    return np.real(covmean)


def _imaginary(a: np.ndarray) -> bool:
    return np.iscomplexobj(a) and np.abs(a.imag).max() > 1e-3 * max(np.abs(a.real).max(), 1.0)


def gaussian_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``[D]`` and unbiased covariance ``[D, D]`` (float64) of ``features`` ``[N, D]``."""
    features = np.asarray(features, np.float64)
    return features.mean(axis=0), np.cov(features, rowvar=False)


def fvd_from_features(feats_real: np.ndarray, feats_fake: np.ndarray) -> float:
    """FVD between two sets of I3D features.

    Args:
        feats_real: ``[N, 400]`` features of real videos (see :func:`maskbench.metrics.features.i3d_features`).
        feats_fake: ``[M, 400]`` features of generated videos.

    Returns:
        The Frechet distance between Gaussians fitted to the two sets.

    Raises:
        MaskbenchError: a set is not ``[n, D]`` with ``n >= 2``, or the feature sizes differ.
    """
    for name, feats in (("real", feats_real), ("generated", feats_fake)):
        if np.ndim(feats) != 2 or len(feats) < 2:
            raise MaskbenchError(f"FVD needs at least 2 {name} videos as features [n, D], got shape {np.shape(feats)}; "
                                 "raise --videos")
    if np.shape(feats_real)[1] != np.shape(feats_fake)[1]:
        raise MaskbenchError(f"feature sizes differ: real {np.shape(feats_real)}, generated {np.shape(feats_fake)}")
    return frechet_distance(*gaussian_stats(feats_real), *gaussian_stats(feats_fake))


@dataclass(frozen=True)
class FVDResult:
    """One FVD and what it was computed on; the one shape every command returns and records.

    Attributes:
        fvd: Frechet distance between the Gaussians of the two feature sets.
        n_real: videos on the real (reference) side.
        n_fake: videos on the generated side.
        frames: frames per clip that I3D saw.
        protocol: which clip of each video was scored (see :mod:`maskbench.metrics.protocols`).
        fvd_low, fvd_high: bootstrap interval of the FVD over videos (both sides resampled); it is an
            interval for the FVD at infinitely many videos, so at ``N`` well below the feature size
            (400) it can lie below ``fvd``, which is biased upwards by about ``D / N``.
        kvd, kvd_low, kvd_high: kernel video distance (unbiased at any N) and its interval.
        ci_level, ci_method, ci_resamples: of the bootstrap (:mod:`maskbench.metrics.stats`).
        ``None`` where not computed (``statistics=False``) or where too few videos allow no interval.
    """

    fvd: float
    n_real: int
    n_fake: int
    frames: int
    protocol: str
    fvd_low: float | None = None
    fvd_high: float | None = None
    kvd: float | None = None
    kvd_low: float | None = None
    kvd_high: float | None = None
    ci_level: float | None = None
    ci_method: str | None = None
    ci_resamples: int | None = None

    def record(self) -> dict:
        """The fields as a flat JSON-ready dict (``results.jsonl``, ``maskbench fvd --json``)."""
        return dataclasses.asdict(self)

    def report(self) -> str:
        """One line: FVD with its interval, KVD with its, the sizes and the protocol."""
        from maskbench.metrics.stats import interval_text

        line = fvd_report(self.n_real, self.n_fake, self.fvd, self.fvd_low, self.fvd_high)
        if self.kvd is not None:
            line += f"; KVD {self.kvd:.2f} {interval_text(self.kvd_low, self.kvd_high, 2)}"
        if self.ci_level is not None:
            line += f" ({self.ci_level:.0%} {self.ci_method} bootstrap over videos, {self.ci_resamples} resamples)"
        return f"{line} [protocol {self.protocol}, {self.frames} frames]"


def fvd_result(feats_real: np.ndarray, feats_fake: np.ndarray, frames: int, protocol: str,
               statistics: bool = True, seed: int = 0) -> FVDResult:
    """FVD of two feature sets, with its sizes, clip length and protocol: the one FVD path of every command.

    ``maskbench run``, ``experiment``, ``fvd`` and ``tokenizer eval`` all call this on features from
    :func:`maskbench.metrics.features.i3d_features` of clips cut by :func:`maskbench.metrics.protocols.protocol_clips`.

    Args:
        feats_real: ``[N, D]`` features of the real side.
        feats_fake: ``[M, D]`` features of the generated side.
        frames: frames per clip behind the features.
        protocol: the protocol's name.
        statistics: add the FVD's bootstrap interval and KVD with its interval
            (:func:`maskbench.metrics.stats.fvd_statistics`, seeded by ``seed``).

    Returns:
        The :class:`FVDResult`.
    """
    value = fvd_from_features(feats_real, feats_fake)
    extra = {}
    if statistics:
        from maskbench.metrics.stats import fvd_statistics

        extra = fvd_statistics(feats_real, feats_fake, seed=seed)
    return FVDResult(fvd=float(value), n_real=len(feats_real), n_fake=len(feats_fake), frames=int(frames),
                     protocol=protocol, **extra)


def fvd_report(n_real: int, n_fake: int, value: float, low: float | None = None, high: float | None = None) -> str:
    """One line giving FVD (with its interval, when given) and both set sizes, warning when either is too small.

    Example: ``FVD 412.3 [380.1, 441.0] (256 real / 256 generated videos)``.
    """
    from maskbench.metrics.stats import interval_text

    shown = f"FVD {value:.1f}" + ("" if low is None and high is None else f" {interval_text(low, high)}")
    line = f"{shown} ({n_real} real / {n_fake} generated videos)"
    if min(n_real, n_fake) < MIN_UNBIASED_VIDEOS:
        line += (f"; WARNING: fewer than {MIN_UNBIASED_VIDEOS} videos: biased, "
                 "not comparable with published FVD")
    return line
