"""Every way a derivative request can go wrong ends in a DerivativeError, never a traceback."""

import pytest

import matcalc
from matcalc import DerivativeError, MatcalcError, dims

SEED0 = "x: vector(n); W: matrix(m, n); s = W*x; f = sum(relu(s))"


@pytest.mark.parametrize(
    "model,wrt,of,words",
    [
        ("x: vector(n); W: matrix(m, n); f = W*x", "W", None, ["m×1", "not a scalar"]),
        ("X: matrix(m, n); F = exp(X); f = sum(F)", "X", "F", ["F is m×n", "not a scalar"]),
        (SEED0, "V", None, ["'V' is not a name in the model"]),
        (SEED0, "w", None, ["did you mean 'W'"]),
        (SEED0, "W,W", None, ["given twice"]),
        (SEED0, "", None, ["at least one name"]),
        (SEED0, "W", "x", ["'x' is an input"]),
        (SEED0, "W", "g", ["'g' is not a name"]),
    ],
)
def test_derivative_errors(model, wrt, of, words):
    with pytest.raises(DerivativeError) as err:
        matcalc.grad(model, wrt=wrt, of=of)
    assert isinstance(err.value, MatcalcError)
    for w in words:
        assert w in str(err.value)


def test_non_scalar_error_points_at_the_definition():
    with pytest.raises(DerivativeError) as err:
        matcalc.grad("x: vector(n)\nW: matrix(m, n)\nf = W*x", wrt="W")
    assert err.value.line == 3


def test_gradient_of_unrelated_variable_is_zero():
    g = matcalc.grad("x, y: vector(n); f = sum(exp(x))", wrt="x,y")
    assert matcalc.printing.text.to_text(g["y"]) == "0"
    assert g["y"].shape == (dims.symbol("n"), 1)


def test_gradient_wrt_intermediate_and_upstream_input():
    g = matcalc.grad("x: vector(n); A: matrix(m, n); y = A*x; f = sum(y .* y)", wrt="y,A")
    assert matcalc.printing.text.to_text(g["y"]) == "2 y"
    assert matcalc.printing.text.to_text(g["A"]) == "2 y xᵀ"


def test_of_selects_an_earlier_definition():
    g = matcalc.grad("x: vector(n); a = sum(x .* x); f = a^2", wrt="x", of="a")
    assert g.of == "a"
    assert matcalc.printing.text.to_text(g["x"]) == "2 x"


def test_gradient_wrt_the_output_itself_is_one():
    g = matcalc.grad("x: vector(n); f = sum(exp(x))", wrt="f,x")
    assert matcalc.printing.text.to_text(g["f"]) == "1"
    assert matcalc.printing.text.to_text(g["x"]) == "exp(x)"


def test_constant_function_has_zero_gradient():
    g = matcalc.grad("x: vector(n); f = 3", wrt="x")
    assert matcalc.printing.text.to_text(g["x"]) == "0"


def test_recursion_too_deep_becomes_a_located_error():
    """A RecursionError inside a guarded step is a DerivativeError at the definition."""
    from matcalc.depth import guard_depth
    from matcalc.errors import DerivativeError

    model = matcalc.parse("x: vector(n)\nf = sum(x)")

    @guard_depth(lambda: (model, "f"), "differentiate")
    def overflow():
        raise RecursionError

    with pytest.raises(DerivativeError) as info:
        overflow()
    assert (info.value.line, info.value.column) == (2, 1)
    assert "nested too deeply to differentiate" in str(info.value)
