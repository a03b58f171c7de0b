"""Progress bars on stderr for a person at a terminal only: piped or logged output stays clean."""

from __future__ import annotations

import sys
from typing import Iterable, TypeVar

from tqdm import tqdm

T = TypeVar("T")


def bar(iterable: Iterable[T] | None = None, **kwargs) -> tqdm:
    """``tqdm`` on stderr, shown only when stderr is a terminal (``disable=None``), never left behind."""
    kwargs.setdefault("leave", False)
    kwargs.setdefault("dynamic_ncols", True)
    kwargs.setdefault("disable", None)
    return tqdm(iterable, file=sys.stderr, **kwargs)


def say(text: str) -> None:
    """A progress line on stdout that does not break a bar drawn on stderr."""
    tqdm.write(text, file=sys.stdout)
