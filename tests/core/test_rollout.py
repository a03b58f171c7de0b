import math

import pytest

from maskbench.core.errors import MaskbenchError
from maskbench.core.rollout import RolloutPlan


@pytest.mark.parametrize("k,m,s,x", [(16, 2, 14, 2), (16, 2, 14, 5), (16, 15, 1, 2), (36, 12, 24, 5), (16, 2, 7, 3)])
def test_windows_follow_algorithm_2(k, m, s, x):
    plan = RolloutPlan.from_extrapolation(k, m, s, x)
    windows = plan.windows()
    assert len(windows) == math.ceil((plan.length - m) / s)
    if m + s == k:  # full windows: the paper's count (Appendix A.2)
        assert len(windows) == math.ceil((plan.length - k) / s) + 1
    assert m + sum(new for _, new in windows) == plan.length
    for ctx, new in windows[:-1]:
        assert (ctx, new) == (m, s)
    ctx, new = windows[-1]
    assert ctx + new <= k
    if plan.length - m - s * (len(windows) - 1) <= s and len(windows) > 1:
        assert ctx + new == k, "the last window takes more context"


@pytest.mark.parametrize(
    "k,m,s,x,match",
    [(16, 16, 1, 2, "context"), (16, 0, 1, 2, "context"), (16, 2, 15, 2, "stride"), (16, 2, 0, 2, "stride"),
     (16, 2, 14, 0, "extrapolation"), (16, 2, 14, 1.5, "integer"), (16.0, 2, 14, 2, "integer")],
)
def test_invalid_plans(k, m, s, x, match):
    with pytest.raises(MaskbenchError, match=match):
        RolloutPlan.from_extrapolation(k, m, s, x)
