"""The operation registry: one :class:`Op` entry per operation of the language.

An entry holds everything every stage needs to know about one operation: its
name and aliases, arity, what its arguments must be and the shape of its
result, the domain of its argument (for checks and random draws), its
differential per argument (the JVP), its Frobenius pull per argument where it
is linear (the transpose of the JVP), its SymPy forms (of explicit matrices, and as a
SymPy matrix expression), and its spellings: text, LaTeX, and one per code target.

The entries themselves live in :mod:`matcalc.ops.entrywise` (functions applied
entry by entry) and :mod:`matcalc.ops.structural` (``sum tr … kron``); they
register themselves here when :mod:`matcalc` is imported. This module imports
nothing that imports it, so the stages (``build``, ``differential``, ``rules``,
printers, evaluator, check, selftest) read the table without an import cycle.

A new entry-wise function is one :func:`entrywise` call; every code target's
spelling of an operation is a key of its :attr:`Op.code` (:func:`spelt` fills
the targets that spell it as NumPy does), so a new code target is one more name
in :data:`TARGETS` and its spelling in the entries where it differs (the
completeness test lists every entry that lacks one, and tests/test_targets.py runs
every entry's example through every target); a new derivative kind reads :attr:`Op.derivative` (entry-wise) or
:attr:`Op.jvp` (per argument) and :attr:`Op.pull`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: Code targets every entry must spell (``Op.code`` keys), as the CLI and the API name them.
TARGETS: tuple[str, ...] = ("numpy", "torch", "jax", "array-api")


def spelt(default: str, **others: str) -> dict[str, str]:
    """An entry's code: ``default`` for every target but those given (``array_api`` for
    ``array-api``). NumPy, PyTorch, ``jax.numpy`` and the array API share most spellings."""
    named = {k.replace("_", "-"): v for k, v in others.items()}
    unknown = set(named) - set(TARGETS)
    if unknown:
        raise ValueError(f"no code target {sorted(unknown)[0]!r}")
    return {t: named.get(t, default) for t in TARGETS}


@dataclass(frozen=True)
class Rule:
    """A named identity: ``text`` in Unicode, ``latex`` for typeset derivations."""

    name: str
    text: str
    latex: str


@dataclass(frozen=True)
class Domain:
    """Where an argument may lie.

    ``draw`` is how random inputs reaching it are drawn (``any``, ``positive``,
    ``small`` for ``|x| < 1/2``, ``spd`` for a symmetric positive definite
    matrix); ``margin`` maps an argument's values to its distance from where the
    operation is not smooth or not defined (the selftest rejects draws too close).
    """

    draw: str = "any"
    margin: Callable[[Any], float] | None = None


ANY = Domain()


@dataclass(frozen=True)
class Op:
    """One operation. ``kind`` is ``entrywise`` (``Apply`` nodes) or ``call`` (``Call`` nodes).

    Entry-wise functions give ``derivative(x, y)`` (``f'(x)`` written with the
    argument ``x`` and the value ``y = f(x)``) and ``sympy(u)`` (the function of a
    SymPy symbol). Calls give ``needs`` (per argument: ``any``, ``square`` or
    ``vector``), ``result`` (the argument shapes to the result's; ``None`` when
    the result's shape is stored on the node, as for ``unvec``), ``jvp`` (per
    argument: ``(args, y, dx) ->`` the differential's term in that argument) and
    ``pull`` (per argument, ``None`` where not linear: ``(g, args) -> (rule,
    g')`` with ``g : op(…, dX, …) = g' : dX``), ``sympy(sp, *args)`` (the result for
    explicit ``sp.Matrix`` arguments) and ``sympy_matrix(sp, *args)`` (the result as a
    SymPy matrix expression of matrix expressions, ``Trace(X)``; ``None`` where SymPy has
    none): :mod:`matcalc.sympy_interop` reads both ways through it.
    """

    name: str
    kind: str
    arity: int = 1
    aliases: tuple[str, ...] = ()
    internal: bool = False  # made by the engine, never written in a model (unvec …)
    needs: tuple[str, ...] = ("any",)
    result: Callable[..., tuple] | None = None
    domain: Domain = ANY
    derivative: Callable | None = None
    jvp: tuple[Callable, ...] = ()
    pull: tuple[Callable | None, ...] = ()
    factors_out: bool = False  # numbers and scalar factors move out of it (sum tr diag Diag vec)
    simplify: Callable | None = None
    symmetric: Callable[..., bool] | None = None  # args -> whether the result is symmetric
    sympy: Callable | None = None
    sympy_matrix: Callable | None = None  # calls: (sp, *args) -> a SymPy matrix expression
    numeric: Callable | None = None
    latex: str | Callable[[list[str]], str] | None = None
    latex_transposed: Callable[[list[str]], str] | None = None
    code: Mapping[str, str] = field(default_factory=dict)
    code_alias: str = "fresh"  # numpy: "view" or "read-only" when the result shares memory
    example: str | None = None  # a model using it (checked by the tests), for calls

    @property
    def spellings(self) -> tuple[str, ...]:
        """Every name a user may call it by."""
        return () if self.internal else (self.name, *self.aliases)


#: Every operation by name, in order of registration.
OPS: dict[str, Op] = {}
#: Alternative spellings accepted in input.
ALIASES: dict[str, str] = {}


def register(op: Op) -> Op:
    """Add ``op`` to the table (a name may be registered once)."""
    if op.name in OPS or op.name in ALIASES:
        raise ValueError(f"operation {op.name!r} registered twice")
    OPS[op.name] = op
    for a in op.aliases:
        ALIASES[a] = op.name
    _NAMES.clear()
    return op


def lookup(name: str) -> Op | None:
    """The operation called ``name`` (or an alias of it), if any."""
    return OPS.get(ALIASES.get(name, name))


def entrywise_ops() -> list[Op]:
    """Entry-wise functions, in order of registration."""
    return [op for op in OPS.values() if op.kind == "entrywise"]


def call_ops() -> list[Op]:
    """Structural functions (``Call`` nodes), in order of registration."""
    return [op for op in OPS.values() if op.kind == "call"]


_NAMES: dict[int, tuple[str, ...]] = {}


def known_names() -> tuple[str, ...]:
    """Every function name a user may call (besides their own), sorted."""
    names = _NAMES.get(len(OPS))
    if names is None:
        names = _NAMES[len(OPS)] = tuple(sorted(s for op in OPS.values() for s in op.spellings))
    return names
