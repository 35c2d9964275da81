"""The operation registry: every entry complete, and every entry exercised.

An entry fails here when it lacks a field its kind needs, when its JVP or a
Frobenius pull disagrees with central differences of its own NumPy evaluation
(random, distinct sizes), when its derivative disagrees with SymPy's derivative
of its SymPy form, when a model using it fails ``check`` (central differences of
the model against the printed gradient), or when the random-model generator of
``matcalc selftest`` never writes it (or, for the engine's own operations,
never makes a gradient containing it).
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import matcalc
from matcalc import selftest
from matcalc.check import check
from matcalc.differential import Differentiator
from matcalc.evaluate import Evaluator
from matcalc.expr import Apply, Call, Expr, Var
from matcalc.ops.registry import OPS, TARGETS, call_ops, entrywise_ops

ENTRYWISE = [op.name for op in entrywise_ops()]
CALLS = [op.name for op in call_ops()]

#: Argument shapes (and the result's) of the operations whose result shape is stored on the
#: node rather than computed from the arguments'.
STORED_SHAPES = {
    "unvec": ([(6, 1)], (2, 3)),
    "blockfrob": ([(6, 20), (2, 5)], (3, 4)),
    "blocksum": ([(6, 20), (3, 4)], (2, 5)),
}


@pytest.mark.parametrize("name", list(OPS))
def test_every_entry_is_complete(name):
    op = OPS[name]
    assert op.kind in ("entrywise", "call")
    assert op.numeric is not None, "no NumPy evaluation"
    assert op.latex is not None, "no LaTeX spelling"
    assert op.sympy is not None, "no SymPy form (the exact oracle, formulas)"
    assert set(TARGETS) <= set(op.code), f"no spelling for {set(TARGETS) - set(op.code)}"
    if op.kind == "entrywise":
        assert op.derivative is not None and op.sympy is not None
        assert op.arity == 1
    else:
        assert len(op.jvp) == op.arity, "one JVP per argument"
        assert len(op.needs) == op.arity, "one requirement per argument"
        assert len(op.pull) in (0, op.arity)
        assert op.result is not None or op.name in STORED_SHAPES
        assert op.example, "a model using it (or, for the engine's own, making a gradient with it)"
    if op.factors_out:
        assert op.pull and op.pull[0] is not None, "numbers move out only of a linear function"


def test_spelt_fills_every_target_and_rejects_unknown_ones():
    from matcalc.ops.registry import spelt

    code = spelt("{np}.f({x})", array_api="{np}.g({x})")
    assert set(code) == set(TARGETS) and code["array-api"] == "{np}.g({x})"
    assert {code[t] for t in TARGETS if t != "array-api"} == {"{np}.f({x})"}
    with pytest.raises(ValueError, match="no code target 'tensorflow'"):
        spelt("{np}.f({x})", tensorflow="tf.f({x})")


def _draw(rng, shape, domain):
    r, c = shape
    if domain == "spd":
        a = rng.normal(size=(r, r))
        return a @ a.T / r + np.eye(r)
    if domain == "positive":
        return rng.uniform(0.5, 1.5, size=shape)
    if domain == "small":
        return rng.uniform(-0.4, 0.4, size=shape)
    x = rng.normal(size=shape)
    return np.where(np.abs(x) < 0.1, 0.5, x)  # away from kinks at 0


def _call_shapes(op, rng):
    if op.name in STORED_SHAPES:
        return STORED_SHAPES[op.name]
    sizes = iter(rng.permutation([2, 3, 4, 5, 6])[: 2 * op.arity].tolist())
    shapes = []
    for need in op.needs:
        if need == "square":
            k = next(sizes)
            shapes.append((k, k))
        elif need == "vector":
            shapes.append((next(sizes), 1))
        else:
            shapes.append((next(sizes), next(sizes)))
    return shapes, op.result(*shapes)


@pytest.mark.parametrize("name", CALLS)
def test_jvp_and_pulls_agree_with_central_differences(name):
    """``d f = Σ jvp_i(dX_i)`` and ``G : f(…, D, …) = pull_i(G) : D`` numerically."""
    op = OPS[name]
    rng = np.random.default_rng(7)
    shapes, result = _call_shapes(op, rng)
    args = tuple(Var(f"A{i}", s) for i, s in enumerate(shapes))
    env = {a.name: _draw(rng, a.shape, op.domain.draw) for a in args}
    e = Call(op.name, args, result)
    for i, a in enumerate(args):
        d = Differentiator(lambda v, a=a: v == a)
        direction = rng.normal(size=a.shape)
        if op.domain.draw == "spd":
            direction = direction + direction.T
        ev = Evaluator({**env, "d" + a.name: direction}, {})
        h = 1e-6
        plus = Evaluator({**env, a.name: env[a.name] + h * direction}, {})(e)
        minus = Evaluator({**env, a.name: env[a.name] - h * direction}, {})(e)
        numeric = (plus - minus) / (2 * h)
        symbolic = np.broadcast_to(ev(d(e)), numeric.shape)
        assert np.allclose(symbolic, numeric, rtol=1e-5, atol=1e-6), f"jvp {i}"
        if op.pull and op.pull[i] is not None:
            g = Var("G", result)
            rule, g2 = op.pull[i](g, args)
            values = {**env, "G": rng.normal(size=result)}
            ev = Evaluator(values, {})
            lhs = float((ev(g) * ev(e)).sum())
            rhs = float((np.broadcast_to(ev(g2), a.shape) * ev(a)).sum())
            assert lhs == pytest.approx(rhs, rel=1e-9), f"{rule.name}: pull {i}"
            assert rule.text and rule.latex


def _numeric_expr(e: Expr, x: np.ndarray) -> np.ndarray:
    return Evaluator({"x": x}, {})(e)


@pytest.mark.parametrize("name", ENTRYWISE)
def test_derivative_agrees_with_sympy_and_central_differences(name):
    op = OPS[name]
    rng = np.random.default_rng(3)
    x = _draw(rng, (4, 3), op.domain.draw)
    var = Var("x", (4, 3))
    slope = op.derivative(var, Apply(op.name, var))
    ours = np.broadcast_to(_numeric_expr(slope, x), x.shape)
    h = 1e-6
    assert np.allclose(ours, (op.numeric(x + h) - op.numeric(x - h)) / (2 * h), rtol=1e-5, atol=1e-6)
    u = sp.Symbol("u", real=True)
    form = op.sympy(sp, u)
    value = sp.lambdify(u, form, "numpy")
    assert np.allclose(np.broadcast_to(value(x), x.shape), op.numeric(x))
    derivative = sp.lambdify(u, sp.diff(form, u).replace(sp.DiracDelta, lambda *a: 0), "numpy")
    assert np.allclose(np.broadcast_to(derivative(x), x.shape), ours)


def _entrywise_model(op) -> str:
    arg = {"positive": "exp(W*x)", "small": "0.4*tanh(W*x)"}.get(op.domain.draw, "W*x")
    return f"x: vector(n); W: matrix(m, n); y: vector(m); f = y'*{op.name}({arg})"


def _ops_in(e: Expr) -> set[str]:
    return {n.fn for n in e.walk() if isinstance(n, (Apply, Call))}


@pytest.mark.parametrize("name", list(OPS))
def test_a_model_using_it_agrees_with_central_differences(name):
    op = OPS[name]
    model = _entrywise_model(op) if op.kind == "entrywise" else op.example
    m = matcalc.parse(model)
    g = matcalc.grad(m, wrt=[v.name for v in m.inputs])
    used = set().union(*(_ops_in(rhs) for _, rhs in m.definitions), *map(_ops_in, g.derivation.gradients))
    assert name in used, f"the model {model!r} does not use {name}"
    result = check(g.derivation, seed=5)
    assert result.ok, result


def _generated_ops(count: int) -> tuple[set[str], set[str]]:
    """Functions the generator writes in ``count`` models, and those in their gradients."""
    written: set[str] = set()
    derived: set[str] = set()
    for i in range(count):
        gm = selftest.generate(i)
        stack = [st.expr for st in gm.statements if isinstance(st, selftest.Def)]
        while stack:
            n = stack.pop()
            if n.op == "call":
                written.add(OPS[n.value].name if n.value in OPS else n.value)
            if n.op == "bin" and n.value == "⊗":
                written.add("kron")
            stack.extend(n.kids)
        if i % 10 == 0:
            try:
                g = matcalc.grad(gm.text, list(gm.wrt), gm.of)
            except matcalc.MatcalcError:
                continue
            derived |= set().union(*map(_ops_in, g.derivation.gradients))
    return written, derived


def test_the_random_model_generator_writes_every_operation():
    written, derived = _generated_ops(3000)
    aliases = {a: op.name for op in OPS.values() for a in op.aliases}
    written = {aliases.get(w, w) for w in written}
    missing = [op.name for op in OPS.values() if not op.internal and op.name not in written]
    assert not missing, f"matcalc selftest never writes {missing}"
    internal = [op.name for op in OPS.values() if op.internal and op.name not in derived]
    assert not internal, f"no generated model's gradient uses {internal}"
