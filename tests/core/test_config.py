"""The configuration toolkit: every coercion and its one-line refusal, overrides, unknown keys."""

from dataclasses import dataclass
from typing import Optional

import pytest

from maskbench.core.config import (field_help, from_mapping, parse_overrides, parse_value, setting, typed_fields,
                                   typed_value)
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
