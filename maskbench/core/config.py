"""Configuration toolkit: typed values for dataclass fields, from text, from YAML, from ``key=value``.

A configuration is a dataclass whose fields carry their help in ``metadata["help"]`` (:func:`setting`).
Three ways in, one set of types (``int``, ``float``, ``bool``, ``str``, ``Optional[...]``, tuples, ``dict``):

* :func:`parse_value`: a text value (a command-line flag, an ``--opt`` or a ``key=value`` override) to a
  field's type; a refusal says ``<name> expects <an integer>, got '<text>'``;
* :func:`typed_value`: a value YAML already typed (lists become tuples, integers floats where a float is
  wanted, and a string where a number is wanted is read as text, as PyYAML leaves ``1e-4``); a refusal
  says ``<name> must be <int>, got <value>``;
* :func:`typed_fields` (a YAML mapping, unknown keys refused listing the known ones) and
  :func:`parse_overrides` (``key=value`` pairs), both giving keyword arguments, and :func:`from_mapping`,
  which builds the dataclass from both, the overrides last, so that ``__post_init__`` sees the final values.

Every refusal is a one-line :class:`~maskbench.core.errors.MaskbenchError`.

The same fields make command-line flags: :func:`add_arguments` adds one argparse option per field (its
help, default, and the ``add_argument`` keywords of ``metadata["cli"]``), :func:`config_from_args` builds the
dataclass from the parsed namespace by keyword. The argparse value types the fields name (:func:`positive_int`,
:func:`existing_path`, ...) live here too, so that any layer's config can name them.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from maskbench.core.errors import MaskbenchError

_TRUE, _FALSE = {"true", "1", "yes"}, {"false", "0", "no"}
_NONE = {"none", "null", "~", ""}
_KINDS = {int: "an integer", float: "a number", bool: "true or false", str: "a string", dict: "a mapping"}


def setting(default: Any = dataclasses.MISSING, help: str = "", *, default_factory: Any = dataclasses.MISSING,
            cli: Mapping[str, Any] | None = None) -> Any:
    """A configuration field with its one-line help: ``videos: int = setting(4, "videos per cell")``.

    Args:
        cli: how its command-line flag differs from what the field implies (:func:`add_arguments`):
            ``add_argument`` keywords (``type=positive_int``, ``choices``, ``metavar``, ``help``: the flag's
            own help, ``default``: the flag's own default), and ``flag``, its option string.
    """
    metadata = {"help": help, **({"cli": dict(cli)} if cli else {})}
    return dataclasses.field(default=default, default_factory=default_factory, metadata=metadata)


def field_help(cls: type, name: str) -> str:
    """The help of field ``name`` of dataclass ``cls`` (``""`` when it has none)."""
    return next((f.metadata.get("help", "") for f in dataclasses.fields(cls) if f.name == name), "")


def field_types(cls: type) -> dict[str, Any]:
    """Field name -> resolved type hint of dataclass ``cls`` (string annotations evaluated)."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints.get(f.name, Any) for f in dataclasses.fields(cls) if f.init}


def parse_value(text: str, hint: Any, name: str) -> Any:
    """``text`` as a value of type ``hint``.

    Tuples are comma-separated (brackets allowed: ``0.9,0.999`` or ``[0.9, 0.999]``); ``Optional`` takes
    ``none``/``null``; booleans take true/false, yes/no, 1/0 in any case; another class is called on the text.

    Raises:
        MaskbenchError: ``<name> expects <kind>, got '<text>'``.
    """
    try:
        return _parse(text.strip(), hint)
    except (ValueError, TypeError):
        raise MaskbenchError(f"{name} expects {describe(hint)}, got {text!r}") from None


def typed_value(value: Any, hint: Any, name: str) -> Any:
    """A YAML (or Python) ``value`` as a value of type ``hint``.

    Raises:
        MaskbenchError: ``<name> must be <type>, got <value>``.
    """
    try:
        return _typed(value, hint)
    except (ValueError, TypeError):
        raise MaskbenchError(f"{name} must be {type_name(hint)}, got {value!r}") from None


def typed_fields(cls: type, data: Mapping[str, Any], where: str = "", types_: Mapping[str, Any] | None = None,
                 what: str = "field(s)") -> dict[str, Any]:
    """A YAML mapping as keyword arguments of dataclass ``cls``, every value typed (:func:`typed_value`).

    Args:
        where: prefix of every message, e.g. ``"variant 'a': "``.
        types_: key -> type, to use instead of the fields' own hints (default: :func:`field_types`).
        what: what the keys are called in a refusal.

    Raises:
        MaskbenchError: ``unknown field(s) x, y; known: ...`` or a value of the wrong type.
    """
    known = dict(types_ or field_types(cls))
    if not isinstance(data, Mapping):
        raise MaskbenchError(f"{where}expected a mapping of {', '.join(sorted(known))}, got {data!r}")
    _refuse_unknown(data, known, where, what)
    return {key: typed_value(value, known[key], f"{where}{key}") for key, value in data.items()}


def parse_overrides(cls: type, pairs: Iterable[str], where: str = "", what: str = "field(s)") -> dict[str, Any]:
    """``["key=value", ...]`` as keyword arguments of dataclass ``cls``, every value parsed (:func:`parse_value`).

    Raises:
        MaskbenchError: a pair without ``=``, an unknown key (listing the known ones), or a bad value.
    """
    known = field_types(cls)
    result = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise MaskbenchError(f"{where}override {pair!r} must look like key=value")
        _refuse_unknown([key], known, where, what)
        result[key] = parse_value(text, known[key], f"{where}{key}")
    return result


def from_mapping(cls: type, data: Mapping[str, Any] | None = None, overrides: Iterable[str] = (), where: str = "",
                 what: str = "field(s)"):
    """``cls(**fields)`` from a YAML mapping, then ``key=value`` overrides (the overrides win)."""
    return cls(**{**typed_fields(cls, data or {}, where, what=what), **parse_overrides(cls, overrides, where, what)})


def add_arguments(parser: argparse.ArgumentParser, cls: type, *, only: Sequence[str] | None = None,
                  options: Mapping[str, Mapping[str, Any]] | None = None) -> None:
    """One option of ``parser`` per field of dataclass ``cls``, its destination the field's name.

    Each option is, unless ``metadata["cli"]`` or ``options`` say otherwise: flag ``--batch-size`` for field
    ``batch_size`` (a ``bool`` field: ``--x``, ``store_true``, when its default is false, else ``--no-x``,
    ``store_false``); the field's default, required when it has none; values parsed to the field's type
    (:func:`parse_value`); the field's help, followed by `` (default X)`` unless the help already speaks of
    its default, the flag takes no value, or there is no default (``None``, empty).

    Args:
        only: the fields to add, in this order (default: every field, in declaration order).
        options: field name -> ``add_argument`` keywords for this parser, over the field's ``metadata["cli"]``
            (e.g. ``{"out": {"type": out_dir}}``, a type from a layer the config cannot import).
    """
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = [name for name in only or () if name not in fields]
    if unknown:
        raise ValueError(f"{cls.__name__} has no field(s) {', '.join(unknown)}")
    hints = field_types(cls)
    for name in only if only is not None else fields:
        flag, kwargs = _argument(fields[name], hints[name], {**fields[name].metadata.get("cli", {}),
                                                              **(options or {}).get(name, {})})
        parser.add_argument(flag, **kwargs)


def config_from_args(cls: type, args: argparse.Namespace, **overrides: Any):
    """``cls(**fields)``, by keyword: every field of ``cls`` that ``args`` holds (:func:`add_arguments` names
    them after the fields), then ``overrides``, which win."""
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if f.init and hasattr(args, f.name)}
    return cls(**{**given, **overrides})


def _argument(f: dataclasses.Field, hint: Any, cli: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The option string and ``add_argument`` keywords of field ``f``."""
    required = False
    if "default" in cli:
        default = cli.pop("default")
    elif f.default is not dataclasses.MISSING:
        default = f.default
    elif f.default_factory is not dataclasses.MISSING:
        default = f.default_factory()
    else:
        default, required = None, True
    flag = cli.pop("flag", None)
    kwargs: dict[str, Any] = {"dest": f.name, "default": default}
    if hint is bool:
        kwargs["action"] = "store_false" if default else "store_true"
        flag = flag or f"--{'no-' if default else ''}{f.name.replace('_', '-')}"
    else:
        flag = flag or f"--{f.name.replace('_', '-')}"
        inner = _optional(hint) or hint
        if inner is not str and inner is not Any and "type" not in cli:
            kwargs["type"] = _flag_type(inner)
        if flag.lstrip("-").replace("-", "_") != f.name and "choices" not in cli:
            kwargs["metavar"] = flag.lstrip("-").replace("-", "_").upper()  # argparse's own, from the flag
        if required:
            kwargs["required"] = True
    kwargs.update(cli)
    text = kwargs.get("help", f.metadata.get("help", ""))
    shown = ",".join(map(str, default)) if isinstance(default, (tuple, list)) else default
    if kwargs.get("action") not in ("store_true", "store_false") and shown not in (None, "") and "default" not in text:
        text = f"{text} (default {shown})"
    kwargs["help"] = text.replace("%", "%%")  # argparse formats help with %
    return flag, kwargs


def _flag_type(hint: Any):
    """An argparse type: text to a value of ``hint``, a refusal saying what was expected."""

    def parse(text: str) -> Any:
        try:
            return _parse(text.strip(), hint)
        except (ValueError, TypeError):
            raise argparse.ArgumentTypeError(f"expected {describe(hint)}, got {text!r}") from None

    parse.__name__ = type_name(hint)
    return parse


def int_list(text: str) -> tuple[int, ...]:
    """``"1,2,5"`` -> ``(1, 2, 5)``; anything else is a one-line argparse error."""
    try:
        values = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError("expected at least one integer")
    return values


def name_list(text: str) -> tuple[str, ...]:
    """``"mgm, fm"`` -> ``("mgm", "fm")``; an empty list is a one-line argparse error."""
    from maskbench.core.plugins import parse_names

    names = tuple(parse_names(text))
    if not names:
        raise argparse.ArgumentTypeError("expected comma-separated names, got none")
    return names


def _number(kind: type, text: str, low: float, strict: bool, high: float | None = None):
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid {kind.__name__} value: {text!r}") from None
    if value != value or value < low or (strict and value == low) or (high is not None and value >= high):
        bound = f"{'>' if strict else '>='} {low}" + (f" and < {high}" if high is not None else "")
        raise argparse.ArgumentTypeError(f"expected a value {bound}, got {text}")
    return value


def positive_int(text: str) -> int:
    """An integer >= 1."""
    return _number(int, text, 1, strict=False)


def count(text: str) -> int:
    """An integer >= 0."""
    return _number(int, text, 0, strict=False)


def positive_float(text: str) -> float:
    """A number > 0."""
    return _number(float, text, 0.0, strict=True)


def fraction(text: str) -> float:
    """A number in the open interval (0, 1)."""
    return _number(float, text, 0.0, strict=True, high=1.0)


def device_name(text: str) -> str:
    """``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps`` (checked here, without importing torch)."""
    import re

    if not re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", text):
        raise argparse.ArgumentTypeError(f"expected auto, cpu, cuda, cuda:N or mps, got {text!r}")
    return text


def existing_path(text: str) -> str:
    """An input file or folder that exists."""
    from pathlib import Path

    if not Path(text).expanduser().exists():
        raise argparse.ArgumentTypeError(f"{text} does not exist")
    return text


def split_name(text: str) -> str:
    """``train``, ``test`` or ``all``."""
    if text not in ("train", "test", "all"):
        raise argparse.ArgumentTypeError(f"expected train, test or all, got {text!r}")
    return text


def _refuse_unknown(keys: Iterable[Any], known: Mapping[str, Any], where: str, what: str) -> None:
    unknown = sorted(str(key) for key in keys if key not in known)
    if unknown:
        raise MaskbenchError(f"{where}unknown {what} {', '.join(unknown)}; known: {', '.join(sorted(known))}")


def describe(hint: Any) -> str:
    """What a value of ``hint`` looks like in words: ``an integer``, ``comma-separated numbers``, ..."""
    inner = _optional(hint)
    if inner is not None:
        return f"{describe(inner)} or none"
    if typing.get_origin(hint) is tuple:
        return f"comma-separated {_plural(_item(hint))}"
    return _KINDS.get(hint, getattr(hint, "__name__", str(hint)))


def type_name(hint: Any) -> str:
    """``int``, ``a list of int``, ... (the Python names, as a YAML author reads them)."""
    inner = _optional(hint)
    if inner is not None:
        return type_name(inner)
    if typing.get_origin(hint) is tuple:
        return f"a list of {type_name(_item(hint))}"
    return getattr(hint, "__name__", str(hint))


def _parse(text: str, hint: Any) -> Any:
    inner = _optional(hint)
    if inner is not None:
        return None if text.lower() in _NONE else _parse(text, inner)
    if typing.get_origin(hint) is tuple:
        items = [item.strip() for item in text.strip("[]()").split(",") if item.strip()]
        return tuple(_parse(item, _item(hint, i)) for i, item in enumerate(items)) if _fits(hint, items) else _fail()
    if hint is bool:
        if text.lower() not in _TRUE | _FALSE:
            raise ValueError(text)
        return text.lower() in _TRUE
    if hint is float:
        return float(text)
    if hint is dict:
        import yaml

        value = yaml.safe_load(text) if text else {}
        return value if isinstance(value, dict) else _fail()
    if hint is Any or hint is str:
        return text
    return hint(text)


def _typed(value: Any, hint: Any) -> Any:
    inner = _optional(hint)
    if inner is not None:
        return None if value is None else _typed(value, inner)
    if typing.get_origin(hint) is tuple:
        items = [v.strip() for v in value.split(",")] if isinstance(value, str) else \
            list(value) if isinstance(value, (list, tuple)) else [value]
        return tuple(_typed(item, _item(hint, i)) for i, item in enumerate(items)) if _fits(hint, items) else _fail()
    if hint is Any:
        return value
    if isinstance(value, str) and hint in (int, float, bool):
        return _parse(value, hint)  # PyYAML reads 1e-4 as a string
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, hint) and not (hint is int and isinstance(value, bool)):
        return value
    return _fail()


def _optional(hint: Any) -> Any:
    """The ``X`` of ``Optional[X]`` / ``X | None``, else ``None``."""
    if typing.get_origin(hint) in (types.UnionType, typing.Union):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(hint)) == 2:
            return args[0]
    return None


def _item(hint: Any, index: int = 0) -> Any:
    args = typing.get_args(hint) or (Any, ...)
    return args[0] if len(args) == 2 and args[1] is Ellipsis else args[min(index, len(args) - 1)]


def _fits(hint: Any, items: list) -> bool:
    args = typing.get_args(hint)
    return len(args) == 2 and args[1] is Ellipsis or not args or len(items) == len(args)


def _plural(hint: Any) -> str:
    return {int: "integers", float: "numbers", bool: "booleans", str: "names"}.get(hint, f"{type_name(hint)} values")


def _fail():
    raise ValueError("wrong type")
