"""The plugin manager: every plugin, built-in or third-party, arrives through the ``maskbench``
entry-point group (the built-ins are listed in this package's ``pyproject.toml``).

Set ``MASKBENCH_BLOCK_PLUGINS=name1,name2`` to block plugins by their entry-point name, e.g. ``rdm``.
"""

from __future__ import annotations

import functools
import os
from typing import Any, Callable, Iterable

import pluggy

from maskbench.core import hookspecs
from maskbench.core.errors import MaskbenchError

ENTRY_POINT_GROUP = "maskbench"
BLOCK_ENV = "MASKBENCH_BLOCK_PLUGINS"


def blocked_names() -> set[str]:
    """Plugin names listed in ``$MASKBENCH_BLOCK_PLUGINS`` (comma separated)."""
    return {name.strip() for name in os.environ.get(BLOCK_ENV, "").split(",") if name.strip()}


@functools.cache
def plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, built on first use (cached)."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    check_blocked(blocked_names())
    for name in blocked_names():
        pm.set_blocked(name)
    if not any(ep.value.startswith("maskbench.") for ep in _entry_points()):
        raise MaskbenchError("maskbench's built-in plugins are not registered: install the package "
                             "(pip install -e . from a checkout) rather than importing it from a source folder")
    try:
        pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
        pm.check_pending()
    except Exception as error:  # a broken third-party plugin must not crash with a traceback
        raise MaskbenchError(f"a maskbench plugin failed to load ({type(error).__name__}: {error}); "
                             f"fix it or block it with {BLOCK_ENV}=NAME") from error
    return pm


def plugin_names() -> list[str]:
    """Names a plugin can be blocked by: its entry-point name (built-ins first)."""
    points = _entry_points()
    own = [ep.name for ep in points if ep.value.startswith("maskbench.")]
    return own + sorted(ep.name for ep in points if not ep.value.startswith("maskbench."))


def _entry_points():
    import importlib.metadata

    return importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)


def check_blocked(names: set[str]) -> None:
    """A name in ``$MASKBENCH_BLOCK_PLUGINS`` that is no plugin is a typo: refuse it rather than block nothing."""
    unknown = sorted(names - set(plugin_names()))
    if unknown:
        raise MaskbenchError(f"{BLOCK_ENV} names {', '.join(map(repr, unknown))}, which is no plugin; plugins: "
                             f"{', '.join(plugin_names())}")


def collect(hook: Callable[[], list[list[Any]]], key: Callable[[Any], str], kind: str) -> dict[str, Any]:
    """Merge what every plugin returned from ``hook`` into ``{name: item}``; duplicates are errors."""
    registry: dict[str, Any] = {}
    for items in hook():
        for item in items or ():
            name = key(item)
            if name in registry:
                raise MaskbenchError(f"two plugins register a {kind} named {name!r}; block one with {BLOCK_ENV}")
            registry[name] = item
    return registry


def lookup(registry: dict[str, Any], name: str, kind: str) -> Any:
    """``registry[name]``, or a one-line error listing what is registered."""
    if name not in registry:
        if name in blocked_names():
            raise MaskbenchError(f"unknown {kind} {name!r}: its plugin {name!r} is blocked by {BLOCK_ENV}; "
                                 "remove it from that list to use it")
        known = ", ".join(sorted(registry)) or "none"
        raise MaskbenchError(f"unknown {kind} {name!r}; registered {kind}s: {known}")
    return registry[name]


def parse_names(text: str | Iterable[str]) -> list[str]:
    """``"mgm, fm"`` -> ``["mgm", "fm"]``; empty entries are dropped."""
    parts = text.split(",") if isinstance(text, str) else list(text)
    return [p.strip() for p in parts if p.strip()]
