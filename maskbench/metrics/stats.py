"""Statistics on FVD: bootstrap intervals, KVD (unbiased kernel distance), paired sampler differences.

Pure functions of feature arrays ``[N, D]`` (I3D logits, ``D = 400``). Intervals come from
:func:`scipy.stats.bootstrap` resampling *videos*: the real and the generated set independently for
one FVD or KVD; for a difference between two samplers of one run (which saw the same contexts and
seeds, so video ``i`` of one is paired with video ``i`` of the other) the generated videos jointly
for both samplers and the real set independently. Resamples are seeded, so intervals reproduce.

Method: ``basic`` (reverse percentile) by default. FVD at small N is biased upwards by a term of
order ``D / N``; a bootstrap resample adds that bias once more, so the *percentile* interval sits
about two biases above the true distance, while the basic interval ``[2 t - q_hi, 2 t - q_lo]``
reflects it back (tests/metrics/test_stats.py measures the coverage of each). ``percentile`` and
``BCa`` are options. Resamples that repeat a video exclude pairs of a video with itself from KVD's
within-set sums, so a resample's KVD stays unbiased for its weights.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import scipy.stats

from maskbench.core.errors import MaskbenchError

LEVEL, RESAMPLES, METHOD = 0.95, 1000, "basic"
METHODS = ("basic", "percentile", "BCa")
_BATCH_BYTES = 64 * 2**20  # memory per vectorised batch of resamples: [batch, N, D] float64 copies


def kvd(feats_real: np.ndarray, feats_fake: np.ndarray) -> float:
    """Kernel video distance: unbiased MMD^2 with the kernel ``k(x, y) = (x . y / D + 1)^3``.

    As KID (Binkowski et al. 2018) and KVD (Unterthiner et al. 2018), but on all videos at once (one
    subset): KID's subsets of 1000 only save time at N far above ours. Unbiased: its mean over two
    samples of one distribution is 0, at any N (it can be negative).

    Args:
        feats_real: ``[N, D]``, ``N >= 2``.
        feats_fake: ``[M, D]``, ``M >= 2``.

    Returns:
        The MMD^2 estimate.
    """
    real, fake = _checked(feats_real, feats_fake)
    kernels = _kernels(real, fake)
    return float(_kvd_weighted(*kernels, np.ones((1, len(real))), np.ones((1, len(fake))))[0])


def fvd_fast(feats_real: np.ndarray, feats_fake: np.ndarray) -> np.ndarray:
    """FVD of a batch of feature sets, without ``sqrtm``: the route every bootstrap resample takes.

    ``tr((S1 S2)^(1/2))`` is the nuclear norm of ``X1 X2^T / sqrt((n1 - 1)(n2 - 1))`` (centred
    features ``X``: the nonzero eigenvalues of ``S1 S2`` are the squared singular values of that
    ``[n1, n2]`` matrix), or, when ``n1 n2 > D^2``, the sum of square roots of the eigenvalues of the
    symmetric ``S1^(1/2) S2 S1^(1/2)``. Equal to :func:`maskbench.metrics.fvd.fvd_from_features`.

    Args:
        feats_real: ``[..., N, D]``.
        feats_fake: ``[..., M, D]`` (same leading axes).

    Returns:
        ``[...]`` distances.
    """
    x, y = np.asarray(feats_real, np.float64), np.asarray(feats_fake, np.float64)
    mx, my = x.mean(-2), y.mean(-2)
    xc, yc = x - mx[..., None, :], y - my[..., None, :]
    nx, ny, d = x.shape[-2], y.shape[-2], x.shape[-1]
    traces = ((xc**2).sum((-2, -1)) / (nx - 1)) + ((yc**2).sum((-2, -1)) / (ny - 1))
    if nx * ny <= d * d:
        cross = np.linalg.svd(xc @ np.swapaxes(yc, -1, -2), compute_uv=False).sum(-1) / np.sqrt((nx - 1) * (ny - 1))
    else:
        s1 = np.swapaxes(xc, -1, -2) @ xc / (nx - 1)
        s2 = np.swapaxes(yc, -1, -2) @ yc / (ny - 1)
        w, u = np.linalg.eigh(s1)
        root = (u * np.sqrt(np.clip(w, 0, None))[..., None, :]) @ np.swapaxes(u, -1, -2)
        cross = np.sqrt(np.clip(np.linalg.eigvalsh(root @ s2 @ root), 0, None)).sum(-1)
    return ((mx - my) ** 2).sum(-1) + traces - 2 * cross


@dataclass(frozen=True)
class Estimate:
    """A value with its bootstrap interval.

    Attributes:
        value: the estimate on the sets as given.
        low, high: the interval's ends.
    """

    value: float
    low: float
    high: float

    def text(self, digits: int = 1) -> str:
        """``1643.0 [1510.2, 1790.8]``; ``1643.0 [no interval]`` when there were too few videos."""
        return f"{self.value:.{digits}f} {interval_text(self.low, self.high, digits)}"

    @property
    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0


def interval_text(low: float | None, high: float | None, digits: int = 1) -> str:
    """``[1510.2, 1790.8]``, or ``[no interval]`` where the bootstrap had too few videos (``None``/NaN ends)."""
    if low is None or high is None or not (np.isfinite(low) and np.isfinite(high)):
        return "[no interval]"
    return f"[{low:.{digits}f}, {high:.{digits}f}]"


def fvd_statistics(feats_real: np.ndarray, feats_fake: np.ndarray, seed: int = 0, level: float = LEVEL,
                   resamples: int = RESAMPLES, method: str = METHOD) -> dict:
    """FVD's interval, KVD and its interval, as flat record fields (``results.jsonl``).

    Args:
        feats_real: ``[N, D]`` real-side features.
        feats_fake: ``[M, D]`` generated-side features.
        seed: seeds the resampling.
        level, resamples, method: of the bootstrap (see the module docstring).

    Returns:
        ``fvd_low, fvd_high, kvd, kvd_low, kvd_high, ci_level, ci_method, ci_resamples``; an interval's
        ends are ``None`` when the sets are too small for one (a resample of a single video).
    """
    real, fake = _checked(feats_real, feats_fake)
    fvd_value = float(fvd_fast(real, fake))
    low, high = _bootstrap(lambda r, f: fvd_fast(real[r], fake[f]), (len(real), len(fake)), fvd_value, seed,
                           level, resamples, method)
    kernels = _kernels(real, fake)
    kvd_value = kvd(real, fake)
    n = (len(real), len(fake))
    k_low, k_high = _bootstrap(lambda r, f: _kvd_weighted(*kernels, _counts(r, n[0]), _counts(f, n[1])), n,
                               kvd_value, seed + 1, level, resamples, method)
    ends = {name: None if not np.isfinite(v) else v
            for name, v in dict(fvd_low=low, fvd_high=high, kvd_low=k_low, kvd_high=k_high).items()}
    return dict(**ends, kvd=kvd_value, ci_level=level, ci_method=method, ci_resamples=resamples)


@dataclass(frozen=True)
class PairedDifference:
    """``a - b`` in FVD and KVD for two samplers scored against one real set, with paired intervals.

    Attributes:
        fvd: FVD(a) - FVD(b) with its interval.
        kvd: KVD(a) - KVD(b) with its interval.
        n: paired generated videos; ``n_real``: real videos.
        level, method, resamples: of the bootstrap.
    """

    fvd: Estimate
    kvd: Estimate
    n: int
    n_real: int
    level: float
    method: str
    resamples: int


def paired_difference(feats_real: np.ndarray, feats_a: np.ndarray, feats_b: np.ndarray, seed: int = 0,
                      level: float = LEVEL, resamples: int = RESAMPLES, method: str = METHOD) -> PairedDifference:
    """Difference between two samplers whose video ``i`` shares context and seed, with a paired bootstrap.

    Each resample draws generated indices once for both samplers and the real indices independently,
    so what the pair has in common (the context, the seed) cancels from the difference's spread.

    Args:
        feats_real: ``[N, D]``.
        feats_a, feats_b: ``[M, D]`` each, row ``i`` of both from the same context and seed.
        seed, level, resamples, method: of the bootstrap.

    Returns:
        The :class:`PairedDifference`.

    Raises:
        MaskbenchError: the two generated sets differ in size.
    """
    real, a = _checked(feats_real, feats_a)
    _, b = _checked(feats_real, feats_b)
    if a.shape != b.shape:
        raise MaskbenchError(f"paired samplers need the same videos, got {a.shape} and {b.shape}")
    n = (len(real), len(a))
    fvd_value = float(fvd_fast(real, a) - fvd_fast(real, b))
    fvd_ends = _bootstrap(lambda r, f: fvd_fast(real[r], a[f]) - fvd_fast(real[r], b[f]), n, fvd_value, seed,
                          level, resamples, method)
    ka, kb = _kernels(real, a), _kernels(real, b)

    def kvd_diff(r: np.ndarray, f: np.ndarray) -> np.ndarray:
        wr, wf = _counts(r, n[0]), _counts(f, n[1])
        return _kvd_weighted(*ka, wr, wf) - _kvd_weighted(*kb, wr, wf)

    kvd_value = kvd(real, a) - kvd(real, b)
    kvd_ends = _bootstrap(kvd_diff, n, kvd_value, seed + 1, level, resamples, method)
    return PairedDifference(Estimate(fvd_value, *fvd_ends), Estimate(kvd_value, *kvd_ends), n[1], n[0], level,
                            method, resamples)


def videos_needed(difference: Estimate, n: int) -> int | None:
    """Videos per cell at which the interval would exclude 0, if the difference stayed as measured.

    Assumes the interval's half-width toward 0 shrinks as ``1 / sqrt(N)`` and the difference itself
    does not move with N (closer for KVD, unbiased, than for FVD, whose bias falls as ``1 / N``).

    Args:
        difference: the measured difference and its interval at ``n`` videos.
        n: videos behind it.

    Returns:
        ``n`` or more; ``None`` when the difference is 0 or has no interval.
    """
    half = difference.value - difference.low if difference.value > 0 else difference.high - difference.value
    if difference.value == 0 or not np.isfinite(half):
        return None
    return max(n, int(np.ceil(n * (half / abs(difference.value)) ** 2)))


def _bootstrap(statistic, sizes: tuple[int, int], value: float, seed: int, level: float, resamples: int,
               method: str) -> tuple[float, float]:
    """Interval of ``statistic(real_indices, fake_indices)`` (vectorised over leading axes)."""
    if method not in METHODS:
        raise MaskbenchError(f"unknown interval method {method!r}; choose one of {', '.join(METHODS)}")
    indices = tuple(np.arange(s) for s in sizes)
    batch = max(1, _BATCH_BYTES // (8 * 400 * sum(sizes)))
    # vectorized: scipy hands [batch, n] index arrays; the statistic indexes the features with them.
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", scipy.stats.DegenerateDataWarning)
        result = scipy.stats.bootstrap(indices, lambda r, f, axis=-1: statistic(r, f), n_resamples=resamples,
                                       confidence_level=level, method=method, vectorized=True, batch=batch,
                                       random_state=np.random.default_rng(seed))
    low, high = result.confidence_interval
    if not np.isfinite(low) or not np.isfinite(high):  # too few videos (a resample of one video), or BCa degenerate
        return float("nan"), float("nan")
    return float(low), float(high)


def _kernels(real: np.ndarray, fake: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    d = real.shape[1]

    def k(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return (x @ y.T / d + 1.0) ** 3

    return k(real, real), k(fake, fake), k(real, fake)


def _counts(indices: np.ndarray, n: int) -> np.ndarray:
    """How often each of ``n`` videos occurs in each resample: ``[..., m]`` indices -> ``[..., n]`` weights."""
    flat = indices.reshape(-1, indices.shape[-1])
    offsets = (flat + n * np.arange(len(flat))[:, None]).ravel()
    return np.bincount(offsets, minlength=n * len(flat)).reshape(*indices.shape[:-1], n).astype(np.float64)


def _kvd_weighted(kxx: np.ndarray, kyy: np.ndarray, kxy: np.ndarray, wx: np.ndarray, wy: np.ndarray) -> np.ndarray:
    """Unbiased MMD^2 of weighted (resampled) sets ``[..., n]``; pairs of a video with itself excluded."""

    def within(k: np.ndarray, w: np.ndarray) -> np.ndarray:
        total = np.einsum("...i,ij,...j->...", w, k, w) - (w**2 * np.diag(k)).sum(-1)
        with np.errstate(invalid="ignore", divide="ignore"):  # a resample of one video has no pairs: NaN
            return total / (w.sum(-1) ** 2 - (w**2).sum(-1))

    cross = np.einsum("...i,ij,...j->...", wx, kxy, wy) / (wx.sum(-1) * wy.sum(-1))
    return within(kxx, wx) + within(kyy, wy) - 2 * cross


def _checked(feats_real: np.ndarray, feats_fake: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    real, fake = np.asarray(feats_real, np.float64), np.asarray(feats_fake, np.float64)
    for name, feats in (("real", real), ("generated", fake)):
        if feats.ndim != 2 or len(feats) < 2:
            raise MaskbenchError(f"statistics need at least 2 {name} videos as features [n, D], got {feats.shape}")
    if real.shape[1] != fake.shape[1]:
        raise MaskbenchError(f"feature sizes differ: real {real.shape}, generated {fake.shape}")
    return real, fake
