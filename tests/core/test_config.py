"""The configuration toolkit: every coercion and its one-line refusal, overrides, unknown keys, flags."""

import argparse
import re
from dataclasses import dataclass
from typing import Optional

import pytest

from maskbench.core.config import (add_arguments, config_from_args, field_help, from_mapping, parse_overrides,
                                   parse_value, positive_int, setting, typed_fields, typed_value)
from maskbench.core.errors import MaskbenchError


@dataclass(frozen=True)
class Example:
    steps: int = setting(20, "steps per window")
    lr: float = setting(1e-4, "learning rate")
    fast: bool = setting(False, "skip the slow part")
    name: str = setting("a", "a name")
    limit: Optional[int] = setting(None, "an optional bound")
    path: str | None = setting(None, "an optional path")
    factors: tuple[int, ...] = setting((2,), "extrapolation factors")
    betas: tuple[float, float] = setting((0.9, 0.999), "Adam's betas")


@pytest.mark.parametrize("hint,text,value", [
    (int, "10", 10), (int, " -3 ", -3), (float, "1e-4", 1e-4), (float, "2", 2.0),
    (bool, "true", True), (bool, "No", False), (bool, "1", True), (str, "sigmoid", "sigmoid"),
    (Optional[int], "none", None), (Optional[int], "5", 5), (str | None, "null", None),
    (tuple[int, ...], "1,2,5", (1, 2, 5)), (tuple[float, float], "[0.9, 0.99]", (0.9, 0.99)), (dict, "{a: 1}", {"a": 1}),
])
def test_text_becomes_the_fields_type(hint, text, value):
    parsed = parse_value(text, hint, "x")
    assert parsed == value and type(parsed) is type(value)


@pytest.mark.parametrize("hint,text,message", [
    (int, "ten", "steps expects an integer, got 'ten'"),
    (int, "2.5", "steps expects an integer, got '2.5'"),
    (float, "fast", "steps expects a number, got 'fast'"),
    (bool, "maybe", "steps expects true or false, got 'maybe'"),
    (Optional[int], "x", "steps expects an integer or none, got 'x'"),
    (tuple[int, ...], "1,x", "steps expects comma-separated integers, got '1,x'"),
    (tuple[float, float], "0.9", "steps expects comma-separated numbers, got '0.9'"),
])
def test_bad_text_is_a_one_line_error(hint, text, message):
    with pytest.raises(MaskbenchError) as error:
        parse_value(text, hint, "steps")
    assert str(error.value) == message


@pytest.mark.parametrize("hint,value,typed", [
    (int, 3, 3), (float, 3, 3.0), (float, "1e-4", 1e-4), (bool, True, True), (str, "a", "a"), (Optional[int], None, None),
    (tuple[int, ...], [1, 2], (1, 2)), (tuple[int, ...], 5, (5,)), (tuple[str, ...], "mgm, fm", ("mgm", "fm")),
])
def test_yaml_values_become_the_fields_type(hint, value, typed):
    result = typed_value(value, hint, "x")
    assert result == typed and type(result) is type(typed)


@pytest.mark.parametrize("hint,value,message", [
    (int, "many", "videos must be int, got 'many'"), (int, True, "videos must be int, got True"),
    (int, 2.5, "videos must be int, got 2.5"), (str, 3, "videos must be str, got 3"),
    (bool, 1, "videos must be bool, got 1"), (tuple[int, ...], [2, "x"], "videos must be a list of int, got [2, 'x']"),
])
def test_bad_yaml_values_are_one_line_errors(hint, value, message):
    with pytest.raises(MaskbenchError) as error:
        typed_value(value, hint, "videos")
    assert str(error.value) == message


def test_overrides_apply_by_keyword():
    assert parse_overrides(Example, ["steps=5", "fast=yes", "betas=0.8,0.9", "limit=null"]) == dict(
        steps=5, fast=True, betas=(0.8, 0.9), limit=None)
    config = from_mapping(Example, {"steps": 3, "lr": "3e-4", "factors": [1, 2]}, ["steps=7"])
    assert config == Example(steps=7, lr=3e-4, factors=(1, 2))


@pytest.mark.parametrize("pairs,message", [
    (["steps"], "override 'steps' must look like key=value"),
    (["stepz=3"], "unknown field(s) stepz; known: betas, factors, fast, limit, lr, name, path, steps"),
    (["steps=x"], "steps expects an integer, got 'x'"),
])
def test_bad_overrides_are_one_line_errors(pairs, message):
    with pytest.raises(MaskbenchError) as error:
        parse_overrides(Example, pairs)
    assert str(error.value) == message


def test_unknown_keys_are_refused_listing_the_known_ones():
    with pytest.raises(MaskbenchError) as error:
        typed_fields(Example, {"stepz": 1, "bogus": 2}, "variant 'a': ")
    assert str(error.value) == ("variant 'a': unknown field(s) bogus, stepz; known: betas, factors, fast, limit, lr, "
                                "name, path, steps")
    with pytest.raises(MaskbenchError, match="unknown config keys bogus; known: "):
        from_mapping(Example, {"bogus": 1}, what="config keys")
    with pytest.raises(MaskbenchError, match="expected a mapping"):
        typed_fields(Example, [1, 2])


def test_fields_carry_their_help():
    assert field_help(Example, "steps") == "steps per window" and field_help(Example, "nosuch") == ""


@dataclass(frozen=True)
class Tiny:
    data: str = setting(help="input videos")
    batch_size: int = setting(8, "videos per batch", cli=dict(type=positive_int))
    factors: tuple[int, ...] = setting((1, 2), "extrapolation factors", cli=dict(flag="--extrap"))
    limit: Optional[int] = setting(None, "an optional bound")
    lr: float = setting(1e-3, "learning rate (default: the paper's)")
    mode: str = setting("fast", "how", cli=dict(choices=("fast", "slow")))
    fast: bool = setting(False, "skip the slow part")
    fvd: bool = setting(True, "score FVD", cli=dict(help="skip FVD"))


class Refusing(argparse.ArgumentParser):
    def error(self, message):
        raise ValueError(message)


def tiny_parser(**kwargs) -> argparse.ArgumentParser:
    parser = Refusing(prog="tiny")
    add_arguments(parser, Tiny, **kwargs)
    return parser


def test_every_field_becomes_a_flag_with_its_help_and_default():
    actions = {a.dest: a for a in tiny_parser()._actions if a.dest != "help"}
    assert list(actions) == ["data", "batch_size", "factors", "limit", "lr", "mode", "fast", "fvd"]
    flags = {dest: a.option_strings for dest, a in actions.items()}
    assert flags == {"data": ["--data"], "batch_size": ["--batch-size"], "factors": ["--extrap"], "limit": ["--limit"],
                     "lr": ["--lr"], "mode": ["--mode"], "fast": ["--fast"], "fvd": ["--no-fvd"]}
    helps = {dest: a.help for dest, a in actions.items()}
    assert helps == {"data": "input videos", "batch_size": "videos per batch (default 8)",
                     "factors": "extrapolation factors (default 1,2)", "limit": "an optional bound",
                     "lr": "learning rate (default: the paper's)", "mode": "how (default fast)",
                     "fast": "skip the slow part", "fvd": "skip FVD"}
    assert actions["data"].required and not actions["batch_size"].required
    assert actions["batch_size"].type is positive_int and actions["mode"].choices == ("fast", "slow")
    assert actions["factors"].metavar == "EXTRAP"  # argparse's own, from the flag, not from the field
    assert "--extrap EXTRAP" in tiny_parser().format_usage()


def test_values_are_parsed_to_the_fields_types():
    args = tiny_parser().parse_args(["--data", "v", "--batch-size", "3", "--extrap", "1,5", "--limit", "7",
                                     "--lr", "2e-4", "--mode", "slow", "--fast", "--no-fvd"])
    assert vars(args) == dict(data="v", batch_size=3, factors=(1, 5), limit=7, lr=2e-4, mode="slow", fast=True,
                              fvd=False)
    defaults = tiny_parser().parse_args(["--data", "v"])
    assert vars(defaults) == dict(data="v", batch_size=8, factors=(1, 2), limit=None, lr=1e-3, mode="fast",
                                  fast=False, fvd=True)


@pytest.mark.parametrize("argv,message", [
    (["--batch-size", "0"], "argument --batch-size: expected a value >= 1, got 0"),
    (["--extrap", "1,x"], "argument --extrap: expected comma-separated integers, got '1,x'"),
    (["--limit", "none"], "argument --limit: expected an integer, got 'none'"),
    (["--lr", "fast"], "argument --lr: expected a number, got 'fast'"),
    (["--mode", "medium"], "argument --mode: invalid choice: 'medium'"),
])
def test_bad_values_are_refused_by_the_parser(argv, message):
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        tiny_parser().parse_args(["--data", "v", *argv])


def test_only_chooses_and_orders_the_flags_and_options_override_the_metadata():
    parser = tiny_parser(only=("lr", "data"), options={"data": dict(type=str.upper, default="x", help="where")})
    assert [a.dest for a in parser._actions if a.dest != "help"] == ["lr", "data"]
    data = next(a for a in parser._actions if a.dest == "data")
    assert not data.required and data.help == "where (default x)" and parser.parse_args(["--data", "v"]).data == "V"
    with pytest.raises(ValueError, match="Tiny has no field"):
        tiny_parser(only=("nosuch",))


def test_the_config_is_built_by_keyword_from_the_namespace():
    args = tiny_parser(only=("data", "batch_size", "fvd")).parse_args(["--data", "v", "--no-fvd"])
    args.unrelated = "ignored"  # e.g. argparse's func and command
    assert config_from_args(Tiny, args) == Tiny(data="v", batch_size=8, fvd=False)
    assert config_from_args(Tiny, args, batch_size=2, mode="slow") == Tiny(data="v", batch_size=2, fvd=False, mode="slow")
