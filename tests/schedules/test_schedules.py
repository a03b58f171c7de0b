import math

import pytest
import torch

from maskbench.core.errors import MaskbenchError
from maskbench.schedules import get_schedule, registered_schedules
from maskbench.schedules.counts import unmask_counts
from maskbench.schedules.pyramid import pyramid_matrix
from maskbench.schedules.rolling import final_times, init_times, rolling_state, shift_times

NAMES = ["linear", "cosine", "arccos", "sigmoid"]


def test_builtins_registered():
    assert set(NAMES) <= set(registered_schedules())


def test_unknown_schedule_lists_known():
    with pytest.raises(MaskbenchError, match="linear"):
        get_schedule("nope")


@pytest.mark.parametrize("name", NAMES)
def test_endpoints_and_monotone(name):
    s = get_schedule(name)
    t = torch.linspace(0, 1, 1001, dtype=torch.float64)
    k = s.kappa(t)
    assert float(k[0]) == pytest.approx(0, abs=1e-4)
    assert float(k[-1]) == pytest.approx(1, abs=1e-9)
    assert torch.all(k[1:] >= k[:-1])


@pytest.mark.parametrize("name", NAMES)
def test_derivative_matches_finite_differences(name):
    s = get_schedule(name)
    t = torch.linspace(0.05, 0.95, 91, dtype=torch.float64)
    eps = 1e-6
    numeric = (s.kappa(t + eps) - s.kappa(t - eps)) / (2 * eps)
    assert torch.allclose(s.derivative(t), numeric, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_inverse(name):
    s = get_schedule(name)
    t = torch.linspace(0.01, 0.99, 50, dtype=torch.float64)
    assert torch.allclose(s.inverse(s.kappa(t)), t, atol=1e-6)


def test_sigmoid_reference_constants():
    s = get_schedule("sigmoid")
    v0, v1 = 1 / (1 + math.exp(3)), 1 / (1 + math.exp(-3))
    t = torch.tensor([0.25, 0.5], dtype=torch.float64)
    expected = 1 - (v1 - torch.sigmoid(t * 6 - 3)) / (v1 - v0)
    assert torch.allclose(s.kappa(t), expected)
    assert float(s.kappa(torch.tensor(0.5))) == pytest.approx(0.5)


def test_pyramid_matrix_formula():
    k, steps = 5, 7
    m = pyramid_matrix(k, steps)
    assert m.shape == (steps + k, k)
    for i in range(steps + k):
        for j in range(k):
            assert m[i, j] == min(max(steps + j - i, 0), steps - 1)
    assert torch.all(m[-1] == 0)
    assert torch.all(m[1:] <= m[:-1]), "levels never go back up"


@pytest.mark.parametrize("masked,steps", [(896, 20), (64, 20), (20, 20), (7, 20), (1000, 1)])
@pytest.mark.parametrize("schedule", ["arccos", "cosine", "linear"])
def test_unmask_counts_sum_and_positive(masked, steps, schedule):
    counts = unmask_counts(masked, steps, get_schedule(schedule))
    assert len(counts) == steps and sum(counts) == masked
    if masked >= steps:
        assert min(counts) >= 1, "every step must unmask something"
    else:
        assert counts[:masked] == [1] * masked


def test_unmask_counts_follow_arccos():
    counts = unmask_counts(1000, 10, get_schedule("arccos"))
    assert counts[0] < counts[-1], "arccos unmasks few tokens early, many late"


def test_rolling_levels():
    n, steps = 4, 10
    assert torch.allclose(rolling_state(n), torch.tensor([0.75, 0.5, 0.25, 0.0], dtype=torch.float64))
    init = init_times(n, steps)
    assert init.shape == (steps + 1, n) and torch.all(init[0] == 0) and torch.allclose(init[-1], rolling_state(n))
    shift = shift_times(n, steps)
    assert shift.shape == (math.ceil(steps / n) + 1, n)
    assert float(shift[-1, 0]) == 1 and torch.allclose(shift[-1, 1:], rolling_state(n)[:-1])
    final = final_times(n, steps)
    assert torch.all(final[-1] == 1) and final.shape == (steps + 1, n)
