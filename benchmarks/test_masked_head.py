"""Masked-only head: in an autoregressive rollout (``s = 1``, ``m = k - 1``) one frame of ``k`` is
masked, so logits are needed for ``1 / k`` of the positions. Issue target 3 compares one forward
with the head on the masked positions against one with the full head, at K = 1024 and 16384,
alternating the two so that the machine's drift hits both alike.
"""

from __future__ import annotations

import statistics

import pytest
import torch

from maskbench.metrics.timing import stopwatch

ROUNDS = {1024: 9, 16384: 3}  # the small head saves ~10% of a forward: more rounds to see it through noise


@pytest.mark.parametrize("vocab_size", [1024, 16384])
def test_autoregressive_forward(benchmark, default, vocab_size):
    model = default.backbone(vocab_size=vocab_size)
    context = default.context_tokens(frames=default.frames - 1)
    window = torch.cat([context, torch.full_like(context[:, :1], model.mask_id)], dim=1)
    t = torch.ones(window.shape[:2], device=default.device)
    t[:, -1] = 0
    heads = {"masked": window == model.mask_id, "full": None}

    def alternate():
        seconds: dict[str, list[float]] = {"masked": [], "full": []}
        with torch.inference_mode():
            for _ in range(ROUNDS[vocab_size]):
                for head, where in heads.items():
                    with stopwatch(default.device, seconds[head]):
                        model(window, t, where)
        return seconds

    with torch.inference_mode():
        model(window, t, heads["masked"]), model(window, t)  # warm-up
    seconds = benchmark.pedantic(alternate, rounds=1, iterations=1, warmup_rounds=0)
    benchmark.extra_info.update(vocab_size=vocab_size, batch=default.batch,
                                masked_s=statistics.median(seconds["masked"]), full_s=statistics.median(seconds["full"]))
