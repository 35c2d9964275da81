"""Parsing and shape inference: every example of LANGUAGE.md, the seed models,
the conventions for undeclared names, and large or deeply nested input."""

from __future__ import annotations

import time
from fractions import Fraction
from pathlib import Path

import pytest

import matcalc
from matcalc import build as b
from matcalc import dims
from matcalc.errors import DimensionError
from matcalc.expr import Apply, Call, EProd, Eye, Frob, Mul, Num, Ones, Transpose, Var
from matcalc.infer import conventional_kind

MODELS = Path(__file__).parent / "models"


def spelt(shape: tuple) -> tuple:
    """A shape as written: numbers, and symbolic sizes as text (``("m*n", 1)``)."""
    return tuple(dims.shape_json(shape))


def shapes(model: matcalc.Model) -> dict[str, tuple]:
    """Every input and definition of ``model`` with its shape, as written."""
    out = {v.name: spelt(v.shape) for v in model.inputs}
    out.update({v.name: spelt(v.shape) for v, _ in model.definitions})
    return out


def rhs(model: matcalc.Model, name: str | None = None):
    """The expression defining ``name`` (default: the output)."""
    name = name or model.output.name
    found = model.definition(name)
    assert found is not None, name
    return found[1]


def var(model: matcalc.Model, name: str) -> Var:
    v = model.lookup(name)
    assert v is not None, name
    return v


# ---------------------------------------------------------------- seed models


SEEDS = {
    "seed000": {
        "x": ("n", 1), "b": ("m", 1), "W": ("m", "n"), "M": ("p", "m"), "c": ("p", 1),
        "y": ("p", 1), "s": ("m", 1), "a": ("m", 1), "t": ("p", 1), "f": (1, 1),
    },
    "seed001": {"A": ("K", "K"), "x": ("K", 1), "w": ("K", 1), "L": (1, 1)},
    "seed002": {
        "A": (1, "l"), "B": ("l", "m"), "V": ("m", "k"), "W": ("k", "d"), "z": ("d", 1),
        "x": ("k", 1), "r": ("k", 1), "y": ("l", 1), "f": (1, 1),
    },
    "seed003": {
        "I": ("N", "E_max"), "D": ("N", "E_max"), "alpha": (1, 1), "beta": (1, 1), "y": (1, 1),
        "X": ("N", "E_max"), "F": ("N", "E_max"), "p": ("N", 1), "s": (1, 1), "L": (1, 1),
    },
    "seed004": {"X": ("t", "n"), "V": ("n", "m"), "Phi": ("t", "m"), "L": (1, 1)},
    "seed004_abstract": {"X": ("t", "n"), "V": ("n", "m"), "Phi": ("t", "m"), "L": (1, 1)},
}  # fmt: skip

OUTPUTS = {"seed000": "f", "seed001": "L", "seed002": "f", "seed003": "L", "seed004": "L",
           "seed004_abstract": "L"}  # fmt: skip


@pytest.mark.parametrize("seed", sorted(SEEDS))
def test_seed_models(seed):
    model = matcalc.parse((MODELS / f"{seed}.mc").read_text(encoding="utf-8"))
    assert shapes(model) == SEEDS[seed]
    assert model.output.name == OUTPUTS[seed]
    assert model.output.role == "def"
    assert all(v.role == "input" for v in model.inputs)


def test_every_seed_file_is_covered():
    assert {p.stem for p in MODELS.glob("*.mc")} == set(SEEDS)


def test_seed000_structure():
    model = matcalc.parse((MODELS / "seed000.mc").read_text())
    assert [v.name for v in model.inputs] == ["x", "b", "W", "M", "c", "y"]
    assert [v.name for v, _ in model.definitions] == ["s", "a", "t", "f"]
    assert model.dims == ("n", "m", "p")
    s, W, x, bb = var(model, "s"), var(model, "W"), var(model, "x"), var(model, "b")
    assert rhs(model, "s") == b.add(b.mul(W, x), bb)
    assert rhs(model, "a") == b.apply("relu", s)
    t, y = var(model, "t"), var(model, "y")
    assert rhs(model) == b.mul(b.num(Fraction(1, 2)), b.call("sum", b.power(b.sub(t, y), 2)))


def test_seed003_row_product_and_scalars():
    model = matcalc.parse((MODELS / "seed003.mc").read_text())
    assert [v.name for v in model.inputs] == ["I", "D", "alpha", "beta", "y"]
    F = var(model, "F")
    ones_matrix = Ones((dims.symbol("N"), dims.symbol("E_max")))
    expected = b.apply("exp", b.mul(b.apply("log", b.sub(ones_matrix, F)), Ones((dims.symbol("E_max"), 1))))
    assert rhs(model, "p") == expected
    assert rhs(model, "F") == b.apply("sigmoid", var(model, "X"))  # sigm is sigmoid


def test_seed004_abstract_elementwise():
    model = matcalc.parse((MODELS / "seed004_abstract.mc").read_text())
    assert model.elementwise == ("f",)
    assert [v.name for v in model.inputs] == ["X", "V"]
    assert rhs(model, "Phi") == b.apply("f", b.mul(var(model, "X"), var(model, "V")))
    assert rhs(model) == b.power(b.call("norm2", b.mul(Ones((1, dims.symbol("t"))), var(model, "Phi"))), 2)


# ---------------------------------------------------------------- declarations


def test_declaration_kinds():
    model = matcalc.parse(
        "a: scalar\nx: vector(n)\nA: matrix(m, n)\nS: symmetric(n)\ng: elementwise\n"
        "r: matrix(1, 3)\nE: matrix(E_max, 2)\nf = a*x'*S*x + sum(g(A*x)) + r*ones + sum(E)"
    )
    assert shapes(model) == {
        "a": (1, 1), "x": ("n", 1), "A": ("m", "n"), "S": ("n", "n"), "r": (1, 3),
        "E": ("E_max", 2), "f": (1, 1),
    }  # fmt: skip
    assert var(model, "S").symmetric and not var(model, "A").symmetric
    assert model.elementwise == ("g",)
    assert model.dims == ("n", "m", "E_max")


def test_declaration_lists_and_separators():
    model = matcalc.parse("x, y, z: vector(n); alpha, beta: scalar\nf = alpha*x'*y + beta*z'*z")
    assert shapes(model) == {
        "x": ("n", 1), "y": ("n", 1), "z": ("n", 1), "alpha": (1, 1), "beta": (1, 1), "f": (1, 1)
    }


def test_declarations_win_over_convention_wherever_they_are():
    model = matcalc.parse("f = A'*x + alpha\nA: vector(n)\nx: vector(n)\nalpha: vector(1)")
    # A would be a matrix and alpha a scalar by convention
    assert shapes(model) == {"A": ("n", 1), "x": ("n", 1), "alpha": (1, 1), "f": (1, 1)}
    model = matcalc.parse("x: matrix(m, n)\nalpha: vector(m)\nf = alpha'*x")
    assert shapes(model)["f"] == (1, "n")


def test_same_declaration_twice_is_allowed():
    model = matcalc.parse("x: vector(n)\nx: vector(n)\nf = x'*x")
    assert shapes(model)["x"] == ("n", 1)


def test_integer_dimensions():
    model = matcalc.parse("x: vector(3)\nA: matrix(2, 3)\nf = A*x")
    assert shapes(model) == {"x": (3, 1), "A": (2, 3), "f": (2, 1)}
    assert model.dims == ()


def test_dimension_symbols_and_names_are_separate_namespaces():
    model = matcalc.parse("N: matrix(N, N)\nn: vector(N)\nf = n'*N*n")
    assert shapes(model) == {"N": ("N", "N"), "n": ("N", 1), "f": (1, 1)}


# ---------------------------------------------------------------- conventions


@pytest.mark.parametrize(
    "name, kind",
    [
        ("A", "matrix"), ("W2", "matrix"), ("Phi", "matrix"), ("Φ", "matrix"), ("E_max", "matrix"),
        ("alpha", "scalar"), ("lambda", "scalar"), ("sigma", "scalar"), ("omega", "scalar"),
        ("α", "scalar"), ("λ", "scalar"), ("mu0", "scalar"), ("eta_1", "scalar"),
        ("x", "vector"), ("y2", "vector"), ("eta2x", "vector"), ("alphas", "vector"),
        ("theta_hat", "scalar"), ("_x", "vector"), ("w_in", "vector"),
    ],
)  # fmt: skip
def test_conventional_kind(name, kind):
    assert conventional_kind(name) == kind


def test_undeclared_names_get_kinds_by_convention():
    model = matcalc.parse("f = alpha*x'*A*y + λ*sum(Φ)")
    assert shapes(model) == {
        "alpha": (1, 1), "x": ("k1", 1), "A": ("k1", "k2"), "y": ("k2", 1), "λ": (1, 1),
        "Φ": ("k3", "k4"), "f": (1, 1),
    }  # fmt: skip


def test_unification_reaches_every_use():
    # W*x forces cols(W) = rows(x); the sum forces rows(W*x) = rows(b)
    model = matcalc.parse("s = W*x + b\nf = sum(relu(s)) + x'*V*x")
    sh = shapes(model)
    assert sh["W"] == ("k1", "k2") and sh["x"] == ("k2", 1) and sh["b"] == ("k1", 1)
    assert sh["V"] == ("k2", "k2")


def test_unification_with_declared_sizes_later_in_file():
    model = matcalc.parse("y = A*x\nf = y'*y\nx: vector(n)")
    assert shapes(model) == {"x": ("n", 1), "A": ("k1", "n"), "y": ("k1", 1), "f": (1, 1)}


def test_fresh_dimensions_do_not_clash_with_user_dimensions():
    model = matcalc.parse("x: vector(k1)\nB: matrix(k2, k2)\nf = x'*A*x + y'*B*y + z'*z")
    sh = shapes(model)
    assert sh["A"] == ("k1", "k1")
    assert sh["z"] == ("k3", 1)
    assert model.dims == ("k1", "k2", "k3")


def test_inputs_order_declared_first_then_first_use():
    model = matcalc.parse("q = B*z\nf = sum(q) + c'*x\nx: vector(n)\nc: vector(n)")
    assert [v.name for v in model.inputs] == ["x", "c", "B", "z"]


def test_row_vectors():
    model = matcalc.parse("r: matrix(1, l)\nx: vector(l)\nf = r*x")
    assert shapes(model) == {"r": (1, "l"), "x": ("l", 1), "f": (1, 1)}
    model = matcalc.parse("f = sum((1 - y)')")
    assert shapes(model)["y"] == ("k1", 1)


# ---------------------------------------------------------------- the expression table


def model_with(expr: str, decl: str = "") -> matcalc.Model:
    return matcalc.parse(decl + "\nf = " + expr)


DECL = (
    "A, B: matrix(m, n)\nX, Y: matrix(n, n)\nC: matrix(n, p)\nx, y, z: vector(n)\n"
    "u: vector(m)\nalpha, k: scalar\n"
)


@pytest.mark.parametrize(
    "expr, shape",
    [
        ("A*C", ("m", "p")),
        ("A @ C", ("m", "p")),
        ("alpha*A", ("m", "n")),
        ("A*alpha", ("m", "n")),
        ("2*A", ("m", "n")),
        ("A .* B", ("m", "n")),
        ("A ∘ B", ("m", "n")),
        ("A ⊙ B", ("m", "n")),
        ("A ./ B", ("m", "n")),
        ("A / alpha", ("m", "n")),
        ("A ./ alpha", ("m", "n")),
        ("alpha ./ A", ("m", "n")),
        ("A .^ 2", ("m", "n")),
        ("A .^ -1", ("m", "n")),
        ("A .^ (1/2)", ("m", "n")),
        ("A .^ 0.5", ("m", "n")),
        ("alpha ^ 3", (1, 1)),
        ("X ^ 2", ("n", "n")),
        ("X ^ -1", ("n", "n")),
        ("A'", ("n", "m")),
        ("A^T", ("n", "m")),
        ("A.T", ("n", "m")),
        ("Aᵀ", ("n", "m")),
        ("softmax(x)'", (1, "n")),
        ("(1 - y)'", (1, "n")),
        ("A : B", (1, 1)),
        ("A + B - A", ("m", "n")),
        ("-A", ("m", "n")),
        ("(A + B)", ("m", "n")),
        ("y'*z", (1, 1)),
        ("(y'*z)*A", ("m", "n")),
        ("A*(y'*z)", ("m", "n")),
        ("A/(y'*z)", ("m", "n")),
        ("(y'*z) + A", ("m", "n")),
        ("1 - A", ("m", "n")),
        ("A - 1", ("m", "n")),
        ("2", (1, 1)),
        ("0.5", (1, 1)),
        ("1/2", (1, 1)),
        ("1e-3", (1, 1)),
        (".5", (1, 1)),
        ("ones'*A", (1, "n")),
        ("ones(n)", ("n", 1)),
        ("ones(m, n)", ("m", "n")),
        ("ones + u", ("m", 1)),
        ("eye*X", ("n", "n")),
        ("eye(n)", ("n", "n")),
        ("vector(1) + x", ("n", 1)),
        ("matrix(alpha) + A", ("m", "n")),
        ("u'*A*x", (1, 1)),
    ],
)
def test_expression_table_shapes(expr, shape):
    assert spelt(model_with(expr, DECL).output.shape) == shape


@pytest.mark.parametrize(
    "expr, shape",
    [
        ("exp(A)", ("m", "n")), ("log(A)", ("m", "n")), ("sin(A)", ("m", "n")),
        ("cos(A)", ("m", "n")), ("tan(A)", ("m", "n")), ("arcsin(A)", ("m", "n")),
        ("arccos(A)", ("m", "n")), ("arctan(A)", ("m", "n")), ("tanh(A)", ("m", "n")),
        ("sigmoid(A)", ("m", "n")), ("sigm(A)", ("m", "n")), ("relu(A)", ("m", "n")),
        ("step(A)", ("m", "n")), ("sq(A)", ("m", "n")), ("sqrt(A)", ("m", "n")),
        ("abs(A)", ("m", "n")), ("sign(A)", ("m", "n")), ("softplus(A)", ("m", "n")),
        ("log1p(A)", ("m", "n")), ("g(A)", ("m", "n")),
        ("sum(A)", (1, 1)), ("tr(X)", (1, 1)), ("diag(X)", ("n", 1)), ("Diag(x)", ("n", "n")),
        ("vec(A)", ("m*n", 1)), ("inv(X)", ("n", "n")), ("det(X)", (1, 1)),
        ("logdet(X)", (1, 1)), ("norm2(x)", (1, 1)), ("norm2(A)", (1, 1)),
        ("normF(A)", (1, 1)), ("norm1(x)", (1, 1)), ("softmax(x)", ("n", 1)),
        ("logsumexp(x)", (1, 1)), ("norm2(x)^2", (1, 1)),
    ],
)  # fmt: skip
def test_function_shapes(expr, shape):
    assert spelt(model_with(expr, DECL + "g: elementwise\n").output.shape) == shape


def test_entrywise_functions_are_applies():
    model = model_with("sigm(x) + g(x)", "x: vector(n); g: elementwise")
    x = var(model, "x")
    assert rhs(model) == b.add(Apply("sigmoid", x), Apply("g", x))


def test_structural_functions_are_calls():
    model = model_with("tr(X) + logdet(X)", "X: matrix(n, n)")
    X = var(model, "X")
    assert rhs(model) == b.add(Call("tr", (X,), (1, 1)), Call("logdet", (X,), (1, 1)))


def test_transpose_spellings_agree():
    texts = ["A'", "A^T", "A.T", "Aᵀ", "(A)'"]
    exprs = {rhs(model_with(t, "A: matrix(m, n)")) for t in texts}
    assert len(exprs) == 1
    (e,) = exprs
    assert isinstance(e, Transpose)


def test_transpose_applies_to_calls_and_parentheses():
    model = model_with("softmax(x)'*y + (1 - y)'*x", "x, y: vector(n)")
    assert model.output.shape == (1, 1)
    x, y = var(model, "x"), var(model, "y")
    one_minus_y = b.sub(Ones((dims.symbol("n"), 1)), y)
    expected = b.add(
        b.mul(b.transpose(b.call("softmax", x)), y), b.mul(b.transpose(one_minus_y), x)
    )
    assert rhs(model) == expected


def test_a_T_is_never_a_power():
    # T as a variable or dimension does not matter: ^T is the transpose
    model = model_with("A^T", "A: matrix(m, n)\nT: scalar")
    assert rhs(model) == b.transpose(var(model, "A"))


def test_precedence_unary_minus_below_power():
    model = model_with("-alpha^2", "alpha: scalar")
    assert rhs(model) == b.neg(b.power(var(model, "alpha"), 2))
    model = model_with("(-alpha)^2", "alpha: scalar")
    assert rhs(model) == b.power(b.neg(var(model, "alpha")), 2)


def test_precedence_half_times_x():
    model = model_with("1/2*x", "x: vector(n)")
    e = rhs(model)
    assert isinstance(e, Mul) and e.coef == Fraction(1, 2) and e.chain == (var(model, "x"),)


def test_precedence_frobenius_lowest():
    model = model_with("A : B + A*2", "A, B: matrix(m, n)")
    A, B = var(model, "A"), var(model, "B")
    assert rhs(model) == b.frob(A, b.add(B, b.mul(b.num(2), A)))
    assert isinstance(rhs(model), Frob)


def test_power_is_right_associative_and_exponent_signed():
    assert rhs(model_with("2^3^2")) == Num(Fraction(512))
    assert rhs(model_with("-2^2")) == Num(Fraction(-4))
    assert rhs(model_with("2^-1")) == Num(Fraction(1, 2))


def test_products_are_left_associative_in_one_level():
    model = model_with("A*x .* y", "A: matrix(n, n); x, y: vector(n)")
    A, x, y = var(model, "A"), var(model, "x"), var(model, "y")
    assert rhs(model) == b.eprod(b.mul(A, x), y)
    model = model_with("x .* y / alpha", "x, y: vector(n); alpha: scalar")
    x, y, alpha = var(model, "x"), var(model, "y"), var(model, "alpha")
    assert rhs(model) == b.div(b.eprod(x, y), alpha)


def test_matrix_powers():
    model = model_with("X^3", "X: matrix(n, n)")
    X = var(model, "X")
    assert rhs(model) == b.mul(X, X, X)
    model = model_with("X^-2", "X: matrix(n, n)")
    inv = b.call("inv", var(model, "X"))
    assert rhs(model) == b.mul(inv, inv)
    model = model_with("X^0", "X: matrix(n, n)")
    assert rhs(model) == Eye((dims.symbol("n"), dims.symbol("n")))


def test_entrywise_power_and_division():
    model = model_with("x.^-1 + 2 ./ x", "x: vector(n)")
    x = var(model, "x")
    assert rhs(model) == b.add(b.power(x, -1), b.mul(b.num(2), b.power(x, -1)))
    model = model_with("x ./ y", "x, y: vector(n)")
    assert rhs(model) == b.div(var(model, "x"), var(model, "y"))
    assert isinstance(rhs(model), EProd)


def test_scalar_combines_with_anything():
    model = model_with("1 - F", "F: matrix(m, n)")
    assert rhs(model) == b.sub(Ones((dims.symbol("m"), dims.symbol("n"))), var(model, "F"))
    model = model_with("y'*z + x", "x, y, z: vector(n)")
    x, y, z = var(model, "x"), var(model, "y"), var(model, "z")
    assert rhs(model) == b.add(b.mul(b.mul(b.transpose(y), z), Ones((dims.symbol("n"), 1))), x)


def test_numbers_are_exact():
    for text, value in [("2", 2), ("0.5", Fraction(1, 2)), ("1e-3", Fraction(1, 1000)),
                        (".5", Fraction(1, 2)), ("1/2", Fraction(1, 2)), ("2.5e2", 250)]:  # fmt: skip
        assert rhs(model_with(text)) == Num(Fraction(value))


def test_ones_eye_and_fills():
    model = model_with("ones'*X", "X: matrix(m, n)")
    assert rhs(model) == b.mul(Ones((1, dims.symbol("m"))), var(model, "X"))
    model = model_with("eye + X", "X: matrix(n, n)")
    assert rhs(model) == b.add(Eye((dims.symbol("n"), dims.symbol("n"))), var(model, "X"))
    model = model_with("x .* vector(1)", "x: vector(n)")
    assert rhs(model) == var(model, "x")
    with pytest.raises(DimensionError) as err:  # a size no input fixes
        model_with("vector(1)", "x: vector(n)\ny = x")
    assert (err.value.line, err.value.column) == (3, 5) and "fixes the size of vector(1)" in str(err.value)
    model = model_with("x + vector(2)", "x: vector(n)")
    x = var(model, "x")
    assert rhs(model) == b.add(x, b.mul(b.num(2), Ones((dims.symbol("n"), 1))))
    model = model_with("A + matrix(alpha)", "A: matrix(m, n); alpha: scalar")
    m, n = dims.symbol("m"), dims.symbol("n")
    assert rhs(model) == b.add(var(model, "A"), b.mul(var(model, "alpha"), Ones((m, n))))
    model = model_with("ones(2, 3) + (eye(3)*ones(3, 3)*ones(3, 2))'")
    assert rhs(model).shape == (2, 3)


def test_symmetric_input():
    model = model_with("x'*S*x", "S: symmetric(n); x: vector(n)")
    S = var(model, "S")
    assert S.symmetric and spelt(S.shape) == ("n", "n")
    assert b.transpose(S) == S


# ---------------------------------------------------------------- matrixcalculus.org


@pytest.mark.parametrize(
    "decl, expr, shape",
    [
        ("x, y: vector(n); A: matrix(n, n); c: scalar", "x'*A*x + c*sin(y)'*x", (1, 1)),
        ("y: vector(m); w: vector(n); X: matrix(m, n)", "sum(log(exp(-y.*(X*w)) + vector(1)))", (1, 1)),
        ("x: vector(n); y: vector(m); A: matrix(m, n)", "norm2(A*x-y)^2", (1, 1)),
    ],
)
def test_matrixcalculus_org_expressions(decl, expr, shape):
    model = model_with(expr, decl)
    assert spelt(model.output.shape) == shape


def test_matrixcalculus_org_logistic_loss_needs_matching_w():
    model = model_with("sum(log(exp(-y.*(X*w)) + vector(1)))", "y: vector(m); X: matrix(m, n)")
    assert shapes(model)["w"] == ("n", 1)


# ---------------------------------------------------------------- definitions and output


def test_definitions_are_vars_in_later_expressions():
    model = matcalc.parse("x: vector(n)\ns = 2*x\nf = s'*s")
    s = var(model, "s")
    assert s.role == "def" and spelt(s.shape) == ("n", 1)
    assert rhs(model) == b.mul(b.transpose(s), s)
    assert model.lookup("x").role == "input"


def test_final_bare_expression_becomes_f():
    model = matcalc.parse("x: vector(n)\nx'*x")
    assert model.output.name == "f" and model.output.shape == (1, 1)
    assert [v.name for v, _ in model.definitions] == ["f"]


def test_final_bare_expression_avoids_taken_names():
    model = matcalc.parse("f: vector(n)\nf_ = 2*f\nf_'*f")
    assert model.output.name == "f__"
    model = matcalc.parse("f: elementwise\nx: vector(n)\nsum(f(x))")
    assert model.output.name == "f_"


def test_output_is_last_definition():
    model = matcalc.parse("a = x'*x\nb = a*2\nx: vector(n)")
    assert model.output.name == "b"


def test_declaration_after_last_bare_expression_is_fine():
    model = matcalc.parse("x'*A*x\nA: matrix(n, n)")
    assert shapes(model) == {"A": ("n", "n"), "x": ("n", 1), "f": (1, 1)}


def test_lambda_is_a_scalar_name():
    model = matcalc.parse("f = lambda*norm2(w)^2 + sum(w)")
    assert shapes(model)["lambda"] == (1, 1)


def test_source_is_kept():
    text = "x: vector(n)\nf = x'*x\n"
    assert matcalc.parse(text).source == text


# ---------------------------------------------------------------- layout


def test_comments_blank_lines_and_semicolons():
    model = matcalc.parse("# a model\n\n x: vector(n)  # the input\n;;\n f = x'*x ; \n# end\n")
    assert shapes(model) == {"x": ("n", 1), "f": (1, 1)}


def test_newlines_inside_parentheses_are_ignored():
    model = matcalc.parse("x: vector(n)\nf = sum(\n  exp(x)\n  + 1   # comment\n) * (\n2)")
    assert model.output.shape == (1, 1)


def test_backslash_continues_a_line():
    model = matcalc.parse("x: vector(n)\nf = x'*x + \\\n    1")
    assert model.output.shape == (1, 1)


def test_crlf_line_endings():
    model = matcalc.parse("x: vector(n)\r\nf = x'*x\r\n")
    assert model.output.shape == (1, 1)


def test_unicode_names_and_operators():
    model = matcalc.parse("Φ: matrix(t, m)\nα: scalar\nv: vector(m)\nf = α * sum((Φ*v) ∘ (Φ*v) ⊙ 2)")
    assert shapes(model)["Φ"] == ("t", "m") and model.output.shape == (1, 1)


# ---------------------------------------------------------------- size and depth


def _timed(text: str) -> tuple[float, object]:
    start = time.perf_counter()
    try:
        result = matcalc.parse(text)
    except matcalc.MatcalcError as err:
        result = err
    return time.perf_counter() - start, result


@pytest.mark.parametrize(
    "text",
    [
        "f = " + "(" * 1000 + "x" + ")" * 1000,
        "f = " + "exp(" * 1000 + "x" + ")" * 1000,
        "f = " + "-" * 1000 + "x",
        "f = " + "(" * 1000 + "x" + ")'" * 1000,
        "f = " + "(x + " * 1000 + "y" + ")" * 1000,
        "f = " + " + ".join(f"x{i}'*y" for i in range(3000)),
    ],
    ids=["parens", "calls", "minus", "transposes", "right-nested-sum", "long-sum"],
)
def test_deep_and_long_expressions(text):
    seconds, result = _timed(text)
    assert seconds < 30
    assert isinstance(result, matcalc.Model)


def test_unclosed_deep_parentheses_error_quickly():
    seconds, result = _timed("f = " + "(" * 1000 + "x")
    assert seconds < 30
    assert isinstance(result, matcalc.MatcalcSyntaxError)


def test_long_model():
    lines = ["x: vector(n)", "W: matrix(n, n)", "b: vector(n)", "s0 = W*x"]
    lines += [
        f"s{i} = tanh(W*s{i - 1} + b) .* exp(-alpha*s{i - 1}) + 1/2*(s{i - 1} - b)"
        for i in range(1, 3000)
    ]
    lines.append("f = sum(s2999)")
    seconds, result = _timed("\n".join(lines))
    assert seconds < 60
    assert isinstance(result, matcalc.Model)
    assert len(result.definitions) == 3001 and result.output.shape == (1, 1)


def test_input_is_read_in_nfc():
    """e + U+0301 (combining acute) is the letter é; columns count characters of the NFC text."""
    decomposed = "e\u0301: vector(n); f = sum(exp(e\u0301))"
    model = matcalc.parse(decomposed)
    assert [v.name for v in model.inputs] == ["\u00e9"]
    assert model.source == "\u00e9: vector(n); f = sum(exp(\u00e9))"
    with pytest.raises(matcalc.MatcalcError) as info:
        matcalc.parse("e\u0301e\u0301 = )")  # "éé = )": the ')' is the 6th character
    assert (info.value.line, info.value.column) == (1, 6), str(info.value)
    assert str(info.value).splitlines()[1:] == ["  \u00e9\u00e9 = )", "       ^"]


def test_a_long_product_chain_is_built_once_as_one_chain():
    """``x'*A*B*A*B*…*x`` is collected and multiplied once (not re-copied at every ``*``):
    one product of all its factors, and a 1×1 product inside still scales as a whole."""
    from matcalc.expr import Mul

    n = 2000
    chain = "*".join(["A", "B"] * (n // 2))
    model = matcalc.parse(f"A, B: matrix(n, n); x: vector(n); f = x'*{chain}*x")
    rhs = model.definitions[-1][1]
    assert isinstance(rhs, Mul) and len(rhs.chain) == n + 2
    scaled = matcalc.parse("A: matrix(m, n); y, z: vector(k); f = sum((y'*z)*A*A')").definitions[-1][1]
    assert scaled.shape == (1, 1)
