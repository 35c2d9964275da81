"""Named forward values: the nested values of a model written as one expression, each
given a name once (``where u1 = tanh(W1 x)``, ``u2 = tanh(W2 u1)``).

A model written without definitions, ``f = sum(tanh(W4*tanh(W3*tanh(W2*tanh(W1*x)))))``,
would repeat ``tanh(W3 tanh(W2 tanh(W1 x)))`` in every factor of every gradient: the
text grows with the square of the depth. Structural calls nest the same way
(``logsumexp(W3*softmax(W2*softmax(W1*x)))``, ``tr(inv(B2*inv(B1*A + I) + I))``): the
derivative of ``softmax``, ``inv``, ``det`` … holds their value, and without a name
the adjoint of each level is written out again at every level below it (for
``softmax``, twice: the text doubles with each level). Before the derivation such
values are *lifted* into definitions of their own (:func:`lift`), so the adjoints, the
index fold and the generated code treat them as any definition; the result says
``where u1 = …`` for them, as they are not the user's names.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

from . import build as b
from .expr import Apply, Call, Expr, MatPow, Transpose, Var
from .model import Model
from .ops.registry import lookup

#: A definition is lifted apart when entry-wise functions nest at least this deep in it
#: (``tanh(W3*tanh(W2*tanh(W1*x)))``); shallower ones read as a textbook writes them.
MIN_NESTING = 3

#: A definition is also lifted apart when layers of calls of any kind (entry-wise,
#: structural, matrix powers; :func:`_layers`) nest this deep inside its outermost
#: operation (``logsumexp(W4*softmax(W3*softmax(W2*softmax(W1*x))))``).
MIN_CALL_NESTING = 3

#: Letters for the introduced names, the first that no name of the model uses with a number.
_LETTERS = ("u", "v", "a", "q", "z")


def _nesting(rhs: Expr, counted: Callable[[Expr], bool] = lambda n: isinstance(n, Apply)) -> dict[Expr, int]:
    """For each node of ``rhs``, the most ``counted`` nodes nested in it (itself counted); by
    default the entry-wise functions."""
    depth: dict[Expr, int] = {}
    stack = [(rhs, False)]
    while stack:
        n, ready = stack.pop()
        if n in depth:
            continue
        kids = () if isinstance(n, Var) else n.children()
        if ready or not kids:
            depth[n] = int(counted(n)) + max((depth[c] for c in kids), default=0)
        else:
            stack.append((n, True))
            stack.extend((c, False) for c in kids if c not in depth)
    return depth


def _is_call(n: Expr) -> bool:
    """An entry-wise function, a structural function or a matrix power."""
    return isinstance(n, (Apply, Call, MatPow))


def _keeps_value(n: Expr) -> bool:
    """A call whose derivative holds its own value or its argument's (``tanh``, ``softmax``,
    ``inv``, ``det``, a norm): not a linear one (``sum tr diag Diag vec kron``, a power of a
    name, whose derivative holds only the other operands)."""
    if isinstance(n, Apply):
        return True
    if isinstance(n, Call):
        op = lookup(n.fn)
        return op is None or len(op.pull) < op.arity or any(p is None for p in op.pull)
    return False


def _call_nesting(rhs: Expr) -> dict[Expr, int]:
    """For each node of ``rhs``, the most calls of any kind nested in it (itself counted)."""
    return _nesting(rhs, _is_call)


def _composed(n: Expr) -> bool:
    """A call applied directly to calls (``sqrt(det(A))``, ``log1p(exp(tr(Σ)))``): one
    function of a textbook's, written nested, not a layer of its own."""
    args = n.children()
    while args and all(isinstance(a, Transpose) for a in args):
        args = tuple(a.arg for a in args)
    return bool(args) and all(_is_call(a) for a in args)


def _layers(rhs: Expr) -> dict[Expr, int]:
    """For each node of ``rhs``, the most layers nested in it (itself counted): calls of any
    kind, a call applied directly to calls counted with them (``logsumexp(W3*softmax(W2*
    softmax(W1*x)))`` has three, ``sum(sqrt(det(A)))`` one)."""
    return _nesting(rhs, lambda n: _is_call(n) and not _composed(n))


def _lifted(rhs: Expr) -> Callable[[Expr], bool] | None:
    """Which nodes of ``rhs`` become definitions of their own (``None``: none, the
    definition reads as written): every entry-wise call when entry-wise functions nest
    :data:`MIN_NESTING` deep; every call that holds another or keeps its value when
    :func:`_layers` nest :data:`MIN_CALL_NESTING` deep inside the outermost operation."""
    if isinstance(rhs, Var):
        return None
    layers = _layers(rhs)
    if max((layers[c] for c in rhs.children()), default=0) >= MIN_CALL_NESTING:
        calls = _call_nesting(rhs)
        return lambda n: _is_call(n) and (calls[n] >= 2 or _keeps_value(n))
    entrywise = _nesting(rhs)
    if entrywise[rhs] >= MIN_NESTING:
        return lambda n: isinstance(n, Apply) and entrywise[n] > 0
    return None


def _letter(model: Model) -> str:
    """The letter of the introduced names: one no name of the model spells with a number."""
    names = [v.name for v in model.inputs] + [v.name for v, _ in model.definitions]
    names += list(model.elementwise) + [d for d in model.dims if isinstance(d, str)]
    for letter in _LETTERS:
        pattern = re.compile(rf"{letter}\d+", re.IGNORECASE)
        if not any(pattern.fullmatch(n) for n in names):
            return letter
    return "u_"  # no model name has this form with every letter above also taken


def lift(model: Model) -> tuple[Model, tuple[tuple[Var, Expr], ...]]:
    """``model`` with the values nested in deep definitions (:func:`_lifted`) made definitions of
    their own (innermost first, each before the definition using it), and those introduced
    definitions; the model itself when there is none."""
    chosen = {var: _lifted(rhs) for var, rhs in model.definitions}
    if all(c is None for c in chosen.values()):
        return model, ()
    letter = _letter(model)
    mapping: dict[Expr, Expr] = {}
    memo: dict = {}
    introduced: list[tuple[Var, Expr]] = []
    definitions: list[tuple[Var, Expr]] = []
    places: list[tuple[int, int, int]] = []
    for k, (var, rhs) in enumerate(model.definitions):
        where = model.places[k] if k < len(model.places) else None
        chosen_here = chosen[var]
        if chosen_here is not None:
            for node in _post_order(rhs):
                if node is rhs or node in mapping or not chosen_here(node):
                    continue
                value = b.substitute(node, mapping, memo)
                r, c = node.shape
                symmetric = r == c != 1 and b.is_symmetric(value)  # as a definition would be
                name = Var(f"{letter}{len(introduced) + 1}", node.shape, "def", symmetric)
                mapping[node] = name
                memo.clear()
                introduced.append((name, value))
                definitions.append((name, value))
                if where is not None:
                    places.append(where)
            rhs = b.substitute(rhs, mapping, memo)
        definitions.append((var, rhs))
        if where is not None:
            places.append(where)
    return replace(model, definitions=tuple(definitions), places=tuple(places)), tuple(introduced)


def _post_order(e: Expr) -> list[Expr]:
    """The distinct nodes of ``e``, each after its operands (operands left to right)."""
    out: list[Expr] = []
    seen: set[Expr] = set()
    stack = [(e, False)]
    while stack:
        n, ready = stack.pop()
        if ready:
            out.append(n)
            continue
        if n in seen:
            continue
        seen.add(n)
        stack.append((n, True))
        if not isinstance(n, Var):
            stack.extend((c, False) for c in reversed(n.children()))
    return out
