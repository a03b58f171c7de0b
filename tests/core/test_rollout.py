import math
from types import SimpleNamespace

import pytest
import torch

from maskbench.core.errors import MaskbenchError
from maskbench.core.rollout import RolloutPlan, chunked_rollout


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


def recording_rollout(plan: RolloutPlan, full_windows: bool):
    """Roll out with a window sampler that fills frame j of a window with the window's index * 100 + j."""
    seen = []

    def fill(model, window, context, generator):
        seen.append((window.shape[1], context, bool((window[:, :context] == model.mask_id).any())))
        out = window.clone()
        for j in range(context, window.shape[1]):
            out[:, j] = len(seen) * 100 + j
        return out

    model = SimpleNamespace(mask_id=-1, device=torch.device("cpu"))
    context = torch.zeros(1, plan.context, 1, 1, dtype=torch.long)
    video = chunked_rollout(fill, model, context, plan, torch.Generator(), full_windows=full_windows)
    return video.flatten().tolist(), seen


@pytest.mark.parametrize("k,m,s,length", [(16, 2, 7, 32), (16, 4, 3, 40), (6, 2, 4, 4), (8, 2, 6, 3)])
def test_full_windows_have_k_frames_and_keep_the_first_new_ones(k, m, s, length):
    plan = RolloutPlan(k, m, s, length)
    video, seen = recording_rollout(plan, full_windows=True)
    assert len(video) == length
    assert all(frames == k for frames, _, _ in seen), "every window must be filled to k frames"
    assert not any(masked_context for _, _, masked_context in seen)
    start = m
    for i, (ctx, new) in enumerate(plan.windows(), 1):  # the new frames are the first `new` after the context
        assert video[start : start + new] == [i * 100 + j for j in range(ctx, ctx + new)]
        start += new
    _, stride_seen = recording_rollout(plan, full_windows=False)
    assert [frames for frames, _, _ in stride_seen] == [ctx + new for ctx, new in plan.windows()]  # Algorithm 2


@pytest.mark.parametrize("k,m,x", [(16, 2, 2), (16, 15, 2), (36, 12, 5), (6, 2, 3)])
def test_both_window_rules_agree_when_s_is_k_minus_m(k, m, x):
    plan = RolloutPlan.from_extrapolation(k, m, k - m, x)
    assert recording_rollout(plan, full_windows=True) == recording_rollout(plan, full_windows=False)
