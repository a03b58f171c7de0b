"""Sampler options carry their constraints: declared once with the option, checked when a value is
parsed and when a sampler is built, each refusal one line (issue #17)."""

from dataclasses import dataclass

import pytest

from maskbench.core.errors import MaskbenchError
from maskbench.samplers import (AtLeast, OneOf, Sampler, SamplerOptions, build_sampler, describe_option, get_sampler,
                                option, option_fields, parse_option)


@pytest.mark.parametrize("sampler,name,text,match", [
    ("mgm", "steps", "0", r"mgm\.steps=0 must be >= 1"),  # was an IndexError
    ("fm", "steps", "0", r"fm\.steps=0 must be >= 1"),  # was a late "token ids must lie in" error
    ("df", "steps", "-5", r"df\.steps=-5 must be >= 1"),
    ("rdm", "steps", "0", r"rdm\.steps=0 must be >= 1"),
    ("mgm", "temperature", "-1", r"mgm\.temperature=-1.0 must be >= 0"),  # was accepted
    ("fm", "temperature", "nan", "must be finite"),
    ("mgm", "gumbel", "-0.5", "must be >= 0"),
    ("mgm", "schedule", "nosuch", "must be a registered schedule .*sigmoid"),  # was a late error
    ("mgm", "counts", "nosuch", "must be a registered schedule"),
    ("mgm", "time", "paper", "must be one of zeros, context-ones, ones, unmasked"),
    ("mgm", "spread", "all", "must be one of masked, window"),
    ("df", "window", "k", "must be one of stride, full"),
    ("mgm", "steps", "2.5", "expects an integer"),
    ("mgm", "nosuch", "1", "unknown option 'mgm.nosuch'"),
])
def test_bad_values_fail_when_parsed(sampler, name, text, match):
    with pytest.raises(MaskbenchError, match=match) as error:
        parse_option(get_sampler(sampler).Options, name, text, prefix=f"{sampler}.")
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("sampler,options,match", [
    ("mgm", {"steps": 0}, "must be >= 1"),
    ("fm", {"steps": 2.5}, "must be an integer"),
    ("df", {"temperature": "hot"}, "must be a number"),
    ("rdm", {"time_independent": 1}, "must be true or false"),
    ("mgm", {"schedule": "nosuch"}, "registered schedule"),
    ("mgm", {"nosuch": 1}, "unknown option 'mgm.nosuch'"),
])
def test_bad_values_fail_when_a_sampler_is_built(sampler, options, match):
    with pytest.raises(MaskbenchError, match=match):
        build_sampler(sampler, **options)


def test_good_values_parse_to_their_types():
    assert parse_option(get_sampler("mgm").Options, "steps", "10") == 10
    assert parse_option(get_sampler("mgm").Options, "temperature", "0") == 0.0
    assert parse_option(get_sampler("mgm").Options, "time", "ones") == "ones"
    assert parse_option(get_sampler("fm").Options, "schedule", "linear") == "linear"


def test_the_command_line_refuses_bad_options_before_any_work():
    from maskbench.bench.config import RunConfig, sampler_options

    with pytest.raises(MaskbenchError, match=r"mgm\.steps=0 must be >= 1"):
        sampler_options(["mgm"], ["mgm.steps=0"])
    with pytest.raises(MaskbenchError, match="contradicts time_independent"):
        RunConfig(samplers=sampler_options(["mgm"], ["mgm.time=unmasked"]), time_independent=True)


@dataclass
class PluginOptions(SamplerOptions):
    width: int = option(3, "how wide", AtLeast(2))
    style: str = option("a", "which style", OneOf(("a", "b")))


class PluginSampler(Sampler):
    name = "plugin"
    Options = PluginOptions

    def sample_window(self, model, window, context, generator):
        return window


def test_third_party_options_get_the_same_mechanism():
    with pytest.raises(MaskbenchError, match=r"plugin\.width=1 must be >= 2"):
        PluginSampler(width=1)
    with pytest.raises(MaskbenchError, match="must be one of a, b"):
        parse_option(PluginOptions, "style", "c")
    assert PluginSampler(width=5).options.width == 5


def test_listing_shows_help_type_and_constraint():
    fields = option_fields(get_sampler("mgm").Options)
    assert describe_option(fields["steps"]) == "unmasking steps per window (paper: 20) [int, >= 1]"
    assert "one of zeros, context-ones, ones, unmasked" in describe_option(fields["time"])
    assert "a registered schedule: " in describe_option(fields["schedule"])
