"""Bad input: every mistake is one MatcalcError subclass, at the right line and
column, with a message naming what went wrong (and both shapes for shape errors)."""

from __future__ import annotations

import pytest

import matcalc
from matcalc import (
    ArityError,
    DefinitionError,
    DimensionError,
    MatcalcError,
    MatcalcSyntaxError,
    NumberError,
    ShapeError,
    UnknownNameError,
)

# (model text, error class, line, column, words the message must contain)
BAD = [
    # ------------------------------------------------ syntax
    ("x = (1 +", MatcalcSyntaxError, 1, 9, ["end of input", "a name, a number, '('"]),
    ("x = 1 +\ny", MatcalcSyntaxError, 1, 8, ["end of line", "a name"]),
    ("f = x $ y", MatcalcSyntaxError, 1, 7, ["character '$'", "an operator"]),
    ("x = 2 3", MatcalcSyntaxError, 1, 7, ["unexpected number 3", "an operator"]),
    ("f = )", MatcalcSyntaxError, 1, 5, ["unexpected ')'", "a name, a number"]),
    ("= 3", MatcalcSyntaxError, 1, 1, ["unexpected '='", "a name"]),
    ("f = g(x,)", MatcalcSyntaxError, 1, 9, ["unexpected ')'", "a number"]),
    ("f = x ** 2", MatcalcSyntaxError, 1, 8, ["unexpected '*'", "a name"]),
    ("f = 1.2.3", MatcalcSyntaxError, 1, 8, ["unexpected number .3"]),
    ("f = x y", MatcalcSyntaxError, 1, 7, ["unexpected name 'y'", "an operator"]),
    ("f = ((x + y)\n", MatcalcSyntaxError, 1, 13, ["end of input", "')'"]),
    ("x, y", MatcalcSyntaxError, 1, 2, ["','", "declaration"]),
    ("x, 2: vector(n)\nf = x", MatcalcSyntaxError, 1, 4, ["only names can be declared"]),
    ("x: vector(2.5)\nf = x", MatcalcSyntaxError, 1, 11, ["size", "positive integer"]),
    ("x: vector(0)\nf = x", MatcalcSyntaxError, 1, 11, ["size", "positive integer"]),
    ("x: vector(n+1)\nf = x", MatcalcSyntaxError, 1, 11, ["dimension symbol"]),
    ("x: vector\nf = x", MatcalcSyntaxError, 1, 4, ["needs its size", "vector(d)"]),
    ("x + 1\nf = x", MatcalcSyntaxError, 1, 1, ["only the last statement", "bare expression"]),
    ("f = matrix(2, 3)", MatcalcSyntaxError, 1, 5, ["is a kind", "declaration"]),
    ("f = symmetric(3) + A", MatcalcSyntaxError, 1, 5, ["'symmetric' is a kind"]),
    # ------------------------------------------------ malformed kinds (wrong number of sizes)
    ("x: vector(n, m)\nf = x", ArityError, 1, 4, ["vector takes 1 size", "got 2"]),
    ("x: matrix(n)\nf = x", ArityError, 1, 4, ["matrix takes 2 sizes", "got 1"]),
    ("alpha: scalar(1)\nf = alpha", ArityError, 1, 8, ["'scalar' takes no size"]),
    ("S: symmetric(n, n)\nf = tr(S)", ArityError, 1, 4, ["symmetric takes 1 size"]),
    # ------------------------------------------------ dimensions that disagree
    ("x: vector(n)\nW: matrix(m, k)\nf = W*x", DimensionError, 3, 5,
     ["W*x: W is m×k but x has n rows"]),
    ("f = x*y", DimensionError, 1, 5, ["x*y: x is k1×1 but y has k2 rows", "x'*"]),
    ("x: vector(n)\nA: matrix(m, n)\nf = x + A", DimensionError, 3, 5,
     ["x is n×1", "A is m×n", "'+'"]),
    ("A: matrix(m, n)\nB: matrix(n, m)\nf = A .* B", DimensionError, 3, 5,
     ["A is m×n", "B is n×m", "'.*'"]),
    ("A: matrix(m, n)\nf = A : A'", DimensionError, 2, 5, ["A is m×n", "A' is n×m", "':'"]),
    ("x: vector(3)\nf = x + ones(4)", DimensionError, 2, 5, ["x is 3×1", "ones(4) is 4×1"]),
    ("X: matrix(m, n)\ny: vector(p)\nf = vec(X)'*y", DimensionError, 3, 5,
     ["vec(X)' is 1×m*n", "y has p rows"]),
    ("A: matrix(m, n)\nB: matrix(m, n)\nf = A - B'", DimensionError, 3, 5, ["B' is n×m"]),
    # ------------------------------------------------ shapes that do not fit an operation
    ("f = x / y", ShapeError, 1, 5, ["divisor y is k2×1", "'./'", "inv"]),
    # an undeclared operand: the error says why it has its shape, and how to change it
    (
        "f = x / y", ShapeError, 1, 5,
        ["y is not declared, so it is a vector by convention", "'y: scalar' or 'y: matrix(r, c)'"],
    ),
    (
        "W: matrix(m, n); x: vector(n); f = sum(W*x) / m",
        ShapeError, 1, 36,
        ["divisor m", "m is also a dimension name, but dimensions are not values", "'m: scalar'"],
    ),
    ("x: vector(n); f = x + z'", DimensionError, 1, 19, ["z is not declared, so it is a vector"]),
    ("A: matrix(m, n)\nf = tr(A)", ShapeError, 2, 8, ["tr(...) needs a square matrix", "A is m×n"]),
    ("A: matrix(m, n)\nf = inv(A)", ShapeError, 2, 9, ["inv(...) needs a square", "m×n"]),
    ("A: matrix(m, n)\nf = det(A)", ShapeError, 2, 9, ["det(...) needs a square", "m×n"]),
    ("A: matrix(m, n)\nf = logdet(A)", ShapeError, 2, 12, ["logdet(...)", "m×n"]),
    ("f = tr(x)", ShapeError, 1, 8, ["square matrix", "x is k1×1"]),
    ("f = x^2", ShapeError, 1, 5, ["square matrix", "x is k1×1", "'.^'"]),
    ("A: matrix(m, n)\nf = A^2", ShapeError, 2, 5, ["square matrix", "A is m×n"]),
    ("f = X^0.5", ShapeError, 1, 5, ["integer exponent", "1/2", "'.^'"]),
    ("f = x.^y", ShapeError, 1, 8, ["exponent y must be a number"]),
    ("f = alpha^beta", ShapeError, 1, 11, ["exponent beta must be a number"]),
    ("f = X^-1'", ShapeError, 1, 7, ["must be a number", "(X^-1)'"]),
    ("f = x'.^(1/0)", ShapeError, 1, 9, ["must be a number"]),
    ("A: matrix(m, n)\nf = softmax(A)", ShapeError, 2, 13, ["column vector", "A is m×n"]),
    ("f = Diag(x')", ShapeError, 1, 10, ["Diag(...) needs a column vector", "1×k1"]),
    ("f = sum(vector(x))", ShapeError, 1, 9, ["must be a scalar", "k1×1"]),
    ("f = ones(n+1)'*x", ShapeError, 1, 10, ["size must be a dimension symbol"]),
    ("f = exp + x", ShapeError, 1, 5, ["exp is a function", "exp(...)"]),
    ("g: elementwise\nf = g + x", ShapeError, 2, 5, ["g is an elementwise function"]),
    ("f = 1/0", MatcalcError, 1, 5, ["division by zero"]),
    # ------------------------------------------------ numbers beyond a float's range
    ("f = 1e400 * alpha", NumberError, 1, 5, ["number too large: 1e400", "largest float"]),
    ("f = 2 * 1e-400 * x", NumberError, 1, 9, ["number too small: 1e-400", "write 0"]),
    ("f = " + "9" * 401 + " * alpha", NumberError, 1, 5, ["number too long", "400 digits"]),
    ("f = alpha^(2^99999999999999999999)", NumberError, 1, 13, ["number too large", "'^'"]),
    ("f = 2^2048 * alpha", NumberError, 1, 6, ["number too large", "2^2048"]),
    ("f = x * (1e200*alpha)^2", NumberError, 1, 22, ["number too large", "(1e200*alpha)^2"]),
    ("f = (1e-200)^2 * alpha", NumberError, 1, 13, ["number too small", "(1e-200)^2"]),
    ("f = (1e300 * 1e300) * x", NumberError, 1, 12, ["number too large"]),
    # ------------------------------------------------ functions: arity and names
    ("f = tr(A, B)", ArityError, 1, 5, ["tr takes 1 argument, got 2"]),
    ("f = exp()", ArityError, 1, 5, ["exp takes 1 argument, got 0"]),
    ("g: elementwise\nf = g(x, y)", ArityError, 2, 5, ["g takes 1 argument, got 2"]),
    ("f = ones(m, n, p)", ArityError, 1, 5, ["ones takes at most 2 sizes, got 3"]),
    ("f = eye(n, n)", ArityError, 1, 5, ["eye takes at most 1 size, got 2"]),
    ("f = vector(1, 2)", ArityError, 1, 5, ["vector takes 1 argument", "got 2"]),
    ("f = sinn(x)", UnknownNameError, 1, 5, ["unknown function 'sinn'", "did you mean 'sin'"]),
    ("f = sofmax(x)", UnknownNameError, 1, 5, ["did you mean 'softmax'"]),
    ("f = logdett(X)", UnknownNameError, 1, 5, ["did you mean 'logdet'"]),
    ("f = x(y + z)", UnknownNameError, 1, 5, ["unknown function 'x'", "x*(...)"]),
    ("x: vector(n)\nf = x(x)", UnknownNameError, 2, 5, ["x is a variable, not a function"]),
    # ------------------------------------------------ declarations and definitions
    ("", DefinitionError, 1, 1, ["no expression to differentiate"]),
    ("x: vector(n)\n", DefinitionError, 1, 1, ["no expression to differentiate"]),
    ("x = 1\nx = 2", DefinitionError, 2, 1, ["x is defined twice", "line 1"]),
    ("y = x\nx = z", DefinitionError, 1, 5, ["x is used before its definition on line 2"]),
    ("x = x + 1", DefinitionError, 1, 5, ["x is used in its own definition"]),
    ("x: vector(n)\nx: vector(m)\nf = x", DefinitionError, 2, 1,
     ["x is declared twice", "vector(n)", "vector(m)"]),
    ("x: vector(n)\nx: matrix(n, 1)\nf = x", DefinitionError, 2, 1, ["declared twice"]),
    ("x: vector(n)\nx = 2*z", DefinitionError, 2, 1, ["declared on line 1", "cannot also be defined"]),
    ("g: elementwise\ng = 2", DefinitionError, 2, 1, ["cannot also be defined"]),
    ("exp: elementwise\nf = exp(x)", DefinitionError, 1, 1, ["exp is a built-in function"]),
    ("g: elementwise\ng: scalar\nf = g", DefinitionError, 2, 1, ["declared twice", "elementwise"]),
]  # fmt: skip


def _id(case) -> str:
    text = case[0].replace("\n", "⏎")
    return f"{case[1].__name__}:{text[:30]}"


@pytest.mark.parametrize("text, cls, line, column, words", BAD, ids=[_id(c) for c in BAD])
def test_bad_input(text, cls, line, column, words):
    with pytest.raises(MatcalcError) as info:
        matcalc.parse(text)
    err = info.value
    assert type(err) is cls, str(err)
    assert (err.line, err.column) == (line, column), str(err)
    for w in words:
        assert w in err.message, (w, err.message)
    report = str(err)
    assert f"line {line}, column {column}" in report
    if text.strip():
        # the offending line, with a caret under the offending column
        source_line = text.splitlines()[line - 1]
        lines = report.splitlines()
        assert lines[1] == "  " + source_line
        assert lines[2].index("^") == column + 1


def test_enough_distinct_bad_inputs():
    assert len({c[0] for c in BAD}) >= 45


def test_shape_error_underlines_the_subexpression():
    with pytest.raises(DimensionError) as info:
        matcalc.parse("x: vector(n)\nW: matrix(m, k)\nf = 2 + W*x")
    assert str(info.value).splitlines()[2] == "  " + " " * 8 + "^^^"


def test_errors_of_multiline_expressions_point_into_them():
    with pytest.raises(DimensionError) as info:
        matcalc.parse("x: vector(n)\nA: matrix(m, m)\nf = sum(\n  A*x\n)")
    assert (info.value.line, info.value.column) == (4, 3)


def test_first_error_in_the_text_wins():
    with pytest.raises(UnknownNameError) as info:
        matcalc.parse("f = foo(x) + bar(y)")
    assert info.value.column == 5


def test_syntax_error_names_no_raw_terminals():
    for text in ["x = (1 +", "f = x y", "f = x $ y", "x = 1 +\ny", "= 3"]:
        with pytest.raises(MatcalcSyntaxError) as info:
            matcalc.parse(text)
        message = info.value.message
        for raw in ("NAME", "NUMBER", "LPAR", "RPAR", "_NL", "MULOP", "$END", "Token("):
            assert raw not in message, message


def test_deeply_nested_unclosed_input_is_a_syntax_error():
    with pytest.raises(MatcalcSyntaxError) as info:
        matcalc.parse("f = " + "(" * 1000 + "x +")
    assert info.value.line == 1


def test_every_error_is_a_matcalc_error():
    for cls in (ArityError, DefinitionError, DimensionError, MatcalcSyntaxError, ShapeError,
                UnknownNameError):  # fmt: skip
        assert issubclass(cls, MatcalcError)


def test_a_gradient_constant_beyond_a_float_is_a_located_error():
    """The model's constants are in range, but the derivative's coefficient 1000·1e308 is not."""
    with pytest.raises(NumberError) as info:
        matcalc.grad("alpha: scalar; f = 1e308*alpha^1000", wrt="alpha")
    err = info.value
    assert (err.line, err.column) == (1, 16), str(err)
    assert "number too large: a constant in the derivative of f" in err.message
    with pytest.raises(NumberError) as info:
        matcalc.grad("alpha: scalar\n1e308*alpha^1000", wrt="alpha")  # a bare final expression
    assert (info.value.line, info.value.column) == (2, 1), str(info.value)


def test_numbers_within_a_float_keep_working():
    assert str(matcalc.grad("f = 2^1023*alpha", wrt="alpha")) == f"∂f/∂α = {2**1023}"
    assert str(matcalc.grad("f = 1/3*alpha^2", wrt="alpha")) == "∂f/∂α = 2/3 α"
    assert "e-320" in matcalc.grad("f = 1e-320*alpha", wrt="alpha").numpy_source()  # subnormal
    # an exact power too long to keep is the nearest float: (1 + 1e-6)^1e6 ≈ e
    (_, g), = matcalc.grad("f = 1.000001^1000000*alpha", wrt="alpha")
    assert abs(float(g.value) - 2.7182804690957534) < 1e-12
    assert matcalc.parse("f = 0e99999999 * alpha + alpha").output.name == "f"
