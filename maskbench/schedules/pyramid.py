"""Diffusion Forcing's pyramid scheduling matrix (paper, Appendix A.2)."""

import torch


def pyramid_matrix(frames: int, steps: int) -> torch.Tensor:
    """Steps-to-go of every frame after every row of the pyramid schedule.

    ``level[i, j] = clip(steps + j - i, 0, steps - 1)``: row ``i`` is one network evaluation; frame
    ``j`` starts unmasking ``j`` rows after frame 0, so earlier frames are cleaner.

    Args:
        frames: window length ``k``.
        steps: denoising steps per frame ``T``.

    Returns:
        long ``[steps + frames, frames]``; the last row is all zeros (every frame clean).
    """
    rows = torch.arange(steps + frames).unsqueeze(1)
    cols = torch.arange(frames).unsqueeze(0)
    return (steps + cols - rows).clamp(0, steps - 1)


def level_to_time(level: torch.Tensor, steps: int) -> torch.Tensor:
    """Steps-to-go -> time: ``t = 1 - level / steps`` (``level = steps`` is fully masked)."""
    return 1 - level.float() / steps
