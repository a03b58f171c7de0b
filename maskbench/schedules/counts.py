"""How many tokens MGM unmasks at each step (MaskGIT-style count schedule)."""

from __future__ import annotations

import torch

from maskbench.schedules import Schedule


def unmask_counts(masked: int, steps: int, schedule: Schedule) -> list[int]:
    """Tokens to unmask at each of ``steps`` steps so the masked count follows ``1 - kappa``.

    After step ``i`` (1-based) about ``masked * (1 - kappa(i / steps))`` tokens remain masked; every
    step unmasks at least one token while any remain, and the counts sum to ``masked``.

    Args:
        masked: number of masked tokens at the start (per video).
        steps: number of steps ``T``.
        schedule: the count schedule (MaskGIT: arccos or cosine).

    Returns:
        ``steps`` non-negative ints summing to ``masked``; zeros only at the end when ``masked < steps``.
    """
    t = torch.arange(1, steps + 1, dtype=torch.float64) / steps
    remaining = torch.floor(masked * (1 - schedule.kappa(t))).long().tolist()
    remaining[-1] = 0
    counts, left = [], masked
    for i, target in enumerate(remaining):
        steps_left = steps - i
        n = max(left - target, 1 if left > 0 else 0)
        if left >= steps_left:  # leave one token for each later step
            n = min(n, left - (steps_left - 1))
        n = min(n, left)
        counts.append(n)
        left -= n
    return counts


def window_counts(tokens: int, masked: int, steps: int, schedule: Schedule) -> list[int]:
    """The authors' MGM counts (CompVis/maskflow ``adap_scheduler``): spread over the whole window.

    Step ``i`` of ``steps`` is given a share of all ``tokens`` of the window, context included,
    proportional to the masked fraction ``1 - kappa(r_i)`` at ``r_i = 1 - i / (steps - 1)`` (so it
    starts at 0, rounded up to 1 token, and grows); the last step takes the rounding remainder.
    Unmasking stops once the ``masked`` tokens are all revealed, so a window with context costs fewer
    than ``steps`` evaluations (FFS, 16 frames of 32 x 32 with 2 context: 19; one new frame: 4).

    Args:
        tokens: tokens of the whole window (context included), per video.
        masked: masked tokens at the start, per video (``<= tokens``).
        steps: the scheduled number of steps ``T``.
        schedule: the count schedule (the authors: arccos).

    Returns:
        positive ints summing to ``masked``, one per evaluation (at most ``steps`` of them).
    """
    if steps == 1:
        return [masked] if masked else []
    r = torch.linspace(1, 0, steps, dtype=torch.float64)
    share = 1 - schedule.kappa(r)
    counts = torch.round(share / share.sum() * tokens)
    counts[counts == 0] = 1
    counts[-1] += tokens - counts.sum()
    out, left = [], masked
    for count in counts.long().tolist():
        if left == 0:
            break
        out.append(min(count, left))
        left -= out[-1]
    return out
