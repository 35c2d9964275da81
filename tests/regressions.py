# ruff: noqa: E501  (one model a line reads best unwrapped)
"""Minimal models that once failed, replayed by the normal suite (tests/test_random_models.py,
tests/test_fuzz.py).

Each random-model entry is checked like a generated one: the generated NumPy
module's value and gradients against the model's own value and its central
differences (matcalc.selftest.check_case), on several random draws, with the
step-by-step derivation printed too. ``expect`` (optional) pins the printed
gradients. ``domains`` marks inputs to draw ``positive``, ``small`` or
``spd``. ``open`` names the owner of a bug not fixed yet: the test is then an
expected failure (strict: once fixed it fails, and the ``open`` goes).

Add a model here whenever the random-model property or the fuzzer finds one
(hypothesis prints the shrunk model; ``matcalc selftest`` prints the model
number to regenerate it).
"""

REGRESSIONS = [
    {
        "name": "linear function of a zero differential",
        "model": "P: matrix(n, n); Y = tr(step(P)); f = tanh(Y)",
        "wrt": "P",
        "note": "d tr(step(P)) = tr(0 ∘ dP) was Call(tr, Zero), which the Frobenius rules could not "
        "take apart ('cannot move a differential out of Zero'); fixed in build.call: a linear "
        "function (sum tr diag Diag vec) of zero is zero",
    },
    {
        "name": "Diag of a zero differential",
        "model": "v: vector(k); q = Diag(1/2 + sign(v) .* sign(v)); f = tr(q) + v'*v",
        "wrt": "v",
        "note": "as above, through Diag(sign(v)...)",
    },
    {
        "name": "vec of a scalar",
        "model": "λ: scalar; f = sum(vec(λ))",
        "wrt": "λ",
        "note": "the generated module called .reshape on a Python float; fixed in build.call: "
        "vec of a column (or a 1×1) is the column itself",
    },
    {
        "name": "vec of a constant times a matrix",
        "model": "P: matrix(n, k); f = normF(sum(vec(0.5)) * P)",
        "wrt": "P",
        "note": "as above (0.5.reshape in the generated module)",
    },
    {
        "name": "a constant definition is not a name for zero",
        "model": "x, y: vector(n); z = 0*x; f = sum(exp(x))",
        "wrt": "x,y",
        "expect": ["exp(x)", "0"],
        "note": "∂f/∂y printed as 'z': simplify_all replaced every zero by the definition whose "
        "value is zero; fixed in simplify.simplify_all (constant definitions name nothing)",
    },
    {
        "name": "a constant definition after --of",
        "model": "x, y: vector(n); t = sum(exp(x)); z = y - y; f = t + sum(z)",
        "wrt": "x,y",
        "of": "t",
        "note": "∂t/∂y printed as 'z', which the module for --of t never computes (NameError); "
        "fixed with the entry above",
    },
    {
        "name": "a definition after --of names a gradient",
        "model": "x: vector(n); t = sum(exp(x)); u = exp(x); f = t + sum(u)",
        "wrt": "x",
        "of": "t",
        "note": "∂t/∂x printed as 'u', defined after t; the module for --of t raises NameError: "
        "name 'u' is not defined. Fix: build `names` from the definitions up to the target only",
    },
    {
        "name": "a definition after --of names a gradient (shrunk by selftest)",
        "model": "C: matrix(1, m); a1: vector(m); Φ: matrix(1, m); s = C : a1' - Φ; ψ = C'; f = Φ*a1",
        "wrt": "a1",
        "of": "s",
        "note": "∂s/∂a1 = Cᵀ is printed as ψ; NameError in the module. `matcalc selftest --examples "
        "100000 --seed 2` found this three times (models #2000019084, #2000042468, #2000046938)",
    },
    {
        "name": "derivation of a zero gradient",
        "model": "x: vector(n); alpha: scalar; f = alpha",
        "wrt": "x",
        "note": "steps_text() raises ValueError: max() arg is an empty sequence when no step "
        "was taken (∂f/∂x = 0); so does `matcalc grad ... --steps`",
    },
    {
        "name": "negated step mask in the generated module",
        "model": "x, c: vector(n); f = relu(x ./ c)' * c",
        "wrt": "x,c",
        "note": "∂f/∂c = relu(x ⊘ c) − step(x ⊘ c) ∘ x ⊘ c is generated as "
        "-(t0 > 0.0) * x / c: numpy refuses unary minus on a boolean array (TypeError). "
        "Found by `matcalc selftest --examples 100000 --seed 1` (models #1000031784, #1000052982)",
    },
    {
        "name": "a size nothing determines",
        "model": "x: vector(n); f = sum(x) + sum(ones)",
        "wrt": "x",
        "error": (1, 32, "nothing in the model fixes the size of ones"),
        "note": "the size of `ones` is inferred from nothing, so the value is open; the generated "
        "module used an undefined name k1 (NameError). Fixed in infer.py (check_sizes_fixed): a "
        "located dimension error at `ones`",
    },
]

#: Inputs that once crashed or hung the parser or the derivation. Each must end, within
#: seconds, in a model (differentiated when its output is a scalar) or a located MatcalcError.
#: ``error`` (optional): words the located error's message must contain.
_RANGE_FIX = (
    "fixed in matcalc/numbers.py: literals (syntax.py), folded constants (infer.constant) and "
    "the constants build.py folds must be finite float64 values, checked by magnitude (logs, "
    "bit lengths) before any power is computed; a located NumberError otherwise"
)
FUZZ_REGRESSIONS = [
    {
        "text": "f = alpha^2^2^2^2^2^2",
        "error": "number too large: the result of '^'",
        "note": "infer.py: constant() folded 2^2^2^2^2 = 2^65536 exactly and then 2^(2^65536): "
        "hung. " + _RANGE_FIX,
    },
    {
        "text": "f = 2^99999999999999999999 * alpha",
        "error": "number too large: a constant in 2^99999999999999999999",
        "note": "infer.py: constant() computed 2**99999999999999999999 exactly: hung. " + _RANGE_FIX,
    },
    {
        "text": "x = 1000.^1e308; f = x*alpha",
        "error": "number too large",
        "note": "infer.py: constant() of a huge exponent: hung. " + _RANGE_FIX,
    },
    {
        "text": "f = 1e100000000 * alpha",
        "error": "number too large: 1e100000000",
        "note": "syntax.py: Fraction('1e100000000') built a 100-million-digit integer: hung; "
        "numbers.literal looks at the exponent first",
    },
    {
        "text": "alpha: scalar; f = " + "1" * 5000 + " * alpha",
        "error": "number too long",
        "note": "syntax.py: Fraction(str(token)) raised ValueError for more than 4300 digits "
        "(Python's int/str conversion limit); numbers.literal refuses literals of more than "
        "400 digits",
    },
    {
        "text": "f = alpha^2^2^2^2^2",
        "error": "number too large: the result of '^'",
        "note": "infer.py / printing: the exponent 2^65536 has 19729 digits; printing it raised "
        "ValueError (int max str digits). " + _RANGE_FIX,
    },
    {
        "text": "f = 1e1000000 * alpha",
        "error": "number too large: 1e1000000",
        "note": "syntax.py / printing: ValueError (int max str digits) printing the gradient. " + _RANGE_FIX,
    },
    {
        "text": "f = 1e400 * alpha",
        "error": "number too large: 1e400",
        "note": "syntax.py / printing/numpy.py: 1e400 overflowed a float: OverflowError in "
        "numpy_source. " + _RANGE_FIX,
    },
    {
        "text": "alpha: scalar; f = (1e200*alpha)^2",
        "error": "number too large: a constant in (1e200*alpha)^2",
        "note": "printing/numpy.py: the coefficient 2e400 overflowed a float: OverflowError in "
        "numpy_source; build.eprod now checks the power of the coefficient. " + _RANGE_FIX,
    },
    {
        "text": "alpha: scalar; f = (3^100)^100 * alpha",
        "error": "number too large",
        "note": "infer.py constant folding / printing: 3^10000 was exact and has 4772 digits; "
        "printing the gradient raised ValueError (int max str digits). Found by `matcalc "
        "selftest --fuzz 100000 --seed 2`. " + _RANGE_FIX,
    },
    {
        "text": "alpha: scalar; f = (100^3)^100 * alpha",
        "error": "number too large",
        "note": "printing/numpy.py: the constant 1e600 overflowed a float (OverflowError). Found "
        "by `matcalc selftest --fuzz 100000 --seed 2`. " + _RANGE_FIX,
    },
    {
        "text": "m: matrix(2, x); s = 1e308'.^3; 1/2",
        "error": "number too large: a constant in 1e308'.^3",
        "note": "printing/numpy.py: OverflowError for the constant 1e924 (float(Fraction)). " + _RANGE_FIX,
    },
    {
        "text": "f = 1e-400 * alpha",
        "error": "number too small: 1e-400",
        "note": "a literal that a float rounds to 0 printed as 0 in one place and exactly in "
        "another; now a located NumberError (subnormals such as 1e-320 are kept)",
    },
    {
        "text": "alpha: scalar; f = 1e308 * alpha^1000",
        "error": "number too large: a constant in the derivative of f",
        "note": "the model's constants are in range but the gradient's 1e311 is not (OverflowError "
        "in numpy_source); build.py checks every folded number and api.grad locates the error "
        "at the definition of f",
    },
    {
        "text": "f = 1.000001^1000000 * alpha",
        "note": "the exact power has 6 million digits (slow, then ValueError printing it); "
        "numbers.power rounds a power whose exact form exceeds 4096 bits to the nearest float",
    },
]
