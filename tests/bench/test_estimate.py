"""The full-protocol estimate scales this run's measured costs by counted NFE and frames."""

from types import SimpleNamespace

import pytest

from maskbench.bench.nfe import counted_nfe
from maskbench.core.rollout import RolloutPlan
from maskbench.bench.estimate import estimate_protocol
from maskbench.report.record import CellRecord
from maskbench.samplers import build_sampler


def record(**fields) -> CellRecord:
    base = dict(key="k", extrap=2, frames=16, context=2, stride=14, seconds_total=1.0, seed=0, finished=0.0)
    return CellRecord(**{**base, **fields})


def test_estimate_scales_measured_costs():
    samplers = {"mgm": build_sampler("mgm"), "fm": build_sampler("fm", steps=10)}
    bench = SimpleNamespace(frames=16, context=2, stride=14, samplers=samplers)
    records = [record(sampler="mgm", nfe=60, seconds_per_video=0.6, feature_seconds=8.0, n_fake=4, length=32),
               record(sampler="fm", nfe=30, seconds_per_video=0.6, feature_seconds=8.0, n_fake=4, length=32)]
    got = estimate_protocol(records, bench, videos=10, factors=(2, 5))
    plans = [RolloutPlan.from_extrapolation(16, 2, 14, f) for f in (2, 5)]
    per_nfe = {"mgm": 0.6 / 60, "fm": 0.6 / 30}
    expected = sum(counted_nfe(samplers[n], p) * per_nfe[n] * 10 for n in samplers for p in plans)
    assert got.sampling_s == pytest.approx(expected)
    per_frame = 16.0 / (2 * 4 * 32)
    assert got.features_s == pytest.approx(per_frame * 10 * (32 + 80) * 3)  # two samplers + the real side
    assert "would take about" in got.sentence("cpu")


def test_no_records_no_estimate():
    assert estimate_protocol([], SimpleNamespace()) is None


def test_without_fvd_the_features_are_not_guessed():
    bench = SimpleNamespace(frames=16, context=2, stride=14, samplers={"mgm": build_sampler("mgm")})
    got = estimate_protocol([record(sampler="mgm", nfe=60, seconds_per_video=0.6, feature_seconds=None, n_fake=4,
                                    length=32)], bench, videos=10, factors=(2,))
    assert got.features_s is None and got.total_s == got.sampling_s
    assert "not measured" in got.sentence("cpu")
