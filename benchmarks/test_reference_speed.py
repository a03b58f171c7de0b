"""Our backbone against a plain reference implementation of the same model, alternated in one process.

Issue #22 target 1: ours / reference <= 1.0 (median forward time) for the shipped configuration at
the default batch and for the S/2 widths on the same 8x8 x 16-frame grid, at 1 and 2 threads, on a
quiet machine and under a controlled load (:func:`measure.controlled_load`). The reference
(``reference_latte.py``) is the textbook DiT / Latte block: ``nn.Linear`` qkv, explicit softmax
attention, tanh GELU, the hidden state rearranged between blocks, no batch slicing. It has our
weights (random, seeded) and our masked head; it counts more FLOPs than ours (it computes the
adaLN modulations per position in temporal blocks, as Latte does), and rates use our count.
S/2 runs at batch 2: at batch 8 one loaded forward takes some 20 s on 2 cores, too long for a
benchmark run; the per-token work and the grid are the same.
"""

from __future__ import annotations

import pytest
import torch

from measure import MATMUL_FLOPS, alternate, controlled_load, counted_flops, matmul, threads
from reference_latte import from_ours

CASES = [("cpu", "default", 7, 5), ("S/2", 2, 3, 3)]  # preset, batch, rounds quiet, rounds loaded


@pytest.mark.parametrize("load", ["quiet", "loaded"])
@pytest.mark.parametrize("thread_count", [1, 2])
@pytest.mark.parametrize("preset, batch, quiet_rounds, loaded_rounds", CASES)
def test_against_reference(benchmark, default, preset, batch, quiet_rounds, loaded_rounds, thread_count, load):
    if benchmark.disabled:
        pytest.skip("timed only under pytest --benchmark-only (tests/benchmarks/test_reference.py checks the model)")
    batch = default.batch if batch == "default" else batch
    ours = default.backbone(preset)
    reference = from_ours(ours)
    window = default.first_window(batch)
    t = torch.zeros(window.shape[:2], device=default.device)
    t[:, : default.context] = 1
    where = window == ours.mask_id

    def forward(model):
        def run():
            with torch.inference_mode():
                return model(window, t, where)
        return run

    fns = {"ours": forward(ours), "reference": forward(reference), "matmul": matmul(default.device)}
    flops = counted_flops(fns["ours"])
    rounds = quiet_rounds if load == "quiet" else loaded_rounds
    with threads(thread_count), controlled_load() if load == "loaded" else _nothing():
        seconds = benchmark.pedantic(alternate, args=(fns, rounds, default.device), rounds=1, iterations=1)
    matmul_rate = MATMUL_FLOPS / seconds["matmul"]
    benchmark.extra_info.update(
        preset=preset, batch=batch, threads=thread_count, load=load, rounds=rounds, device=str(default.device),
        ours_s=seconds["ours"], reference_s=seconds["reference"], ratio=seconds["ours"] / seconds["reference"],
        flops=flops, reference_flops=counted_flops(fns["reference"]), matmul_gflops=matmul_rate / 1e9,
        ours_of_matmul=flops / seconds["ours"] / matmul_rate, reference_of_matmul=flops / seconds["reference"] / matmul_rate)


def _nothing():
    import contextlib

    return contextlib.nullcontext()
