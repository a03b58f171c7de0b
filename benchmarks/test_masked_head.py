"""Masked-only head: in an autoregressive rollout (``s = 1``, ``m = k - 1``) one frame of ``k`` is
masked, so logits are needed for ``1 / k`` of the positions. Issue target 3 compares one forward
with the head on the masked positions against one with the full head, at K = 1024 and 16384.
"""

from __future__ import annotations

import pytest
import torch

from maskbench.eval.timing import synchronize


@pytest.mark.parametrize("vocab_size", [1024, 16384])
@pytest.mark.parametrize("head", ["masked", "full"])
def test_autoregressive_forward(benchmark, default, vocab_size, head):
    model = default.backbone(vocab_size=vocab_size)
    context = default.context_tokens(frames=default.frames - 1)
    window = torch.cat([context, torch.full_like(context[:, :1], model.mask_id)], dim=1)
    t = torch.ones(window.shape[:2], device=default.device)
    t[:, -1] = 0
    where = window == model.mask_id if head == "masked" else None

    def forward():
        with torch.inference_mode():
            out = model(window, t, where)
        synchronize(default.device)
        return out

    benchmark.pedantic(forward, rounds=3, warmup_rounds=1, iterations=1)
    benchmark.extra_info.update(vocab_size=vocab_size, head=head, batch=default.batch)
