"""The names of the language's functions, read from the operation registry
(:mod:`matcalc.ops`), for code that only needs the names."""

from __future__ import annotations

from .ops import entrywise as _entrywise  # noqa: F401  (the entries register on import)
from .ops import structural as _structural  # noqa: F401
from .ops.registry import ALIASES, OPS, call_ops, entrywise_ops, known_names

#: Entry-wise functions (the result has the argument's shape).
ENTRYWISE: tuple[str, ...] = tuple(op.name for op in entrywise_ops())
#: Structural functions a user may call, by name.
STRUCTURAL = {op.name: op for op in call_ops() if not op.internal}
#: Every function name a user may call (besides declared ``elementwise`` names).
KNOWN_FUNCTIONS: tuple[str, ...] = known_names()

__all__ = ["ALIASES", "ENTRYWISE", "KNOWN_FUNCTIONS", "OPS", "STRUCTURAL"]
