"""LaTeX output rendered by a real renderer (KaTeX under Node), plus a few facts by string.

Every seed gradient, every identity of ``tests/identities.py`` and every
differential-rule model of ``tests/test_gradients.py`` is printed with
``.latex()``, ``.steps_latex()`` and ``to_latex`` of each gradient; all the
strings go to ONE ``node tests/katex_render.js`` process, which renders each
with ``katex.renderToString(s, {throwOnError: true, displayMode: true})``.

KaTeX is looked up in ``$MATCALC_KATEX_DIR`` (a folder holding
``node_modules/katex``), then ``<repo>/.ci-node``; if neither has it, it is
installed there with ``npm install --prefix <repo>/.ci-node katex@0.16``; a
partial install there (no ``dist/katex.js``) is removed and installed afresh.
Only when node or npm is missing altogether are the rendering tests skipped.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import pytest
from identities import IDENTITIES
from test_gradients import (
    ENTRYWISE_MODELS,
    MODELS,
    OPERATOR_MODELS,
    SEEDS,
    STRUCTURAL_MODELS,
)
from test_textbook import FORMS

import matcalc
from matcalc.architectures import ARCHITECTURES
from matcalc.dims import symbol
from matcalc.expr import EProd, Num, Var
from matcalc.printing.latex import latex_name, to_latex

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RENDER_JS = HERE / "katex_render.js"
KATEX_SPEC = "katex@0.16"

# --------------------------------------------------------------------------
# what is rendered: (model, wrt) pairs, by id

#: Names that need LaTeX care: subscripts, Greek, a function-name subscript.
NAMES_MODEL = (
    "x: vector(n); W_in: matrix(m, n); alpha_1: scalar\n"
    "h_out = exp(alpha_1*W_in*x); Phi = h_out .* h_out; E_max = sum(Phi); f = 2*E_max"
)


def _sources() -> dict[str, tuple[str, str]]:
    out: dict[str, tuple[str, str]] = {}
    for name, wrt, _ in SEEDS:
        out[f"seed:{name}"] = ((MODELS / f"{name}.mc").read_text(), wrt)
    for name, model, wrt, _ in IDENTITIES:
        out[f"identity:{name}"] = (model, wrt)
    for fn, model in ENTRYWISE_MODELS.items():
        out[f"entrywise:{fn}"] = (model, "X")
    for fn, (model, wrt) in STRUCTURAL_MODELS.items():
        out[f"structural:{fn}"] = (model, wrt)
    for op, (model, wrt) in OPERATOR_MODELS.items():
        out[f"operator:{op}"] = (model, wrt)
    out["names"] = (NAMES_MODEL, "W_in,alpha_1")
    out["small numbers"] = ("x: vector(n); f = sum(sqrt(x .^ 2 + 1e-6))", "x")
    out["unicode sub- and superscripts"] = (
        "x₁, x²: vector(n); W_in₁: matrix(n, n); f = x₁'*W_in₁*x²",
        "x₁,x²,W_in₁",
    )
    out["a function of none of the variables"] = ("x, y: vector(n); alpha: scalar; f = alpha^2", "x,y")
    out["matrix powers"] = ("A: matrix(n, n); x: vector(n); f = x'*A^3*x", "A,x")
    out["matrix power 1000"] = ("A: matrix(n, n); x: vector(n); f = x'*A^1000*x", "A,x")
    for kind, build in ARCHITECTURES.items():  # named adjoints, sums and lines over an index
        out[f"deep:{kind}"] = build(8)
    for what, model, wrt, _ in FORMS:
        out[f"textbook:{what}"] = (model, wrt)
    out["norms"] = ("X: matrix(m, n); f = norm1(X) + normF(X)^2 + norm2(X)", "X")
    return out


SOURCES = _sources()


def _latex_strings(model: str, wrt: str) -> dict[str, str]:
    """Every LaTeX string matcalc makes for one model: gradients, steps, each expression."""
    g = matcalc.grad(model, wrt=wrt)
    out = {"latex": g.latex(), "steps_latex": g.steps_latex()}
    for name, e in g.gradients.items():
        out[f"to_latex[{name}]"] = to_latex(e)
    return out


# --------------------------------------------------------------------------
# KaTeX


def _has_katex(folder: Path) -> bool:
    return (folder / "node_modules" / "katex" / "dist" / "katex.js").is_file()


def find_katex() -> Path:
    """The folder holding ``node_modules/katex``, installing KaTeX if needed (or skip)."""
    env = os.environ.get("MATCALC_KATEX_DIR")
    if env:
        folder = Path(env)
        if not _has_katex(folder):
            pytest.fail(f"MATCALC_KATEX_DIR={env} has no node_modules/katex")
        if shutil.which("node") is None:
            pytest.skip("node is not installed: cannot render LaTeX with KaTeX")
        return folder
    if shutil.which("node") is None:
        pytest.skip("node is not installed: cannot render LaTeX with KaTeX")
    folder = REPO / ".ci-node"
    if _has_katex(folder):
        return folder
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed: cannot install KaTeX to render LaTeX")
    install_katex(folder)
    return folder


def install_katex(folder: Path) -> None:
    """Install KaTeX under ``folder`` (which only this harness writes), repairing a partial install."""
    if folder.exists() and not _has_katex(folder):
        # A partial install (``node_modules/katex`` without ``dist/katex.js``):
        # npm would call it "up to date", so the folder is started afresh.
        shutil.rmtree(folder)
    proc = subprocess.run(
        [shutil.which("npm") or "npm", "install", "--prefix", str(folder), KATEX_SPEC,
         "--no-audit", "--no-fund"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode != 0 or not _has_katex(folder):
        pytest.fail(f"npm install {KATEX_SPEC} failed:\n{proc.stdout}\n{proc.stderr}")


def render(folder: Path, strings: list[str]) -> list[dict]:
    """KaTeX's verdict on each string (``ok``, ``error``, ``warnings``), one node process."""
    proc = subprocess.run(
        ["node", str(RENDER_JS), str(folder)],
        input=json.dumps(strings),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout)
    assert len(results) == len(strings)
    return results


@pytest.fixture(scope="module")
def katex_dir() -> Path:
    return find_katex()


@pytest.fixture(scope="module")
def rendered(katex_dir):
    """``id -> {kind: (latex, KaTeX result)}``, or ``id -> exception`` if matcalc failed."""
    made: dict[str, dict[str, str] | Exception] = {}
    for key, (model, wrt) in SOURCES.items():
        try:
            made[key] = _latex_strings(model, wrt)
        except Exception as exc:  # reported by the test of that model
            made[key] = exc
    flat = [(k, kind, s) for k, v in made.items() if isinstance(v, dict) for kind, s in v.items()]
    results = render(katex_dir, [s for _, _, s in flat])
    out: dict = {k: v for k, v in made.items() if isinstance(v, Exception)}
    for (key, kind, s), res in zip(flat, results, strict=True):
        out.setdefault(key, {})[kind] = (s, res)
    return out


@pytest.mark.parametrize("key", list(SOURCES))
def test_katex_renders(rendered, key):
    got = rendered[key]
    if isinstance(got, Exception):
        raise got
    bad = [
        f"{kind}: {res['error'] or '; '.join(res['warnings'])}\n    {s}"
        for kind, (s, res) in got.items()
        if not res["ok"] or res["warnings"]
    ]
    assert not bad, "KaTeX rejected:\n" + "\n".join(bad)
    for kind, (s, _) in got.items():
        assert s.isascii(), f"{kind}: non-ASCII character in LaTeX: {s}"


def test_katex_rejects_bad_latex(katex_dir):
    """The renderer really checks: an undefined command and unbalanced braces fail."""
    good, undefined, unbalanced = render(katex_dir, [r"\frac{a}{b}", r"\foo x", r"\frac{a}{b"])
    assert good["ok"]
    assert not undefined["ok"] and "\\foo" in undefined["error"]
    assert not unbalanced["ok"]


# --------------------------------------------------------------------------
# facts by string


@pytest.mark.parametrize(
    "name,latex",
    [
        ("E_max", r"E_{\max}"),
        ("alpha", r"\alpha"),
        ("lambda", r"\lambda"),
        ("Phi", r"\Phi"),
        ("W1", "W_{1}"),
        ("x_i", "x_{i}"),
        ("W_out", r"W_{\mathrm{out}}"),
        ("loss", r"\mathit{loss}"),
        ("x\u2081", "x_{1}"),
        ("x\u00b2", "x^{2}"),
        ("alpha\u2081\u2082", r"\alpha_{12}"),
        ("W_in\u2081", r"{W_{\mathrm{in}}}_{1}"),
    ],
)
def test_latex_names(name, latex):
    assert latex_name(name) == latex


def _grad(name: str, wrt: str):
    return matcalc.grad((MODELS / f"{name}.mc").read_text(), wrt=wrt)


def test_seed000_latex():
    g = _grad("seed000", "W")
    assert g.latex() == (
        "\\begin{aligned}\n"
        r"\frac{\partial f}{\partial W} &= "
        r"\left(\left({M}^\top \left(t - y\right)\right) \odot "
        r"\operatorname{step}\left(s\right)\right) {x}^\top"
        "\n\\end{aligned}"
    )
    assert g._repr_latex_() == "$$" + g.latex() + "$$"


def test_seed_latex_facts():
    g = _grad("seed003", "alpha,beta")
    latex = g.latex()
    assert r"\frac{\partial L}{\partial \alpha}" in latex
    assert r"\frac{\partial L}{\partial \beta}" in latex
    assert r"\odot" in latex and r"\mathbf{1}^\top" in latex
    g = _grad("seed004", "V")
    assert r"{X}^\top" in g.latex() and r"\Phi" in g.latex() and r"^{\circ 2}" in g.latex()
    g = _grad("seed004_abstract", "V")
    assert r"f'\left(X V\right)" in g.latex()
    steps = _grad("seed001", "A").steps_latex()
    assert steps.startswith("\\begin{aligned}\n" + r"\mathrm{d}L &= ")
    assert r"\mathrm{d}A" in steps and r"\text{differential of }" in steps


def test_e_max_dimension_and_name():
    g = matcalc.grad("E_max: matrix(n, m); x: vector(m); f = sum(exp(E_max*x))", wrt="E_max")
    assert r"\frac{\partial f}{\partial E_{\max}}" in g.latex()
    assert r"\exp\left(E_{\max} x\right) {x}^\top" in g.latex()


def test_operators_in_latex():
    g = matcalc.grad("A, B: matrix(m, n); f = sum(A ./ B) + 1/2*sum(A .* B)", wrt="B")
    latex = to_latex(g["B"])
    assert r"\oslash" in latex and r"\frac{1}{2}" in latex and "{B}^{\\circ 2}" in latex
    g = matcalc.grad("X: matrix(n, n); a, b: vector(n); f = a'*inv(X)*b", wrt="X")
    assert to_latex(g["X"]) == r"-{X}^{-\top} a {b}^\top {X}^{-\top}"
    g = matcalc.grad("X: matrix(m, n); f = norm1(X) + normF(X)^2 + norm2(X)", wrt="X")
    assert r"\frac{1}{\left\|X\right\|_{2}}" in to_latex(g["X"])


def test_scalar_entrywise_products_and_small_numbers():
    """Scalar ``EProd`` nodes use ``\\cdot`` and ``\\frac``; ``1e-06`` is ``10^{-6}``."""
    alpha, beta = Var("alpha", (1, 1)), Var("beta", (1, 1))
    m, n = symbol("m"), symbol("n")
    X = Var("X", (m, n))
    one = Fraction(1)
    square = EProd(((alpha, one), (beta, Fraction(2))), (1, 1))
    assert to_latex(square) == r"\alpha \cdot {\beta}^{2}"
    assert to_latex(EProd(((alpha, one), (beta, -one)), (1, 1))) == r"\frac{\alpha}{\beta}"
    assert to_latex(EProd(((X, one), (X, Fraction(-1, 2))), (m, n))) == (
        r"X \oslash {X}^{\circ 1/2}"
    )
    assert to_latex(Num(Fraction(1, 10**6))) == "10^{-6}"
    assert to_latex(Num(Fraction(-3, 10**7))) == r"-3 \cdot 10^{-7}"
    assert to_latex(Num(Fraction(1, 3))) == r"\frac{1}{3}"
    assert to_latex(Num(Fraction(1, 1000))) == "0.001"


def test_rule_labels_use_latex_names():
    g = matcalc.grad(NAMES_MODEL, wrt="W_in")
    steps = g.steps_latex()
    assert r"\text{differential of }E_{\max}" in steps
    assert r"\text{differential of }\Phi" in steps
    assert r"\text{differential of }h_{\mathrm{out}}" in steps


def test_partial_katex_install_is_repaired(tmp_path):
    """A ``node_modules/katex`` without ``dist/katex.js`` (as once committed) is reinstalled."""
    if shutil.which("npm") is None or shutil.which("node") is None:
        pytest.skip("node or npm is not installed: cannot install KaTeX")
    folder = tmp_path / "node"
    partial = folder / "node_modules" / "katex"
    partial.mkdir(parents=True)
    (partial / "package.json").write_text('{"name": "katex", "version": "0.16.0"}')
    (folder / "package.json").write_text('{"dependencies": {"katex": "^0.16.0"}}')
    assert not _has_katex(folder)
    install_katex(folder)
    assert _has_katex(folder)
    assert render(folder, ["x^{2}"])[0]["ok"]
