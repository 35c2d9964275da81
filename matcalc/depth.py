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

from .errors import DerivativeError, MatcalcError
from .model import Model

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


def at_definition(
    model: Model, name: str, message: str, cls: type[MatcalcError] = DerivativeError
) -> MatcalcError:
    """An error of class ``cls`` saying ``message``, located at the definition of ``name``."""
    line, column, end = model.place(name) or (None, None, None)
    return cls(message, line, column, source=model.source, end_column=end)


def too_deep(model: Model, name: str, what: str = "differentiate") -> MatcalcError:
    """The error for a definition of ``name`` nested too deeply to ``what``, located at it."""
    return at_definition(model, name, f"expression nested too deeply to {what}")


def guard_depth(
    where: Callable[..., tuple[Model, str]], what: str
) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """Run the decorated function under :func:`deep_recursion`; a ``RecursionError`` becomes
    :func:`too_deep` at the ``(model, name)`` that ``where`` gives for the same arguments."""

    def decorate(fn: Callable[..., T]) -> Callable[..., T]:
        @wraps(fn)
        def run(*args, **kwargs) -> T:
            with deep_recursion():
                try:
                    return fn(*args, **kwargs)
                except RecursionError:
                    model, name = where(*args, **kwargs)
                    raise too_deep(model, name, what) from None

        return run

    return decorate
