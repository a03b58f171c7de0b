"""Rolling diffusion (RDM) per-frame times: staggered levels across the window's new frames.

In the rolling state the ``n = k - m`` non-context frames sit at ``t_j = 1 - (j + 1) / n``
(``j = 0`` next to be finished, ``j = n - 1`` fully masked). One shift costs ``ceil(T / n)``
evaluations that raise every frame by ``1 / n``, so frame 0 becomes clean and leaves the window.
"""

import math

import torch


def rolling_state(n: int) -> torch.Tensor:
    """Times of the ``n`` non-context frames in the rolling state, float ``[n]``."""
    return 1 - (torch.arange(n, dtype=torch.float64) + 1) / n


def init_times(n: int, steps: int) -> torch.Tensor:
    """Init schedule: ``steps`` rows raising masked frames linearly to the rolling state.

    Returns:
        float64 ``[steps + 1, n]``: row 0 all zeros (fully masked), row ``steps`` the rolling state.
    """
    frac = torch.arange(steps + 1, dtype=torch.float64).unsqueeze(1) / steps
    return frac * rolling_state(n).unsqueeze(0)


def shift_times(n: int, steps: int) -> torch.Tensor:
    """One window shift: ``ceil(steps / n)`` rows raising every frame by ``1 / n``.

    Returns:
        float64 ``[ceil(steps / n) + 1, n]``: row 0 the rolling state, last row frame 0 clean.
    """
    rows = math.ceil(steps / n)
    frac = torch.arange(rows + 1, dtype=torch.float64).unsqueeze(1) / rows
    return (rolling_state(n).unsqueeze(0) + frac / n).clamp(max=1)


def final_times(n: int, steps: int) -> torch.Tensor:
    """Final flush: ``steps`` rows taking the rolling state linearly to all clean, ``[steps + 1, n]``."""
    frac = torch.arange(steps + 1, dtype=torch.float64).unsqueeze(1) / steps
    start = rolling_state(n).unsqueeze(0)
    return start + frac * (1 - start)
