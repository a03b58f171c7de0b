"""What the paper's full protocol would cost on this machine, extrapolated from a finished run.

A run measures seconds per video per evaluation for each sampler and I3D seconds per video frame;
the full protocol's counted NFE per cell comes from running each sampler against random logits
(:func:`counted_nfe`), so the estimate follows the samplers' real step counts.
"""

from __future__ import annotations

from dataclasses import dataclass

from maskbench.bench.nfe import counted_nfe
from maskbench.core.rollout import RolloutPlan
from maskbench.report.record import CellRecord

PROTOCOL_VIDEOS, PROTOCOL_FACTORS = 625, (2, 5, 10)  # paper: 625 DMLab test videos; Tables 1 and 5


@dataclass(frozen=True)
class Estimate:
    """Seconds the full protocol would take: sampling, I3D features, and the two together."""

    sampling_s: float
    features_s: float | None  # None: the run computed no FVD, so I3D's cost was not measured
    videos: int
    factors: tuple[int, ...]
    samplers: tuple[str, ...]
    label: str = "the full protocol"

    @property
    def total_s(self) -> float:
        return self.sampling_s + (self.features_s or 0.0)

    def sentence(self, device) -> str:
        factors = ",".join(map(str, self.factors))
        features = "not measured: no FVD in this run" if self.features_s is None else human(self.features_s)
        return (f"{self.label} ({self.videos} videos per cell, --extrap {factors}, {', '.join(self.samplers)}) "
                f"would take about {human(self.total_s)} on this {device} (sampling {human(self.sampling_s)}, "
                f"I3D features {features}), extrapolated from this run's timings")


def estimate_protocol(records: list[CellRecord], bench, videos: int = PROTOCOL_VIDEOS,
                      factors: tuple[int, ...] = PROTOCOL_FACTORS, label: str = "the full protocol") -> Estimate | None:
    """Extrapolate ``records`` (this run's cells) to ``videos`` x ``factors`` (named ``label`` when printed); None
    without records."""
    timed = [r for r in records if r.nfe]
    if not timed:
        return None
    per_nfe = {r.sampler: r.seconds_per_video / r.nfe for r in timed}
    sampling = 0.0
    for name, seconds in per_nfe.items():
        for factor in factors:
            plan = RolloutPlan.from_extrapolation(bench.frames, bench.context, bench.stride, factor)
            sampling += counted_nfe(bench.samplers[name], plan) * seconds * videos
    frames_timed = [(r.feature_seconds, r.n_fake * r.length) for r in timed if r.feature_seconds]
    features = None
    if frames_timed:
        per_frame = sum(s for s, _ in frames_timed) / sum(n for _, n in frames_timed)
        lengths = sum(RolloutPlan.from_extrapolation(bench.frames, bench.context, bench.stride, f).length for f in factors)
        features = per_frame * videos * lengths * (len(per_nfe) + 1)  # every sampler, plus the real videos once
    return Estimate(sampling, features, videos, tuple(factors), tuple(per_nfe), label)


def human(seconds: float) -> str:
    """``45 s``, ``12 min``, ``3.4 h``."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
