"""Layers only look down: a module imports from its own layer or from one below (STYLE.md, principle 13).

Every ``import`` statement counts, the ones inside functions too (a lazy import is still a dependency).
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "maskbench"
#: Bottom to top. ``cli`` sits above everything; the paper-publication tool is not in the package at all.
LAYERS = ("core", "schedules", "samplers", "metrics", "tokenizers", "training", "report", "bench", "cli")


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "maskbench" or len(parts) < 2:
        return None
    return parts[1]


def imports(path: Path, root: Path = PACKAGE) -> list[tuple[int, str]]:
    """``(line, module)`` of every maskbench module ``path`` imports, absolute or relative."""
    here = ("maskbench", *path.relative_to(root).with_suffix("").parts)
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = here[: len(here) - node.level] if path.name != "__init__.py" else here[: len(here) - node.level + 1]
                base = ".".join([*package, *([base] if base else [])])
            found.append((node.lineno, base))
    return [(line, module) for line, module in found if module.startswith("maskbench")]


def upward_imports(root: Path = PACKAGE) -> list[str]:
    problems = []
    for path in sorted(root.rglob("*.py")):
        mine = layer_of(".".join(("maskbench", *path.relative_to(root).with_suffix("").parts)))
        if mine not in LAYERS:
            continue
        for line, module in imports(path, root):
            theirs = layer_of(module)
            if theirs in LAYERS and LAYERS.index(theirs) > LAYERS.index(mine):
                problems.append(f"{path.relative_to(root.parent)}:{line} ({mine}) imports {module} ({theirs})")
    return problems


def test_every_module_belongs_to_a_layer():
    names = {p.name if p.is_dir() else p.stem for p in PACKAGE.iterdir() if p.suffix == ".py" or (p / "__init__.py").exists()}
    assert names - {"__init__"} == set(LAYERS)


def test_no_module_imports_from_a_layer_above_it():
    assert upward_imports() == []


def test_the_walk_finds_an_upward_import(tmp_path):
    """The check itself: a core module that imports the harness, even lazily, is reported."""
    (tmp_path / "core").mkdir()
    (tmp_path / "core" / "bad.py").write_text("def f():\n    from maskbench.bench.run import run_benchmark\n")
    (tmp_path / "samplers").mkdir()
    (tmp_path / "samplers" / "ok.py").write_text("from maskbench.core.errors import MaskbenchError\n")
    assert upward_imports(tmp_path) == [f"{tmp_path.name}/core/bad.py:2 (core) imports maskbench.bench.run (bench)"]
