"""The shipped training configs: all valid, the paper's recipe as stated, the variants differing only where named."""

import dataclasses
from pathlib import Path

import pytest

from maskbench.core.errors import MaskbenchError
from maskbench.training.config import load_config

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def _load(name: str) -> dict:
    # synthetic: the ViZDoom token cache the configs name need not exist where tests run
    return dataclasses.asdict(load_config(str(CONFIGS / name), ["synthetic=true"]))


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.name)
def test_every_config_loads(path):
    _load(path.name)


def test_paper_config_is_the_authors_recipe():
    """CompVis/maskflow: README training command, config/default.yaml, config/optim/default.yaml."""
    paper = _load("vizdoom-frame-paper.yaml")
    recipe = {"lr": 1e-4, "betas": (0.9, 0.999), "weight_decay": 0.0, "grad_clip": 2.0, "ema_decay": 0.9999,
              "snr_weighting": True, "snr_clip": 6.0, "snr_decay": 0.8, "snr_formula": "authors",
              "masking": "frame", "schedule": "sigmoid", "time_conditioning": True}
    assert {key: paper[key] for key in recipe} == recipe


@pytest.mark.parametrize("variant, differences", [
    ("vizdoom-frame-notime.yaml", {"time_conditioning": False}),
    ("vizdoom-constant.yaml", {"masking": "constant"}),
])
def test_variants_differ_from_the_frame_config_only_where_named(variant, differences):
    frame, other = _load("vizdoom-frame.yaml"), _load(variant)
    assert {key: other[key] for key in frame if other[key] != frame[key]} == differences


def test_bad_snr_settings_are_refused():
    for override, fragment in (("snr_formula=nope", "snr_formula"), ("snr_decay=1.0", "snr_decay"),
                               ("snr_clip=0", "snr_clip")):
        with pytest.raises(MaskbenchError, match=fragment):
            load_config(str(CONFIGS / "tiny.yaml"), [override])
