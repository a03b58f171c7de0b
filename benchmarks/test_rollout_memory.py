"""Peak memory of a rollout grows with the number of windows only through the generated tokens.

Issue target 5: the peak of a 10x rollout at most 1.2x that of a 2x rollout. Each rollout runs in a
fresh process after one warm-up forward at the window shape, so the allocator has nothing cached
from a previous rollout. On CPU the peak is the resident high-water mark (``VmHWM``) above the
resident size before the rollout; on CUDA, ``torch.cuda.max_memory_allocated`` above the allocation
before it. The resident peak of one process varies by some 30% from run to run (the allocator's
heap, two threads' transient blocks overlapping or not), so each factor is the median of
``PROCESSES`` fresh processes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

PROCESSES = 3
STEPS = 2  # memory depends on the rollout, not on the sampler's number of steps: few keep it short


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the peak RSS from Linux /proc")
@pytest.mark.parametrize("factor", [2, 10])
def test_rollout_peak_memory(benchmark, default, factor):
    if benchmark.disabled:
        pytest.skip("measured only under pytest --benchmark-only")
    args = [default.preset, default.vocab_size, default.frames, default.context, default.stride, default.height,
            default.width, default.batch, str(default.device), factor]

    def run():
        done = subprocess.run([sys.executable, __file__, *map(str, args)], capture_output=True, text=True, check=True)
        return json.loads(done.stdout.splitlines()[-1])

    results = benchmark.pedantic(lambda: [run() for _ in range(PROCESSES)], rounds=1, iterations=1, warmup_rounds=0)
    peaks = sorted(r["peak_bytes"] for r in results)
    benchmark.extra_info.update(factor=factor, batch=default.batch, length=results[0]["length"],
                                peak_bytes=peaks[len(peaks) // 2], peaks_bytes=peaks)


def _kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


def _measure(preset, vocab, frames, context, stride, height, width, batch, device, factor) -> dict:
    import torch

    from maskbench.core.backbone import build_backbone
    from maskbench.core.denoiser import BackboneDenoiser, CountingDenoiser
    from maskbench.core.rollout import RolloutPlan
    from maskbench.samplers import build_sampler

    device = torch.device(device)
    torch.manual_seed(0)
    model = build_backbone(preset, vocab_size=vocab, max_frames=frames, height=height, width=width).eval().to(device)
    denoiser = BackboneDenoiser(model)
    context_tokens = torch.randint(0, vocab, (batch, context, height, width), device=device)
    window = torch.cat([context_tokens, torch.full((batch, frames - context, height, width), vocab, device=device)], 1)
    denoiser(window, torch.ones(window.shape[:2], device=device), window == vocab)  # warm-up forward
    plan = RolloutPlan.from_extrapolation(frames, context, stride, factor)
    sampler = build_sampler("mgm", steps=STEPS)
    generator = torch.Generator(device).manual_seed(0)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
        sampler.generate(CountingDenoiser(denoiser), context_tokens, plan, generator)
        torch.cuda.synchronize(device)
        return {"peak_bytes": torch.cuda.max_memory_allocated(device) - before, "length": plan.length}
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the resident size now
    before = _kib("VmRSS")
    sampler.generate(CountingDenoiser(denoiser), context_tokens, plan, generator)
    return {"peak_bytes": 1024 * (_kib("VmHWM") - before), "rss_before_bytes": 1024 * before, "length": plan.length}


if __name__ == "__main__":
    preset, *numbers, device, factor = sys.argv[1:]
    print(json.dumps(_measure(preset, *map(int, numbers), device, int(factor))))
