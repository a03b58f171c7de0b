"""Hook specifications: what a maskbench plugin can contribute.

A plugin is any module or object with functions decorated by :data:`hookimpl`; third-party plugins
are found through the ``maskbench`` entry-point group (see README, "Writing a plugin").
"""

import pluggy

PROJECT = "maskbench"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def maskbench_samplers() -> list:
    """Return sampler classes (subclasses of ``maskbench.samplers.Sampler``) to register."""


@hookspec
def maskbench_schedules() -> list:
    """Return masking schedules (``maskbench.schedules.Schedule`` objects) to register."""


@hookspec
def maskbench_tokenizers() -> list:
    """Return tokenizer specs (``maskbench.tokenizers.base.TokenizerSpec``) to register."""
