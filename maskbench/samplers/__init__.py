"""Samplers: one file each, one interface (:class:`Sampler`), registered through plugins."""

from __future__ import annotations

from typing import Any

from maskbench.samplers.base import Sampler, SamplerOptions
from maskbench.samplers.options import (AtLeast, OneOf, RegisteredSchedule, describe_option, option, option_fields,
                                        parse_option)

__all__ = ["Sampler", "SamplerOptions", "option", "AtLeast", "OneOf", "RegisteredSchedule", "describe_option",
           "option_fields", "parse_option", "registered_samplers", "get_sampler", "build_sampler"]


def registered_samplers() -> dict[str, type[Sampler]]:
    """Every sampler class contributed by a plugin, by name."""
    from maskbench.core.plugins import collect, plugin_manager

    return collect(plugin_manager().hook.maskbench_samplers, key=lambda cls: cls.name, kind="sampler")


def get_sampler(name: str) -> type[Sampler]:
    """The sampler class ``name``; unknown names raise a one-line error listing the registered ones."""
    from maskbench.core.plugins import lookup

    return lookup(registered_samplers(), name, "sampler")


def build_sampler(name: str, **options: Any) -> Sampler:
    """Instantiate sampler ``name`` with option overrides; unknown options, values of the wrong type and
    values an option's constraint refuses are one-line errors (checked by the sampler's ``__init__``)."""
    return get_sampler(name)(**options)
