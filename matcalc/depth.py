"""Deep expressions: the recursion allowance for walking them, and the error when even
that is not enough.

Building, differentiating, simplifying and printing recurse into their operands; a
model nested a thousand levels deep needs more than Python's default allowance.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import TypeVar

from .errors import DerivativeError

#: Recursion allowed while building, differentiating and printing a model.
RECURSION_LIMIT = 20_000

T = TypeVar("T")


@contextmanager
def deep_recursion(limit: int = RECURSION_LIMIT) -> Iterator[None]:
    """Within the block, at least ``limit`` nested Python calls are allowed."""
    old = sys.getrecursionlimit()
    if old < limit:
        sys.setrecursionlimit(limit)
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def definition_position(source: str, name: str) -> tuple[int | None, int | None]:
    """Line and column where ``name = …`` is defined in ``source`` (``None`` if not found)."""
    import re

    pattern = re.compile(rf"(?:^|;)[ \t]*({re.escape(name)})[ \t]*=(?!=)")
    for i, text in enumerate(source.splitlines()):
        m = pattern.search(text.split("#")[0])
        if m:
            return i + 1, m.start(1) + 1
    return None, None


def too_deep(source: str, name: str, what: str = "differentiate") -> DerivativeError:
    """The error for a definition of ``name`` nested too deeply to ``what``, located at it."""
    line, column = definition_position(source, name)
    if line is None:
        line, column = 1, 1
    return DerivativeError(
        f"expression nested too deeply to {what}",
        line,
        column,
        source=source,
        end_column=column + len(name),
    )


def guard_depth(
    where: Callable[..., tuple[str, str]], what: str
) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Run the decorated function under :func:`deep_recursion`; a ``RecursionError`` becomes
    :func:`too_deep` at the ``(source, name)`` that ``where`` gives for the same arguments."""

    def decorate(fn: Callable[..., T]) -> Callable[..., T]:
        @wraps(fn)
        def run(*args, **kwargs) -> T:
            with deep_recursion():
                try:
                    return fn(*args, **kwargs)
                except RecursionError:
                    source, name = where(*args, **kwargs)
                    raise too_deep(source, name, what) from None

        return run

    return decorate
