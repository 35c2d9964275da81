"""SymPy in and out: ``matcalc.from_sympy``, ``Gradient.to_sympy``, ``matcalc.diff``.

Every answer is evaluated numerically (explicit random matrices substituted into the
SymPy expressions) and compared with central differences of the SymPy expression
itself; SymPy's own ``.diff`` is compared too, where it is right, and shown wrong where
it is not (SymPy 1.14: ``Trace(X) + 1`` gives 0, ``log(Determinant(X))`` gives 0,
element-wise functions give an ``ArrayDiagonal`` of the wrong shape).
"""

from pathlib import Path

import numpy as np
import pytest
import sympy as sp
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction
from sympy.matrices.expressions.diagonal import DiagMatrix, DiagonalOf
from sympy_numeric import evaluate as numeric

import matcalc
from matcalc import dims
from matcalc.ops.registry import call_ops, entrywise_ops
from matcalc.sympy_interop import sympy_model_text, tables, to_sympy

MODELS = Path(__file__).parent / "models"

# distinct sizes, so that a transposed or misplaced factor cannot fit by accident
X = sp.MatrixSymbol("X", 3, 3)
A = sp.MatrixSymbol("A", 3, 3)
B = sp.MatrixSymbol("B", 4, 3)
C = sp.MatrixSymbol("C", 3, 4)
x = sp.MatrixSymbol("x", 3, 1)
y = sp.MatrixSymbol("y", 4, 1)
c = sp.Symbol("c")
t = sp.Symbol("t")


def values(expr: sp.Basic, seed: int) -> dict:
    """Random values for every symbol of ``expr``; ``X`` is kept well inside the positive
    definite matrices (for ``log det``, ``inv``)."""
    rng = np.random.default_rng(seed)
    out: dict = {}
    for s in sorted(expr.atoms(sp.MatrixSymbol), key=lambda s: s.name):
        r, k = map(int, s.shape)
        v = rng.normal(size=(r, k))
        if s.name == "X":
            v = v @ v.T + r * np.eye(r)
        out[s] = v
    for s in sorted(expr.free_symbols, key=lambda s: s.name):
        if isinstance(s, sp.Symbol) and not isinstance(s, sp.Dummy):
            out[s] = float(rng.uniform(0.5, 1.5))
    return out


def evaluate(expr: sp.Basic, vals: dict) -> np.ndarray:
    """``expr`` at ``vals`` (:func:`sympy_numeric.evaluate`)."""
    return numeric(expr, vals.get)


def finite_difference(expr: sp.Basic, wrt: sp.Basic, vals: dict, h: float = 1e-6) -> np.ndarray:
    """Central differences of the scalar ``expr`` w.r.t. every entry of ``wrt``."""
    base = np.array(vals[wrt], dtype=float, ndmin=2)
    grad = np.zeros_like(base)
    for idx in np.ndindex(base.shape):
        step = np.zeros_like(base)
        step[idx] = h
        up, down = {**vals, wrt: base + step}, {**vals, wrt: base - step}
        grad[idx] = (evaluate(expr, up).item() - evaluate(expr, down).item()) / (2 * h)
    return grad


def agrees(answer: sp.Basic, expr: sp.Basic, wrt: sp.Basic, seed: int = 0) -> bool:
    vals = values(expr, seed)
    want = finite_difference(expr, wrt, vals)
    try:
        got = evaluate(answer, vals)
    except TypeError:
        return False
    return got.shape == want.shape and np.allclose(got, want, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- where SymPy is right

RIGHT_IN_SYMPY = [
    ((x.T * A * x), x),
    (sp.Trace(A * X), X),
    (sp.Trace(C * B * X), X),
    ((y.T * B * x), x),
    (sp.Trace(X * A * X.T), X),
    (c**2 * (x.T * x), c),
]


@pytest.mark.parametrize("expr, wrt", RIGHT_IN_SYMPY, ids=str)
def test_matcalc_agrees_with_sympy_where_sympy_is_right(expr, wrt):
    mine, theirs = matcalc.diff(expr, wrt), expr.diff(wrt)
    assert agrees(theirs, expr, wrt) and agrees(mine, expr, wrt)
    vals = values(expr, 1)
    assert np.allclose(evaluate(mine, vals), evaluate(theirs, vals))


# ---------------------------------------------------------------- where SymPy is wrong


def sympy_answer(expr, wrt):
    try:
        return expr.diff(wrt)
    except Exception as err:  # SymPy raising is one way of being wrong
        return err


WRONG_IN_SYMPY = [
    (sp.Trace(X) + 1, X),                                 # SymPy: 0
    (sp.log(sp.Determinant(X)), X),                       # SymPy: 0
    (sp.Trace(X.applyfunc(sp.sin)), X),                   # SymPy: an ArrayDiagonal, not a matrix
    ((sp.OneMatrix(1, 3) * x.applyfunc(sp.exp)), x),      # SymPy: a row where the gradient is a column
    (sp.Trace(A * X.applyfunc(sp.exp)) + sp.log(sp.Determinant(X)), X),
    (c * sp.Trace(A * X) + sp.Trace(X.T * X), X),         # SymPy: 0 (a sum of traces)
]  # fmt: skip


@pytest.mark.parametrize("expr, wrt", WRONG_IN_SYMPY, ids=str)
def test_matcalc_is_right_where_sympy_is_wrong(expr, wrt):
    theirs = sympy_answer(expr, wrt)
    assert isinstance(theirs, Exception) or not agrees(theirs, expr, wrt)
    assert agrees(matcalc.diff(expr, wrt), expr, wrt)


def test_sympy_gives_zero_for_trace_plus_one():
    assert str((sp.Trace(X) + 1).diff(X)) == "0"
    assert matcalc.diff(sp.Trace(X) + 1, X) == sp.Identity(3)


# ---------------------------------------------------------------- every node SymPy offers


ROUND_TRIPS = [
    (sp.Trace(sp.Inverse(X) * A), X),
    (sp.Determinant(X), X),
    (sp.Trace(sp.HadamardProduct(A, X) * A), X),
    (sp.Trace(sp.HadamardPower(X, 3) * A), X),
    ((x.T * sp.HadamardProduct(x, x.applyfunc(sp.tanh))), x),
    (sp.Trace(sp.MatPow(X, 2) * A), X),
    (sp.log(sp.Trace(X.T * X)) * c, c),
    ((sp.Transpose(B * x + y) * (B * x + y)), x),
    (sp.Trace(sp.Identity(3) * X + 2 * X.T * A), X),
    (sp.exp(sp.Trace(A * X) / 7), X),
    (sp.Trace(X.applyfunc(lambda e: e**3)), X),
    ((x.T * DiagonalOf(X * A)), X),
    (sp.Trace(A * DiagMatrix(x.applyfunc(sp.exp))), x),
    (sp.Trace(A * X.applyfunc(sp.Lambda(t, 1 / (1 + sp.exp(-t))))), X),
]


@pytest.mark.parametrize("expr, wrt", ROUND_TRIPS, ids=str)
def test_every_sympy_node_is_read_and_the_answer_is_right(expr, wrt):
    assert agrees(matcalc.diff(expr, wrt), expr, wrt, seed=2)


def test_diff_of_several_symbols_and_to_sympy_of_a_gradient():
    expr = c * sp.Trace(x.T * A * x) + sp.Trace(A * X)
    dx, dc, dX = matcalc.diff(expr, x, c, X)
    assert agrees(dx, expr, x) and agrees(dc, expr, c) and agrees(dX, expr, X)
    g = matcalc.grad(matcalc.from_sympy(expr), wrt="x,c")
    out = g.to_sympy([x, A, c])
    assert set(out) == {"x", "c"} and agrees(out["x"], expr, x)


def test_from_sympy_writes_a_typed_model():
    model = matcalc.from_sympy(c * (x.T * A * x))
    assert {v.name: v.shape for v in model.inputs} == {"c": (1, 1), "x": (3, 1), "A": (3, 3)}
    assert sympy_model_text(sp.Trace(X)) == "X: matrix(3, 3)\ntr(X)\n"


def test_to_sympy_of_a_text_model_matches_the_generated_code():
    """seed 000's gradients as SymPy, evaluated at concrete sizes, equal the NumPy module's."""
    g = matcalc.grad((MODELS / "seed000.mc").read_text(), wrt="W,b")
    out = g.to_sympy()
    sizes = {"n": 3, "m": 4, "p": 2}
    rng = np.random.default_rng(5)
    inputs = {v.name: rng.normal(size=tuple(dims.size(d, sizes) for d in v.shape)) for v in g.model.inputs}
    _, dW, db = g.to_function()(**{k: (v[:, 0] if v.shape[1] == 1 else v) for k, v in inputs.items()})
    at = {s: sizes[s.name] for e in out.values() for s in e.atoms(sp.Symbol) if s.name in sizes}
    vals = {}
    for e in out.values():
        for s in e.xreplace(at).atoms(sp.MatrixSymbol):
            vals[s] = inputs[s.name]
    assert np.allclose(evaluate(out["W"].xreplace(at), vals), dW)
    assert np.allclose(evaluate(out["b"].xreplace(at), vals).ravel(), db)


@pytest.mark.parametrize(
    "expr, message",
    [
        (sp.Trace(sp.MatrixSymbol("tr", 3, 3)), "cannot be a matcalc name"),
        (sp.Trace(sp.MatrixSymbol("a b", 3, 3)), "cannot be a matcalc name"),
        (sp.Trace(X) ** c, "must be a number"),
        (sp.Trace(X.applyfunc(sp.gamma)), "cannot apply the SymPy function"),
        (sp.Trace(sp.Adjoint(X)), "cannot read the SymPy expression"),
        ("x'*x", "needs a SymPy expression"),
    ],
)
def test_what_matcalc_cannot_read_is_a_matcalc_error(expr, message):
    with pytest.raises(matcalc.MatcalcError, match=message):
        matcalc.from_sympy(expr)


def test_a_non_scalar_sympy_expression_is_a_located_derivative_error():
    with pytest.raises(matcalc.DerivativeError, match="not a scalar"):
        matcalc.diff(A * x, x)


def test_symbolic_sizes_come_back_as_the_users_own_symbols():
    n, m = sp.symbols("n m", integer=True, positive=True)
    Xs, As, Bs = sp.MatrixSymbol("X", n, m), sp.MatrixSymbol("A", m, n), sp.MatrixSymbol("B", n, n)
    assert matcalc.diff(sp.Trace(As * Xs), Xs) == As.T
    dX = matcalc.diff(sp.Trace(Xs.T * Bs * Xs), Xs)
    assert dX.shape == (n, m) and dX.free_symbols == {Xs, Bs}
    assert dX == (Bs + Bs.T) * Xs


# ---------------------------------------------------------------- the registry both ways

#: Arguments in each entry-wise function's domain, away from kinks at 0.
DRAWS = {
    "any": np.array([[-1.2, 0.35, 0.8], [0.5, -0.7, 1.4], [-0.3, 0.9, -1.6]]),
    "positive": np.array([[0.4, 1.1, 2.5], [0.7, 1.9, 0.3], [1.3, 0.6, 2.2]]),
    "small": np.array([[-0.4, 0.1, 0.3], [0.2, -0.25, 0.35], [-0.15, 0.45, -0.3]]),
}


@pytest.mark.parametrize("op", entrywise_ops(), ids=lambda op: op.name)
def test_every_entrywise_function_of_the_registry_goes_to_sympy_and_back(op):
    """Out: ``to_sympy`` writes the registry entry's SymPy form, equal to its NumPy evaluation.
    In: SymPy's function applied entry-wise is read back as that entry, and its gradient agrees
    with central differences. An entry without a SymPy form fails here."""
    assert op.sympy is not None, f"{op.name} has no SymPy form in the registry"
    model = matcalc.parse(f"Z: matrix(3, 3); f = sum({op.name}(Z))")
    (_, body), = model.definitions
    applied = to_sympy(body.args[0], model)  # the function applied: sum(f(Z)) -> f(Z)
    assert isinstance(applied, ElementwiseApplyFunction)
    Z = sp.MatrixSymbol("Z", 3, 3)
    v = DRAWS[op.domain.draw]
    got = np.array(applied.xreplace({Z: sp.ImmutableMatrix(v)}).doit().evalf(), dtype=float)
    assert np.allclose(got, op.numeric(v), rtol=1e-12, atol=1e-12)

    n = sp.Symbol("n", integer=True, positive=True)
    symbolic = sp.Trace(sp.MatrixSymbol("Z", n, n).applyfunc(applied.function))
    assert f"tr({op.name}(Z))" in sympy_model_text(symbolic)
    expr = sp.Trace(A * Z.applyfunc(applied.function))
    vals = {**values(expr, 0), Z: v}
    want = finite_difference(expr, Z, vals)
    assert np.allclose(evaluate(matcalc.diff(expr, Z), vals), want, rtol=1e-5, atol=1e-6)


#: Structural functions SymPy has no matrix expression for.
NO_SYMPY_FORM = {"vec"}  # SymPy's matrix expressions have no vec (only explicit reshapes)


@pytest.mark.parametrize("op", [op for op in call_ops() if not op.internal], ids=lambda op: op.name)
def test_every_structural_function_of_the_registry_has_a_sympy_matrix_form(op):
    """The entry's ``sympy_matrix`` form, made explicit, equals its NumPy evaluation; where it is
    one SymPy class (``Trace``), SymPy's class is read back as the entry."""
    if op.name in NO_SYMPY_FORM:
        assert op.sympy_matrix is None
        return
    assert op.sympy_matrix is not None, f"{op.name} has no SymPy matrix-expression form"
    rng = np.random.default_rng(3)
    shapes = {"square": (3, 3), "vector": (3, 1), "any": (3, 2)}
    args = [rng.normal(size=shapes[need]) for need in op.needs[: op.arity]]
    if op.domain.draw == "spd":
        args[0] = args[0] @ args[0].T + 3 * np.eye(3)
    symbols = [sp.MatrixSymbol(f"P{i}", *a.shape) for i, a in enumerate(args)]
    written = op.sympy_matrix(sp, *symbols)
    explicit = sp.Matrix(written.as_explicit() if isinstance(written, sp.MatrixExpr) else [[written]])
    explicit = explicit.subs({s: sp.ImmutableMatrix(a) for s, a in zip(symbols, args)}).doit()
    want = np.broadcast_to(op.numeric(*args), explicit.shape)
    assert np.allclose(np.array(explicit.evalf(), dtype=float), want, rtol=1e-10, atol=1e-12)
    if type(written) in tables().calls:
        if isinstance(written, sp.MatrixExpr):  # summed to a scalar: from_sympy reads scalars
            r, k = written.shape
            written = sp.Trace(sp.OneMatrix(1, r) * written * sp.OneMatrix(k, 1))
        assert f"{op.name}(" in sympy_model_text(written)


def test_a_new_registry_entry_reaches_sympy_both_ways_without_touching_the_interop():
    """sympy_interop holds no table of its own: an entry registered now is read and written."""
    from fractions import Fraction

    from matcalc import build as b
    from matcalc.ops.registry import ALIASES, OPS, Op, register

    before = (dict(OPS), dict(ALIASES))
    register(Op(
        "cosh", "entrywise", sympy=lambda sp, u: sp.cosh(u), numeric=np.cosh,
        derivative=lambda x, y: b.scale(Fraction(1, 2), b.sub(b.apply("exp", x), b.apply("exp", b.neg(x)))),
        latex=r"\cosh{prime}\left({x}\right)", code={"numpy": "{np}.cosh({x})"},
    ))
    try:
        expr = sp.Trace(A * X.applyfunc(sp.cosh))
        assert sympy_model_text(expr) == "A: matrix(3, 3)\nX: matrix(3, 3)\ntr((A*cosh(X)))\n"
        assert agrees(matcalc.diff(expr, X), expr, X)
        g = matcalc.grad("X: matrix(3, 3); f = sum(cosh(X))", wrt="X")
        assert g.to_sympy()["X"].has(sp.exp)
    finally:
        OPS.clear(), OPS.update(before[0]), ALIASES.clear(), ALIASES.update(before[1])
        from matcalc.ops.registry import _NAMES

        _NAMES.clear()
    assert "cosh" not in tables().out


def test_a_function_defined_by_formula_goes_out_as_its_formula():
    g = matcalc.grad("gelu(u) = u * sigmoid(1.702*u); x: vector(3); f = sum(gelu(x))", wrt="x")
    out = g.to_sympy()["x"]
    assert not out.atoms(sp.Derivative) and not any(f.func.__name__ == "gelu" for f in out.atoms(sp.Function))
    xs = sp.MatrixSymbol("x", 3, 1)
    v = np.array([[-1.5], [0.2], [2.0]])
    got = np.array(out.xreplace({xs: sp.ImmutableMatrix(v)}).doit().evalf(), dtype=float)

    def gelu(u):
        return u / (1 + np.exp(-1.702 * u))

    assert np.allclose(got, (gelu(v + 1e-6) - gelu(v - 1e-6)) / 2e-6, rtol=1e-6)
