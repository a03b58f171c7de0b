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
