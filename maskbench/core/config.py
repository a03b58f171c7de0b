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
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any

from maskbench.core.errors import MaskbenchError

_TRUE, _FALSE = {"true", "1", "yes"}, {"false", "0", "no"}
_NONE = {"none", "null", "~", ""}
_KINDS = {int: "an integer", float: "a number", bool: "true or false", str: "a string", dict: "a mapping"}


def setting(default: Any = dataclasses.MISSING, help: str = "", *, default_factory: Any = dataclasses.MISSING) -> Any:
    """A configuration field with its one-line help: ``videos: int = setting(4, "videos per cell")``."""
    return dataclasses.field(default=default, default_factory=default_factory, metadata={"help": help})


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
