"""benchmarks/reference_latte.py is the same model as ours: with exact GELU and our weights it gives our logits."""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from measure import counted_flops  # noqa: E402
from reference_latte import from_ours  # noqa: E402

from maskbench.core.backbone import build_backbone, forward_flops  # noqa: E402


def _model_and_inputs():
    torch.manual_seed(0)
    model = build_backbone("tiny", vocab_size=64, max_frames=8, height=4, width=4).eval()
    for param in model.parameters():  # adaLN-Zero starts as the identity: perturb so every weight matters
        torch.nn.init.normal_(param, std=0.1)
    generator = torch.Generator().manual_seed(1)
    tokens = torch.randint(0, 65, (3, 8, 4, 4), generator=generator)
    return model, tokens, torch.rand(3, 8, generator=generator), torch.rand(3, 8, 4, 4, generator=generator) < 0.5


def test_reference_with_exact_gelu_gives_our_logits():
    model, tokens, t, where = _model_and_inputs()
    with torch.inference_mode():
        ours = model(tokens, t, where)
        exact = from_ours(model, approximate="none")(tokens, t, where)
        textbook = from_ours(model)(tokens, t, where)  # tanh GELU: close, not equal
    torch.testing.assert_close(exact, ours, rtol=1e-5, atol=1e-5)
    assert 0 < (textbook - ours).abs().max() < 0.1


def test_counted_flops_include_attention_and_match_the_formula():
    model, tokens, t, where = _model_and_inputs()
    with torch.inference_mode():
        counted = counted_flops(lambda: model(tokens, t, where))
    assert counted == forward_flops(model.config, 3, 8, int(where.sum()))  # attention counted, not 0
