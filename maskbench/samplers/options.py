"""Sampler options: each declared once, with its help and its constraint, checked wherever it is set.

An option is a dataclass field whose metadata holds ``help`` (one line) and ``check`` (a constraint:
a callable returning ``None`` when a value is allowed, else what is wrong, and whose ``str`` says what
is allowed). :func:`option` builds such a field; :func:`parse_option` types and checks a command-line value,
:func:`check_options` a whole options object (run by ``SamplerOptions.__post_init__`` and by every
sampler's ``__init__``). Third-party samplers declare their options the same way.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Optional

from maskbench.core.errors import MaskbenchError

Constraint = Callable[[Any], Optional[str]]


@dataclass(frozen=True)
class AtLeast:
    """A number ``>= bound``."""

    bound: float

    def __call__(self, value: Any) -> str | None:
        return None if value >= self.bound else f"must be >= {self.bound}"

    def __str__(self) -> str:
        return f">= {self.bound}"


@dataclass(frozen=True)
class OneOf:
    """One of a fixed set of names."""

    choices: tuple[str, ...]

    def __call__(self, value: Any) -> str | None:
        return None if value in self.choices else f"must be one of {', '.join(self.choices)}"

    def __str__(self) -> str:
        return f"one of {', '.join(self.choices)}"


@dataclass(frozen=True)
class RegisteredSchedule:
    """The name of a schedule registered through the plugin manager (``maskbench_schedules``)."""

    def __call__(self, value: Any) -> str | None:
        names = self.names()
        return None if value in names else f"must be a registered schedule ({', '.join(names)})"

    def __str__(self) -> str:
        return f"a registered schedule: {', '.join(self.names())}"

    @staticmethod
    def names() -> list[str]:
        from maskbench.schedules import registered_schedules

        return sorted(registered_schedules())


def option(default: Any, help: str, check: Constraint | None = None) -> Any:
    """A sampler option field: ``steps: int = option(20, "steps per window", AtLeast(1))``."""
    return field(default=default, metadata={"help": help, "check": check})


def option_fields(options_cls: type) -> dict[str, dataclasses.Field]:
    """Name -> field of a sampler's options dataclass."""
    return {f.name: f for f in dataclasses.fields(options_cls)}


def describe_option(f: dataclasses.Field) -> str:
    """``help (constraint)`` of one option, for ``maskbench samplers``."""
    help_text, check = f.metadata.get("help", ""), f.metadata.get("check")
    kind = type(f.default).__name__
    return f"{help_text} [{kind}{', ' + str(check) if check is not None else ''}]"


def check_value(f: dataclasses.Field, value: Any, prefix: str = "") -> None:
    """Raise a one-line :class:`MaskbenchError` unless ``value`` has the option's type and passes its check."""
    problem = _type_problem(type(f.default), value)
    if problem is None and f.metadata.get("check") is not None:
        problem = f.metadata["check"](value)
    if problem is not None:
        help_text = f.metadata.get("help", "")
        raise MaskbenchError(f"option {prefix}{f.name}={value!r} {problem}" + (f" -- {help_text}" if help_text else ""))


def check_options(options: Any, prefix: str = "") -> None:
    """Check every option of an options dataclass instance (types and declared constraints)."""
    for f in dataclasses.fields(options):
        check_value(f, getattr(options, f.name), prefix)


def _type_problem(kind: type, value: Any) -> str | None:
    if kind is bool:
        return None if isinstance(value, bool) else "must be true or false"
    if kind is int:
        return None if isinstance(value, int) and not isinstance(value, bool) else "must be an integer"
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return "must be a number"
        return None if math.isfinite(value) else "must be finite"
    if kind is str:
        return None if isinstance(value, str) else "must be a string"
    return None  # other types (a plugin's own): its check, if any, decides


def parse_option(options_cls: type, name: str, value: Any, prefix: str = "") -> Any:
    """Convert a command-line value (or one YAML already typed) to the type of option ``name`` and check its
    constraint; the coercion is :mod:`maskbench.core.config`'s.

    Raises:
        MaskbenchError: unknown option, a value of the wrong type, or one its constraint refuses.
    """
    from maskbench.core.config import parse_value, typed_value

    fields = option_fields(options_cls)
    if name not in fields:
        raise MaskbenchError(f"unknown option {prefix + name!r}; options: {', '.join(sorted(fields))}")
    f = fields[name]
    coerce = parse_value if isinstance(value, str) else typed_value
    value = coerce(value, type(f.default), f"option {prefix}{name}")
    check_value(f, value, prefix)
    return value


def check_known(options_cls: type, names: Iterable[str], prefix: str = "") -> None:
    """Every name is an option of ``options_cls`` (one-line error listing the options otherwise)."""
    fields = option_fields(options_cls)
    for name in names:
        if name not in fields:
            raise MaskbenchError(f"unknown option {prefix + name!r}; options: {', '.join(sorted(fields))}")
