"""Where the time of one MGM window goes as the batch grows: the backbone against the rest, frames per second.

A diagnostic beside target 6 (batching) of ``benchmarks/report.py``: the shipped geometry with random
weights, batch sizes measured round-robin (3 rounds, medians). The README's note on target 6 quotes
it, run from the root with the other core free::

    python benchmarks/profile_batching.py 1      # the argument: torch threads (default 1)
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from conftest import Default  # noqa: E402  (the benchmarks' shared geometry)

from maskbench.core.denoiser import BackboneDenoiser, CountingDenoiser  # noqa: E402
from maskbench.samplers import build_sampler  # noqa: E402

BATCHES, ROUNDS, STEPS = (1, 2, 4, 8, 16), 3, 5


class Timed:
    """A denoiser that adds up the seconds spent inside it."""

    def __init__(self, inner):
        self.inner, self.seconds = inner, 0.0
        self.vocab_size, self.mask_id, self.device = inner.vocab_size, inner.mask_id, inner.device

    def __call__(self, *args):
        start = time.perf_counter()
        out = self.inner(*args)
        self.seconds += time.perf_counter() - start
        return out


def main(threads: int) -> None:
    torch.set_num_threads(threads)
    default = Default("cpu", 512, 16, 2, 14, 8, 8, 8, torch.device("cpu"))  # the shipped model's card and preset
    denoiser, sampler = BackboneDenoiser(default.backbone()), build_sampler("mgm", steps=STEPS)
    times: dict[int, list[tuple[float, float]]] = {batch: [] for batch in BATCHES}
    for _ in range(ROUNDS):
        for batch in BATCHES:
            window, model = default.first_window(batch), Timed(denoiser)
            start = time.perf_counter()
            sampler.sample_window(CountingDenoiser(model), window, default.context, torch.Generator().manual_seed(0))
            times[batch].append((time.perf_counter() - start, model.seconds))
    frames = default.frames - default.context
    for batch, pairs in times.items():
        total, inside = (statistics.median(x) for x in zip(*pairs))
        print(f"b{batch}: {batch * frames / total:.1f} frames/s, {total:.3f} s per window, backbone {inside:.3f} s "
              f"({inside / total:.0%})")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
