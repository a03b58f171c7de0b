"""Contract every registered sampler must meet (built-ins and third-party plugins alike)."""

import math

import pytest
import torch

from maskbench.core.denoiser import CountingDenoiser
from maskbench.core.rollout import RolloutPlan
from maskbench.core.standins import OracleDenoiser, RandomDenoiser
from maskbench.samplers import build_sampler, option_fields, registered_samplers

VOCAB, GRID = 16, (5, 4)  # 20 tokens per frame: MGM's 20 steps each unmask at least one token
PLAN = RolloutPlan(frames=6, context=2, stride=4, length=14)
SHORT = RolloutPlan(frames=6, context=2, stride=4, length=4)  # L < k: one window shorter than the model's


def expected_nfe(name: str, plan: RolloutPlan, sampler) -> int | None:
    """Paper Appendix A.2 formulas for the built-ins (DF: ``T`` plus the window's frames, ``k`` for full
    windows); unknown (third-party) samplers: None."""
    windows = plan.windows()
    steps = getattr(sampler.options, "steps", None)
    k, m, n = plan.frames, plan.context, plan.length
    full = getattr(sampler.options, "window", "stride") == "full"
    return {
        "mgm": len(windows) * steps if steps else None,
        "fm": len(windows) * steps if steps else None,
        "df": sum(steps + (k if full else ctx + new) for ctx, new in windows) if steps else None,
        "rdm": steps + max(n - k, 0) * math.ceil(steps / (k - m)) + steps if steps else None,
    }.get(name)


def context_tokens(seed: int = 0) -> torch.Tensor:
    return torch.randint(0, VOCAB, (3, PLAN.context, *GRID), generator=torch.Generator().manual_seed(seed))


def run(name: str, seed: int, model_seed: int = 0, plan: RolloutPlan = PLAN, **options):
    sampler = build_sampler(name, **options)
    model = CountingDenoiser(RandomDenoiser(VOCAB, seed=model_seed))
    video = sampler.generate(model, context_tokens(), plan, torch.Generator().manual_seed(seed))
    return sampler, model, video


@pytest.fixture(params=sorted(registered_samplers()))
def name(request):
    return request.param


def test_shape_no_mask_context_untouched(name):
    _, _, video = run(name, seed=0)
    assert video.shape == (3, PLAN.length, *GRID)
    assert video.dtype == torch.long
    assert ((video >= 0) & (video < VOCAB)).all(), "mask token or out-of-range id left in the output"
    assert torch.equal(video[:, : PLAN.context], context_tokens())


@pytest.mark.parametrize("window", ["stride", "full"])
def test_rollout_shorter_than_a_window_returns_its_length(name, window):
    """L < k: every sampler returns L frames (RDM used to return k), whichever window rule."""
    sampler, model, video = run(name, seed=0, plan=SHORT, window=window)
    assert video.shape == (3, SHORT.length, *GRID)
    assert ((video >= 0) & (video < VOCAB)).all()
    assert torch.equal(video[:, : SHORT.context], context_tokens())
    expected = expected_nfe(name, SHORT, sampler)
    if expected is not None:
        assert model.nfe == expected


def test_full_windows_equal_algorithm_2_windows_when_s_is_k_minus_m(name):
    """``window=full`` (k frames, surplus dropped) and ``window=stride`` (Algorithm 2) agree for s = k - m."""
    assert PLAN.stride == PLAN.frames - PLAN.context and PLAN.length >= PLAN.frames
    _, stride_model, stride = run(name, seed=4, window="stride")
    _, full_model, full = run(name, seed=4, window="full")
    assert torch.equal(stride, full) and stride_model.nfe == full_model.nfe


@pytest.mark.parametrize("plan", [PLAN, SHORT, RolloutPlan(frames=6, context=2, stride=1, length=9)], ids=["full", "short", "ar"])
@pytest.mark.parametrize("window", ["stride", "full"])
def test_declared_nfe_is_the_counted_nfe(name, plan, window):
    """A sampler that declares its NFE (``Sampler.declared_nfe``; built-ins do, a plugin may) spends exactly that."""
    sampler, model, _ = run(name, seed=0, plan=plan, window=window)
    declared = sampler.declared_nfe(plan)
    assert declared is None or declared == model.nfe, (declared, model.nfe)
    if name in ("mgm", "fm", "df", "rdm"):
        assert declared is not None, f"built-in {name} declares no NFE"


def test_counted_nfe_matches_paper_formula(name):
    sampler, model, _ = run(name, seed=0)
    expected = expected_nfe(name, PLAN, sampler)
    assert model.nfe > 0
    if expected is not None:
        assert model.nfe == expected


def test_same_seed_same_tokens_different_seed_differs(name):
    _, _, a = run(name, seed=1)
    _, _, b = run(name, seed=1)
    _, _, c = run(name, seed=2)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_time_independent_mode_passes_zero_times(name):
    seen = []  # every sampler has the option: it is declared on SamplerOptions, which all Options extend

    class Spy(RandomDenoiser):
        def __call__(self, tokens, t, where):
            seen.append(t.clone())
            return super().__call__(tokens, t, where)

    sampler = build_sampler(name, time_independent=True)
    sampler.generate(Spy(VOCAB), context_tokens(), PLAN, torch.Generator().manual_seed(0))
    assert seen and all(float(t.abs().max()) == 0 for t in seen)


def test_oracle_reproduces_truth_through_multi_window_rollout(name):
    g = torch.Generator().manual_seed(3)
    truth = torch.randint(0, VOCAB, (2, PLAN.length, *GRID), generator=g)
    flat = truth.flatten(2)
    assert all(len({tuple(f.tolist()) for f in v}) == PLAN.length for v in flat), "frames must be distinct"
    sampler = build_sampler(name)
    video = sampler.generate(OracleDenoiser(truth, VOCAB), truth[:, : PLAN.context], PLAN, g)
    assert torch.equal(video, truth)


def test_conditioning_times_are_per_frame(name):
    """Per-frame times in [0, 1]; context frames presented as clean (t = 1), unless the sampler samples
    timestep-independently (t = 0 for every frame, as MGM does by default: paper eq. 8)."""
    seen = []

    class Spy(RandomDenoiser):
        def __call__(self, tokens, t, where):
            seen.append((t.clone(), (tokens == self.mask_id).clone()))
            return super().__call__(tokens, t, where)

    build_sampler(name).generate(Spy(VOCAB), context_tokens(), PLAN, torch.Generator().manual_seed(0))
    for t, masked in seen:
        assert t.shape == masked.shape[:2]
        assert ((t >= 0) & (t <= 1)).all()
        if not (t == 0).all():
            assert torch.all(t[:, 0] == 1), "the first frame of a window is context and must have t = 1"
        fully_masked = masked.flatten(2).all(-1)
        assert torch.all(t[fully_masked] < 1)


def test_options_have_help_and_their_defaults_pass_their_constraints(name):
    cls = registered_samplers()[name]
    for f in option_fields(cls.Options).values():
        assert f.metadata.get("help"), f"{name}.{f.name} has no help"
    build_sampler(name)  # checks every default against its declared constraint
