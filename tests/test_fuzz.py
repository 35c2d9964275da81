"""Bad input of every sort ends in a model or a located ``MatcalcError`` — never another
exception, never a hang.

* ill-typed models (a well-typed random model with one mistake put in: shape
  mismatches, wrong arity, unknown functions, misplaced definitions, syntax
  errors…) fail with a MatcalcError naming the line of the mistake;
* fuzzed text (arbitrary Unicode, token soups, grammatical but untyped models,
  byte-level mutations of valid models) parses — and is then differentiated
  and turned into code — or fails with a located MatcalcError;
* deep nesting and long input finish within seconds.

Counts (CI budget): 2,000 ill-typed models and 20,000 fuzzed inputs.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from regressions import FUZZ_REGRESSIONS
from strategies import fuzzed_texts, ill_typed_models, mutated_models, property_settings, soups

import matcalc
from matcalc import selftest
from matcalc.selftest import fuzz_input, fuzz_outcome, located_error, time_limit

#: Seconds any single input may take: a guard that turns a hang into a failure, not a speed
#: test (an input takes well under a second here; CI machines under load are several times
#: slower, and speed is measured by benchmarks/, not by unit tests).
LIMIT = 60


def outcome(text: str, differentiate: bool = True) -> str:
    """``fuzz_outcome`` under the time limit; a timeout becomes an assertion error."""
    try:
        with time_limit(LIMIT, repr(text)[:200]):
            return fuzz_outcome(text, differentiate)
    except TimeoutError as err:
        raise AssertionError(str(err)) from None


# ------------------------------------------------------------------ ill-typed models


@property_settings(max_examples=500)
@given(ill_typed_models())
def test_ill_typed_model_fails_with_a_located_error(bm):
    assert located_error(bm, matcalc) is None, bm.text


@pytest.mark.parametrize("chunk", range(3))
def test_seeded_ill_typed_models(chunk):
    """3 × 500 more, from the generator ``matcalc selftest --ill-typed`` uses."""
    n, wrong = selftest.run_ill_typed(500, seed=chunk)
    assert n == 500
    assert not wrong, "\n".join(wrong[:5])


def test_ill_typed_models_cover_every_kind_of_mistake():
    kinds = {selftest.ill_typed_model(selftest.RandomChooser(i)).what.split(":")[0] for i in range(400)}
    assert kinds >= {"shape", "matmul", "square", "vector", "divide", "exponent", "arity", "unknown",
                     "definition", "syntax", "output", "bare", "redeclared", "misuse", "declaration"}


# ------------------------------------------------------------------ fuzzed text


@property_settings(max_examples=1500)
@given(fuzzed_texts())
def test_fuzzed_text_parses_or_fails_with_a_located_error(text):
    outcome(text)


@property_settings(max_examples=300)
@given(mutated_models())
def test_mutated_models_parse_or_fail_with_a_located_error(text):
    outcome(text)


@property_settings(max_examples=200)
@given(soups())
def test_untyped_models_parse_or_fail_with_a_located_error(text):
    outcome(text)


@pytest.mark.parametrize("chunk", range(6))
def test_seeded_fuzz(chunk):
    """6 × 3,000 fuzzed inputs from the generator ``matcalc selftest --fuzz`` uses."""
    counts = {"parsed": 0, "derived": 0, "error": 0}
    wrong = []
    for i in range(chunk * 3000, (chunk + 1) * 3000):
        try:
            counts[outcome(fuzz_input(i))] += 1
        except AssertionError as err:
            wrong.append(str(err)[:400])
    assert not wrong, f"{len(wrong)} of 3000 inputs:\n" + "\n".join(wrong[:8])
    assert counts["derived"] > 100 and counts["error"] > 1000, counts


def _fuzz_regressions():
    out = []
    for entry in FUZZ_REGRESSIONS:
        marks = [pytest.mark.xfail(reason=entry["open"], strict=True)] if entry.get("open") else []
        out.append(pytest.param(entry, id=entry["text"][:40], marks=marks))
    return out


@pytest.mark.parametrize("entry", _fuzz_regressions())
def test_fuzz_regression(entry):
    text = entry["text"]
    with time_limit(LIMIT, repr(text)[:100]):
        result = fuzz_outcome(text)
    if "error" not in entry:
        assert result in ("derived", "parsed"), result
        return
    assert result == "error", result
    with pytest.raises(matcalc.MatcalcError) as info:
        model = matcalc.parse(text)
        matcalc.grad(model, wrt=[v.name for v in model.inputs])
    assert info.value.line is not None and info.value.column is not None
    assert entry["error"] in info.value.message, info.value.message


# ------------------------------------------------------------------ deep and long input

N = 1000

DEEP = {
    "parentheses": "x: vector(n); f = sum(" + "(" * N + "x" + ")" * N + ")",
    "unary minus": "x: vector(n); f = sum(" + "-" * N + "x)",
    "unary minus, spaced": "x: vector(n); f = sum(" + "- " * N + "x)",
    "unary plus": "x: vector(n); f = sum(" + "+" * N + "x)",
    "transposes": "x: vector(n); f = x" + "'" * N + "*x",
    "powers": "alpha: scalar; f = alpha" + "^1" * N,
    "parenthesised powers": "alpha: scalar; f = " + "(" * N + "alpha" + "^1)" * N,
    "left-nested sums": "x: vector(n); f = sum(" + "(" * N + "x" + "+x)" * N + ")",
    "right-nested sums": "x: vector(n); f = sum(" + "x+(" * N + "x" + ")" * N + ")",
    "nested Hadamard products": "x: vector(n); f = sum(" + "(x.*" * N + "x" + ")" * N + ")",
    "nested Frobenius products": "x: vector(n); f = " + "(" * N + "x:x" + ")" * N,
    "unbalanced parentheses": "x: vector(n); f = sum(" + "(" * N + "x",
    "unbalanced closing": "x: vector(n); f = sum(x" + ")" * N,
    "parentheses, 100000": "x: vector(n); f = sum(" + "(" * 100_000 + "x" + ")" * 100_000 + ")",
    "nested functions": "x: vector(n); f = sum(" + "sin(" * N + "x" + ")" * N + ")",
    "nested inverses": "A: matrix(n, n); f = tr(" + "inv(" * 300 + "A" + ")" * 300 + ")",
}

#: Open bugs of deep input, each a strict xfail (none at present).
DEEP_OPEN: dict[str, tuple[str, str]] = {}

#: Products whose derivative is too large to write out: the gradient of x'(A(A(…x))) w.r.t. A
#: has k terms of up to k factors (a matrix power is one operation: x'*A^1000*x is derived).
#: Refused at once with a located error (gradient.MAX_DIFFERENTIAL_SIZE).
TOO_LARGE = {
    "nested products": "A: matrix(n, n); x: vector(n); f = x'*"
    + "(A*(A'*" * (N // 2)
    + "x"
    + "))" * (N // 2),
}
DEEP.update(TOO_LARGE)


@pytest.mark.parametrize("text", list(TOO_LARGE.values()), ids=list(TOO_LARGE))
def test_derivatives_too_large_to_write_out_are_located_errors(text):
    with time_limit(LIMIT, "a product too long to differentiate"):
        with pytest.raises(matcalc.MatcalcError) as err:
            matcalc.grad(text, wrt="A")
    assert (err.value.line, err.value.column) == (1, 32)
    assert "more than matcalc writes out" in str(err.value)


def test_long_products_below_the_limit_are_differentiated_correctly():
    """x'A^k x for k = 150 (a differential of ~11,000 nodes): derived and right."""
    import numpy as np

    g = matcalc.grad("A: matrix(n, n); x: vector(n); f = x'*A^150*x", wrt="A,x")
    fn = g.to_function()
    rng = np.random.default_rng(3)
    A = np.linalg.qr(rng.normal(size=(4, 4)))[0]  # orthogonal: its powers stay of size 1
    x = rng.normal(size=4)
    value, gA, gx = fn(A=A, x=x)
    P = np.linalg.matrix_power(A, 150)
    assert np.isclose(value, x @ P @ x, rtol=1e-10, atol=1e-300)
    np.testing.assert_allclose(gx, (P + P.T) @ x, rtol=1e-8, atol=1e-300)
    expected = sum(
        np.linalg.matrix_power(A.T, i) @ np.outer(x, x) @ np.linalg.matrix_power(A.T, 149 - i)
        for i in range(150)
    )
    np.testing.assert_allclose(gA, expected, rtol=1e-8, atol=1e-300)


def _deep_params():
    out = [pytest.param(text, id=name) for name, text in DEEP.items()]
    for name, (text, why) in DEEP_OPEN.items():
        out.append(pytest.param(text, id=name, marks=pytest.mark.xfail(reason=why, strict=True)))
    return out


@pytest.mark.parametrize("text", _deep_params())
def test_deep_nesting_ends_in_a_result_or_a_located_error(text):
    """A result (differentiated, printed, turned into code) or a MatcalcError, never a
    RecursionError or a hang."""
    with time_limit(LIMIT, "deep input"):
        result = fuzz_outcome(text)
    assert result in ("derived", "error", "parsed")


def _megabyte(unit: str, head: str = "x: vector(n)\n", tail: str = "") -> str:
    return head + unit * (1_000_000 // len(unit)) + tail


LONG = {
    "a sum of 250,000 terms": _megabyte(" + x", "x: vector(n); f = sum(x", ")"),
    "a comment": _megabyte("c", "x: vector(n); f = x'*x  # "),
    "blank lines": _megabyte("\n", "x: vector(n)", "f = x'*x"),
    "a long name": "x" * 500_000 + ": vector(n); f = sum(" + "x" * 500_000 + ")",
    "one long line of garbage": _megabyte("x * (y + "),
}


@pytest.mark.parametrize("text", list(LONG.values()), ids=list(LONG))
def test_megabyte_of_input_ends_in_a_result_or_a_located_error(text):
    assert len(text) >= 900_000
    with time_limit(300, "a megabyte of input"):  # a hang guard; benchmarks/frontend.py measures speed
        result = fuzz_outcome(text)
    assert result in ("derived", "error", "parsed")


def test_fuzz_with_extreme_numbers():
    """Numbers at and beyond a float's range (1e308, 1e-320, 1e400, 2^1e20, 5,000 digits) end
    in a result or a located NumberError, promptly (matcalc/numbers.py; was a strict xfail:
    hangs in constant folding, OverflowError/ValueError in parsing and printing)."""
    counts = {"parsed": 0, "derived": 0, "error": 0}
    for i in range(1000):
        counts[outcome(fuzz_input(i, seed=7, extreme=True))] += 1
    assert counts["derived"] > 30 and counts["error"] > 300, counts


def test_a_matrix_power_of_1000_is_one_operation_summed_over_i():
    """x'A^1000 x: ∂f/∂A = Σ_{i=0}^{999} (Aᵀ)ⁱ x xᵀ (Aᵀ)^(999−i), computed with A¹⁰⁰⁰ once."""
    import numpy as np

    g = matcalc.grad("A: matrix(n, n); x: vector(n); f = x'*A^1000*x", wrt="A,x")
    assert g.text().splitlines() == [
        "∂f/∂A = Σ_{i=0}^{999} (Aᵀ)ⁱ x xᵀ (Aᵀ)^(999−i)",
        "∂f/∂x = (A¹⁰⁰⁰ + (Aᵀ)¹⁰⁰⁰) x",
    ]
    source = g.numpy_source()
    assert source.count("matrix_power(") == 1
    fn = g.to_function()
    rng = np.random.default_rng(5)
    A = np.linalg.qr(rng.normal(size=(5, 5)))[0]  # orthogonal: its powers stay of size 1
    x = rng.normal(size=5)
    value, gA, gx = fn(A=A, x=x)
    P = np.linalg.matrix_power(A, 1000)
    assert np.isclose(value, x @ P @ x, rtol=1e-9)
    np.testing.assert_allclose(gx, (P + P.T) @ x, rtol=1e-8, atol=1e-12)
    expected = sum(
        np.linalg.matrix_power(A.T, i) @ np.outer(x, x) @ np.linalg.matrix_power(A.T, 999 - i)
        for i in range(1000)
    )
    np.testing.assert_allclose(gA, expected, rtol=1e-8, atol=1e-12)
