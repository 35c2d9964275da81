"""Names that could trip the generated NumPy module: Python keywords and builtins, the
module's own names (``np``, temporaries, helpers, gradients, the function), Unicode
letters (``ℌ`` is ``H`` after NFKC normalisation, as Python reads identifiers).

The generated code still runs and is correct (value and gradients against central
differences of the model's own value), and no text of the model reaches the code except
as a validated identifier.
"""

from __future__ import annotations

import ast
import inspect
import keyword
import re
import unicodedata

import numpy as np
import pytest
from hypothesis import assume, given
from strategies import cases, property_settings

import matcalc
from matcalc.printing.numpy import python_name
from matcalc.selftest import NamePool, case_from_text, check_case

KEYWORDS = ("lambda", "class", "def", "return", "None", "True", "False", "import", "from", "if", "else",
            "for", "while", "in", "is", "not", "and", "or", "yield", "await", "async", "global",
            "nonlocal", "pass", "del", "raise", "try", "except", "finally", "with", "assert", "break",
            "continue", "elif")  # fmt: skip
SOFT_KEYWORDS = ("match", "case", "type", "_")
BUILTINS = ("print", "float", "len", "sum_", "exec", "eval", "open", "ValueError", "object", "self",
            "__import__", "__builtins__", "__name__", "__class__", "int", "range", "abs_")  # fmt: skip
MODULE = ("np", "numpy", "t0", "t1", "t2", "_out", "_input", "_mismatch", "_softmax", "_logsumexp",
          "grad_W", "grad_x", "grad_t0", "value_and_grad", "array", "value", "kind", "shape", "fresh",
          "label", "want", "got", "x_", "np_", "lambda_", "dg", "dlambda")  # fmt: skip
UNICODE = ("α", "Φ", "ℌ", "H", "\ufb01", "fi", "\u00b5", "\u03bc", "\u2126", "\u03a9", "\u00e9", "\u01c5",
           "x\u216b")  # ﬁ µ Ω (ohm) Ω é ǅ xⅫ

HOSTILE = KEYWORDS + SOFT_KEYWORDS + BUILTINS + MODULE + UNICODE
assert all(n.isidentifier() for n in HOSTILE)

#: Names whose NFKC form differs: Python reads the parameter as the normalised name.
NFKC_CHANGED = tuple(n for n in HOSTILE if unicodedata.normalize("NFKC", n) != n)

#: The model text is read in NFC: Ω (U+2126 OHM SIGN) is the name Ω (U+03A9), so random
#: models draw from names that stay distinct in NFC.
DISTINCT = tuple(n for n in HOSTILE if unicodedata.normalize("NFC", n) == n)

HOSTILE_POOL = NamePool(
    matrices=DISTINCT, vectors=DISTINCT, scalars=DISTINCT, definitions=DISTINCT,
    functions=("lambda", "print", "np", "_out", "dg", "ℌ", "value_and_grad", "float"),
    dims=("np", "lambda", "t0", "_out", "value_and_grad", "len", "ℌ", "H", "n"),
    declared=DISTINCT, undeclared=False,
)  # fmt: skip


@property_settings(max_examples=200)
@given(cases(names=HOSTILE_POOL))
def test_random_models_with_hostile_names_agree_with_finite_differences(case):
    out = check_case(case)
    assume(out.status != "rejected")
    assert out.status == "ok", out.report()


def _templates(n: str) -> dict[str, tuple[str, str]]:
    return {
        "input": (f"{n}: matrix(m, k); W: matrix(k, m); f = sum(exp({n} * W)) + tr({n}*W)", f"{n},W"),
        "definition": (f"x: vector(k); A: matrix(m, k); {n} = A*x; f = {n}'*{n} + sum(sin({n}))", f"A,x,{n}"),
        "dimension": (f"x: vector({n}); A: matrix(m, {n}); f = sum(exp(A*x)) + x'*x", "A,x"),
        "function": (f"{n}: elementwise; x: vector(k); B: matrix(k, k); f = sum({n}(B*x) .* x)", "x,B"),
        "scalar": (f"{n}: scalar; x: vector(k); f = {n}*x'*x + sin({n})", f"{n},x"),
    }


ROLES = ("input", "definition", "dimension", "function", "scalar")


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_name_in_every_role(name, role):
    model, wrt = _templates(name)[role]
    for seed in range(2):
        out = check_case(case_from_text(model, wrt, seed=seed), derivations=False)
        assert out.status in ("ok", "rejected"), out.report()


COLLISIONS = [
    ("ℌ, H: matrix(m, n); f = sum(ℌ .* exp(H)) + tr(ℌ'*H)", "ℌ,H"),
    ("ﬁ, fi: vector(n); f = ﬁ'*fi + sum(exp(ﬁ))", "ﬁ,fi"),
    ("\u00b5, \u03bc: scalar; x: vector(n); f = \u00b5*x'*x + \u03bc^2", "\u00b5,\u03bc,x"),
    ("\u01c5: matrix(m, n); D\u017e: matrix(n, m); f = tr(\u01c5*D\u017e) + sum(exp(\u01c5))",
     "\u01c5,D\u017e"),
    ("lambda, lambda_: vector(n); f = lambda'*lambda_ + sum(sin(lambda))", "lambda,lambda_"),
    ("np, np_, numpy: vector(n); f = np'*np_ + sum(exp(numpy .* np))", "np,np_,numpy"),
    ("x, grad_x, grad_x_: vector(n); f = x'*grad_x + sum(exp(x .* grad_x_))", "x,grad_x,grad_x_"),
    ("t0, t1: vector(n); A: matrix(n, n); t2 = A*t0; f = t2'*t2 + sum(exp(A*t0)) + t1'*A*t1", "t0,t1,A,t2"),
    ("value_and_grad: matrix(m, n); x: vector(n); f = sum(exp(value_and_grad*x))", "value_and_grad,x"),
    ("_input, _out, _mismatch: vector(n); f = _input'*_out + sum(exp(_mismatch))", "_input,_out,_mismatch"),
    ("H: matrix(ℌ, H); x: vector(H); f = sum(exp(H*x))", "H,x"),
    ("np: elementwise; x: vector(np); f = sum(np(x)) + x'*x", "x"),
    ("dg: vector(n); g: elementwise; f = sum(g(dg)) + dg'*dg", "dg"),
    ("class: vector(def); import: matrix(def, def); f = class'*import*class", "class,import"),
]


@pytest.mark.parametrize("model,wrt", COLLISIONS)
def test_names_that_collide_in_python_stay_apart(model, wrt):
    out = check_case(case_from_text(model, wrt, seed=3), derivations=False)
    assert out.status in ("ok", "rejected"), out.report()


def _keyword_call(name: str):
    model, wrt = _templates(name)["input"]
    g = matcalc.grad(model, wrt=wrt)
    fn = g.to_function()
    rng = np.random.default_rng(0)
    n_, w_ = rng.normal(size=(3, 4)), rng.normal(size=(4, 3))
    by_keyword = fn(**{python_name(name): n_, "W": w_})
    by_position = fn(n_, w_)
    assert by_keyword[0] == by_position[0]


@pytest.mark.parametrize("name", [n for n in HOSTILE if n not in NFKC_CHANGED])
def test_inputs_are_keyword_callable_by_their_python_names(name):
    _keyword_call(name)


@pytest.mark.parametrize("name", NFKC_CHANGED)
def test_inputs_with_non_normalised_names_are_keyword_callable(name):
    """Was a strict xfail: a parameter spelt ``ℌ`` is ``H`` to Python. Fixed in
    printing/numpy.py: ``python_name`` and ``Names`` give the NFKC form."""
    _keyword_call(name)
    assert python_name(name) == unicodedata.normalize("NFKC", python_name(name)) != name


#: Names the grammar accepts that are not Python identifiers (digits of category No).
NOT_IDENTIFIERS = ("x\u2081", "x\u00b2", "a\u00bd")  # x₁ x² a½


@pytest.mark.parametrize("name", NOT_IDENTIFIERS)
def test_names_that_are_not_python_identifiers(name):
    """Was a strict xfail (ValueError from python_name). Fixed in printing/numpy.py: the
    generated code maps them to identifiers (x₁ → x1, x² → x2, a½ → a1_2); text, LaTeX and
    steps keep the user's name."""
    assert not name.isidentifier() and python_name(name).isidentifier()
    model, wrt = _templates(name)["input"]
    out = check_case(case_from_text(model, wrt), derivations=False)
    assert out.status == "ok", out.report()
    _keyword_call(name)
    g = matcalc.grad(model, wrt=wrt)
    assert f"∂f/∂{name} = " in g.text() and name in g.steps_text()
    assert_module_is_clean(g)


#: Model names and the parameters the generated function takes for them (NFKC, then
#: characters that are not identifier characters as ``_``, keywords and collisions with ``_``
#: appended, in order of first appearance).
PARAMETERS = [
    ("ℌ, H: matrix(m, n); f = sum(ℌ .* exp(H))", ["H", "H_"]),
    ("H, ℌ: matrix(m, n); f = sum(ℌ .* exp(H))", ["H", "H_"]),
    ("x\u2082, x2, x₂_: vector(n); f = x\u2082'*x2 + sum(exp(x₂_))", ["x2", "x2_", "x2__"]),
    ("a\u00bd, a1_2: scalar; f = a\u00bd*a1_2", ["a1_2", "a1_2_"]),
    ("lambda, lambda_: vector(n); f = lambda'*lambda_", ["lambda_", "lambda__"]),
    ("ﬁ: vector(n); f = sum(exp(ﬁ))", ["fi"]),
]


@pytest.mark.parametrize("model,params", PARAMETERS)
def test_parameters_are_nfkc_identifiers_told_apart_in_order(model, params):
    g = matcalc.grad(model, wrt=[v.name for v in matcalc.parse(model).inputs])
    fn = g.to_function()
    assert list(inspect.signature(fn).parameters) == params
    assert all(p.isidentifier() and unicodedata.normalize("NFKC", p) == p for p in params)
    doc = inspect.getdoc(fn)
    for v, p in zip(g.model.inputs, params):
        if v.name != p:  # the docstring says which parameter is which model name
            assert f"{p}: the model's {v.name}, " in doc, doc
        else:
            assert f"{p}: an array" in doc or f"{p}: a float" in doc, doc
    assert g.numpy_source() == matcalc.grad(model, wrt=g.wrt).numpy_source()


def test_canonically_equal_names_are_one_name():
    """The model text is read in NFC: Ω (U+2126 OHM SIGN) is Ω (U+03A9), and e + U+0301 is é.
    (Names that differ only in NFKC, such as ℌ and H, stay two names: see COLLISIONS.)"""
    with pytest.raises(matcalc.DefinitionError) as info:
        matcalc.parse("\u2126: matrix(m, n); \u03a9: matrix(n, m); f = tr(\u2126*\u03a9)")
    assert (info.value.line, info.value.column) == (1, 18)
    g = matcalc.grad("e\u0301: vector(n); f = sum(exp(\u00e9))", wrt="e\u0301")
    assert [v.name for v in g.model.inputs] == ["\u00e9"] and g.wrt == ("\u00e9",)
    assert g.text() == "∂f/∂\u00e9 = exp(\u00e9)"


# ------------------------------------------------------------------ no injection

#: Things a hostile user might type to get code into the module. Each is refused by the parser,
#: or parses into names that are identifiers.
INJECTIONS = [
    'x: vector(n); f = x\'*x """; import os; """',
    "x: vector(n); f = x'*x\nimport os",
    "x: vector(n); f = __import__('os')",
    "x: vector(n); f = sum(exp(x)) # \"\"\"\nos.system('ls')",
    "x: vector(n); f = x'*x; __import__ = 1",
    "exec: elementwise; x: vector(n); f = sum(exec(x))",
    "x: vector(n); f = x'*x \\\n; import os",
    "x\": vector(n); f = x'*x",
    "x: vector(n'); f = x'*x",
    "x: vector(n); f = sum(x) + `ls`",
    "x: vector(n); f = {x}",
    "x: vector(n); f = sum(x[0])",
    "x: vector(n); f = x.__class__",
    "x: vector(n); f = sum(x) ; lambda: 0",
    "x: vector(n)\nf = sum(x)\r\nimport os",
    "x: vector(n); f = sum(x)\x00import os",
    "x: vector(n); f = sum(x)\u2028import os",
]


def _module_names(g: matcalc.Gradient) -> set[str]:
    """Every identifier the generated module may contain, without trailing underscores (which
    the generator appends to keep names apart), NFKC-normalised as Python reads them; a model
    name that is no identifier (``a½``) appears as its ``python_name`` (``a1_2``)."""
    model = g.model
    names = {v.name for v in model.inputs} | {v.name for v, _ in model.definitions}
    names |= set(model.elementwise) | {"d" + f for f in model.elementwise} | set(model.dims)
    names |= {"grad_" + python_name(n).rstrip("_") for n in names} | {python_name(n) for n in names}
    names |= {"np", "value_and_grad", "_input", "_mismatch", "_out", "_softmax", "_logsumexp"}
    names |= {"value", "name", "kind", "array", "shape", "fresh", "label", "want", "got", "x", "z", "m"}
    names |= {"_symmetric_sum", "tile", "n", "out", "i", "j", "range"}  # X + Xᵀ in tiles (its helper)
    names |= {"ValueError"}
    return {_base(n) for n in names}


def _base(name: str) -> str:
    return unicodedata.normalize("NFKC", name).rstrip("_") or "_"


def assert_module_is_clean(g: matcalc.Gradient) -> None:
    """Imports only numpy; every identifier is a model name (possibly with ``_`` appended), a
    temporary ``t<k>`` or one of the module's own; no string but identifiers and shapes."""
    source = g.numpy_source()
    tree = ast.parse(source)
    allowed = _module_names(g)
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef)) and ast.get_docstring(node) is not None:
            docstrings.add(id(node.body[0].value))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            assert [a.name for a in node.names] == ["numpy"]
        elif isinstance(node, ast.ImportFrom):
            raise AssertionError(f"from-import in generated code: {ast.dump(node)}")
        ident = None
        if isinstance(node, ast.Name):
            ident = node.id
        elif isinstance(node, ast.arg):
            ident = node.arg
        elif isinstance(node, ast.FunctionDef):
            ident = node.name
        if ident is not None:
            ok = _base(ident) in allowed or re.fullmatch(r"t\d+_*", ident)
            assert ok, f"unexpected identifier {ident!r} in generated code"
        if isinstance(node, ast.Attribute):
            assert not node.attr.startswith("__"), f"dunder attribute {node.attr!r}"
    (main,) = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "value_and_grad"]
    for node in ast.walk(main):  # its strings: the inputs' names, kinds and shapes, nothing else
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            assert re.fullmatch(r"[\w(), *]*", node.value), f"string {node.value!r} in generated code"
    for node in (tree, *[n for n in tree.body if isinstance(n, ast.FunctionDef)]):
        doc = ast.get_docstring(node, clean=False)
        assert doc is None or ('"""' not in doc and "\\" not in doc)


@pytest.mark.parametrize("text", INJECTIONS)
def test_model_text_cannot_inject_code(text):
    try:
        model = matcalc.parse(text)
    except matcalc.MatcalcError:
        return
    names = [v.name for v in model.inputs] + [v.name for v, _ in model.definitions]
    assert all(n.isidentifier() and not keyword.iskeyword(python_name(n)) for n in names)
    if model.output.shape == (1, 1) and model.inputs:
        assert_module_is_clean(matcalc.grad(model, wrt=[v.name for v in model.inputs]))


@pytest.mark.parametrize("model,wrt", COLLISIONS)
def test_generated_code_holds_only_expected_names(model, wrt):
    assert_module_is_clean(matcalc.grad(model, wrt=wrt))


@pytest.mark.parametrize("name", HOSTILE)
def test_generated_code_for_hostile_names_holds_only_expected_names(name):
    for role in ROLES:
        model, wrt = _templates(name)[role]
        assert_module_is_clean(matcalc.grad(model, wrt=wrt))


def test_module_defines_only_its_function_and_helpers():
    model, wrt = _templates("np")["input"]
    namespace: dict = {}
    exec(compile(matcalc.grad(model, wrt=wrt).numpy_source(), "<test>", "exec"), namespace)
    defined = set(namespace) - {"__builtins__"}
    assert defined <= {"np", "np_", "value_and_grad", "_input", "_mismatch", "_out", "_softmax",
                       "_logsumexp", "__doc__"}, defined
    assert inspect.isfunction(namespace["value_and_grad"])
