"""Write the notebooks of this folder: one per seed question, plus a tour.

    python notebooks/build_notebooks.py          # (re)write every notebook
    python notebooks/build_notebooks.py --check  # exit 1 if a notebook is stale

The notebooks are stored without outputs and with fixed cell ids, so the
same source always gives the same files (tests/test_notebooks.py checks
this and executes every notebook with a real Jupyter kernel).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from textwrap import dedent

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}


def _notebook(slug: str, cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    """A notebook from ``(kind, source)`` pairs; cell ids are ``slug-NN``."""
    nb = new_notebook(metadata={"kernelspec": KERNELSPEC, "language_info": {"name": "python"}})
    for i, (kind, source) in enumerate(cells):
        text = dedent(source).strip("\n")
        cell = new_markdown_cell(text) if kind == "md" else new_code_cell(text)
        cell["id"] = f"{slug}-{i:02d}"
        nb.cells.append(cell)
    return nb


def md(source: str) -> tuple[str, str]:
    return "md", source


def code(source: str) -> tuple[str, str]:
    return "code", source


# ----------------------------------------------------------------------------
# cells every seed notebook shares

SETUP = code(
    """
    import numpy as np
    from IPython.display import Math, display

    import matcalc
    from matcalc.check import check

    rng = np.random.default_rng(0)
    """
)

HELPERS = code(
    '''
    def central_differences(fun, x, h=1e-6):
        """d fun / d x entry by entry, by central differences (x: a float or an array)."""
        x = np.asarray(x, dtype=float)
        grad = np.zeros_like(x)
        for idx in np.ndindex(x.shape):
            step = np.zeros_like(x)
            step[idx] = h
            grad[idx] = (fun(x + step) - fun(x - step)) / (2 * h)
        return grad


    def relative_error(a, b):
        a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
        assert a.shape == b.shape, (a.shape, b.shape)
        return np.linalg.norm(a - b) / max(np.linalg.norm(a), np.linalg.norm(b))
    '''
)

CODEGEN_MD = md(
    """
    ## NumPy code

    `numpy_source()` is a self-contained module (it imports only NumPy);
    `to_function()` compiles it. Vectors are 1-D arrays, matrices 2-D, scalars
    floats; the function returns the value and then one gradient per `wrt`
    variable, each with exactly that variable's shape.
    """
)

CHECK_MD = md(
    """
    ## Numerical check

    Random inputs with distinct sizes (so a transposed or misplaced factor
    cannot hide behind a square shape), the forward pass written by hand in
    NumPy, and central finite differences of it for every entry of every
    variable. Then matcalc's own checker, which draws its own random sizes.
    """
)


def seed_check(names: str, forward_args: str) -> tuple[str, str]:
    """The cell comparing ``f``'s gradients with central differences of ``forward``."""
    return code(
        f"""
        value, *grads = f(**inputs)
        assert np.isclose(value, forward({forward_args}), rtol=1e-12)
        for name, grad in zip({names.split(",")!r}, grads):
            assert np.shape(grad) == np.shape(inputs[name]), (name, np.shape(grad))

            def along(v, name=name):
                return forward(**{{**inputs, name: v}})

            err = relative_error(grad, central_differences(along, inputs[name]))
            print(f"d/d{{name}}: relative error {{err:.1e}}")
            assert err < 1e-6, (name, err)
        """
    )


MATCALC_CHECK = code(
    """
    result = check(g.derivation, seed=0)
    print(result)
    assert result.ok
    """
)


def derive_cells(wrt: str) -> list[tuple[str, str]]:
    return [
        code(f'g = matcalc.grad(model, wrt="{wrt}")\ng'),
        md("The derivation, each line with the identity it used:"),
        code("print(g.steps_text())"),
        code("display(Math(g.steps_latex()))"),
    ]


# ----------------------------------------------------------------------------
# the seed notebooks

SEED000 = [
    md(
        """
        # Seed 000 — gradient of a two-layer ReLU network's loss w.r.t. a weight matrix

        **The question.** A small network computes `s = Wx + b`, `a = max(0, s)`
        (entry-wise), `t = Ma + c` and the loss `f = ½ Σᵢ (tᵢ − yᵢ)²`, with
        `x ∈ ℝⁿ`, `W ∈ ℝ^{m×n}`, `M ∈ ℝ^{p×m}`. For gradient descent the asker needs
        `∂f/∂W`, a matrix of `W`'s shape, and a systematic way to get it.

        **The accepted answer** takes the differential, writes the ReLU's derivative
        as the Heaviside step `H(s)`, and moves `dW` out with Frobenius-product
        identities, arriving at `∂f/∂W = ((Mᵀ(t − y)) ∘ H(s)) xᵀ`.
        """
    ),
    SETUP,
    md("## The model in the matcalc language"),
    code(
        '''
        model = """
        x: vector(n)
        b: vector(m)
        W: matrix(m, n)
        M: matrix(p, m)
        c, y: vector(p)

        s = W*x + b
        a = relu(s)
        t = M*a + c
        f = 1/2 * sum((t - y).^2)
        """
        '''
    ),
    md(
        """
        ## The gradients

        The question asks for `W`; the other parameters come for free.
        `step` is the Heaviside function (`relu' = step`).
        """
    ),
    *derive_cells("W,M,b,c"),
    CODEGEN_MD,
    code("print(g.numpy_source())\nf = g.to_function()"),
    CHECK_MD,
    HELPERS,
    code(
        """
        n, m, p = 5, 4, 3
        inputs = {
            "x": rng.normal(size=n),
            "b": rng.normal(size=m),
            "W": rng.normal(size=(m, n)),
            "M": rng.normal(size=(p, m)),
            "c": rng.normal(size=p),
            "y": rng.normal(size=p),
        }


        def forward(x, b, W, M, c, y):
            t = M @ np.maximum(W @ x + b, 0) + c
            return 0.5 * np.sum((t - y) ** 2)
        """
    ),
    seed_check("W,M,b,c", "**inputs"),
    md("The accepted answer's formula, `((Mᵀ(t − y)) ∘ H(s)) xᵀ`, in plain NumPy:"),
    code(
        """
        x, b, W, M, c, y = (inputs[k] for k in "x b W M c y".split())
        s = W @ x + b
        t = M @ np.maximum(s, 0) + c
        answer = np.outer((M.T @ (t - y)) * (s > 0), x)
        _, grad_W, *_ = f(**inputs)
        assert np.allclose(grad_W, answer, rtol=1e-12, atol=1e-12)
        """
    ),
    MATCALC_CHECK,
]

SEED001 = [
    md(
        """
        # Seed 001 — `L = ‖Ax‖²` with respect to the matrix `A`

        **The question.** With `A ∈ ℝ^{K×K}`, `x ∈ ℝᴷ`, `w = Ax` and `L = ‖w‖²`,
        the chain rule `∂L/∂A = ∂L/∂w · ∂w/∂A` seems to need `∂w/∂A`, a
        vector-by-matrix derivative whose shape is unclear. What shape does
        `∂L/∂A` have, and what is it?

        **The accepted answer** avoids the third-order tensor: with the Frobenius
        product, `dL = 2w : dA x = 2wxᵀ : dA`, so `∂L/∂A = 2wxᵀ = 2Axxᵀ`, a
        `K×K` matrix like `A`.
        """
    ),
    SETUP,
    md("## The model in the matcalc language"),
    code(
        '''
        model = """
        A: matrix(K, K)
        x: vector(K)

        w = A*x
        L = norm2(w)^2
        """
        '''
    ),
    md("## The gradients (w.r.t. `A`, and `x` as well)"),
    *derive_cells("A,x"),
    CODEGEN_MD,
    code("print(g.numpy_source())\nf = g.to_function()"),
    CHECK_MD,
    HELPERS,
    code(
        """
        K = 4
        inputs = {"A": rng.normal(size=(K, K)), "x": rng.normal(size=K)}


        def forward(A, x):
            return np.sum((A @ x) ** 2)
        """
    ),
    seed_check("A,x", "**inputs"),
    md("The accepted answer's `2Axxᵀ`:"),
    code(
        """
        A, x = inputs["A"], inputs["x"]
        _, grad_A, grad_x = f(**inputs)
        assert np.allclose(grad_A, 2 * np.outer(A @ x, x), rtol=1e-12)
        assert grad_A.shape == (K, K)
        """
    ),
    MATCALC_CHECK,
]

SEED002 = [
    md(
        """
        # Seed 002 — a row vector times the square of a ReLU layer

        **The question.** Fixed `A ∈ ℝ^{1×ℓ}` (a row), `B ∈ ℝ^{ℓ×m}`, `z ∈ ℝᵈ`;
        parameters `V ∈ ℝ^{m×k}`, `W ∈ ℝ^{k×d}`. The scalar
        `f = A σ₂(B V σ₁(W z))`, with `σ₂(x) = x²` and `σ₁ = ReLU` entry-wise.
        What are `∇_V f` and `∇_W f`?

        **The accepted answer** names `x = Wz`, `h = step(x)`, `r = relu(x)`,
        `y = BVr`, `a = Aᵀ`, writes the Hadamard products with diagonal matrices
        `Y = Diag(y)`, `H = Diag(h)` and finds
        `∂f/∂V = 2BᵀYarᵀ` and `∂f/∂W = 2HVᵀBᵀYazᵀ`. Since `Ya = y ∘ Aᵀ` and
        `Hu = h ∘ u`, these are the forms matcalc prints.
        """
    ),
    SETUP,
    md(
        """
        ## The model in the matcalc language

        `A` is declared `matrix(1, l)`, a row; `sq` squares entry-wise.
        """
    ),
    code(
        '''
        model = """
        A: matrix(1, l)
        B: matrix(l, m)
        V: matrix(m, k)
        W: matrix(k, d)
        z: vector(d)

        x = W*z
        r = relu(x)
        y = B*V*r
        f = A*sq(y)
        """
        '''
    ),
    md("## The gradients w.r.t. `V` and `W`"),
    *derive_cells("V,W"),
    CODEGEN_MD,
    code("print(g.numpy_source())\nf = g.to_function()"),
    CHECK_MD,
    HELPERS,
    code(
        """
        l, m, k, d = 3, 4, 5, 6
        inputs = {
            "A": rng.normal(size=(1, l)),
            "B": rng.normal(size=(l, m)),
            "V": rng.normal(size=(m, k)),
            "W": rng.normal(size=(k, d)),
            "z": rng.normal(size=d),
        }


        def forward(A, B, V, W, z):
            return (A @ (B @ V @ np.maximum(W @ z, 0)) ** 2).item()
        """
    ),
    seed_check("V,W", "**inputs"),
    md("The accepted answer's `2BᵀYarᵀ` and `2HVᵀBᵀYazᵀ`, with the diagonal matrices built:"),
    code(
        """
        A, B, V, W, z = (inputs[k] for k in "A B V W z".split())
        x = W @ z
        r = np.maximum(x, 0)
        y = B @ V @ r
        Y, H, a = np.diag(y), np.diag((x > 0).astype(float)), A.T[:, 0]
        _, grad_V, grad_W = f(**inputs)
        assert np.allclose(grad_V, 2 * np.outer(B.T @ Y @ a, r), rtol=1e-12)
        assert np.allclose(grad_W, 2 * np.outer(H @ V.T @ B.T @ Y @ a, z), rtol=1e-12)
        """
    ),
    MATCALC_CHECK,
]

SEED003 = [
    md(
        """
        # Seed 003 — a loss through row products of sigmoids, w.r.t. two scalars

        **The question.** With `I, D ∈ ℝ^{N×E_max}` and scalars `α, β`,
        `s(α, β) = N − Σᵢ Πⱼ (1 − sigm(α I + β D))ᵢⱼ` and `L = ½ (y − s)²`.
        Is there a concise way to write the row product, and how does one get
        `dL/dα` (and `dL/dβ`) without differentiating a vector by a matrix?

        **The accepted answer** writes the row product as `p = exp(log(1 − F) 𝟙)`
        with `F = sigm(X)`, `X = αI + βD`, and back-substitutes differentials to
        `∂L/∂α = (s − y) Tr(P F Iᵀ)` with `P = Diag(p)`; the same with `D` for `β`.
        Note `Tr(P F Iᵀ) = (p𝟙ᵀ) ∘ F : I`, the form matcalc prints.
        """
    ),
    SETUP,
    md(
        """
        ## The model in the matcalc language

        `ones` is the all-ones vector (its size is inferred), so
        `exp(log(1 - F)*ones)` is the product of each row of `1 − F`;
        `s = sum(1 - p)` is `N − Σᵢ pᵢ`.
        """
    ),
    code(
        '''
        model = """
        I, D: matrix(N, E_max)
        alpha, beta, y: scalar

        X = alpha*I + beta*D
        F = sigm(X)
        p = exp(log(1 - F)*ones)
        s = sum(1 - p)
        L = 1/2 * (y - s)^2
        """
        '''
    ),
    md("## The gradients w.r.t. `alpha` and `beta`"),
    *derive_cells("alpha,beta"),
    CODEGEN_MD,
    code("print(g.numpy_source())\nf = g.to_function()"),
    CHECK_MD,
    md(
        """
        The hand-written forward pass uses the question's own form, `np.prod`
        over each row, so this also checks the `exp(log(·) 𝟙)` rewriting.
        """
    ),
    HELPERS,
    code(
        """
        N, E_max = 4, 6
        inputs = {
            "I": rng.normal(size=(N, E_max)),
            "D": rng.normal(size=(N, E_max)),
            "alpha": float(rng.normal()),
            "beta": float(rng.normal()),
            "y": float(rng.normal()),
        }


        def forward(I, D, alpha, beta, y):
            F = 1 / (1 + np.exp(-(alpha * I + beta * D)))
            s = I.shape[0] - np.sum(np.prod(1 - F, axis=1))
            return float(0.5 * (y - s) ** 2)
        """
    ),
    seed_check("alpha,beta", "**inputs"),
    md("The accepted answer's `(s − y) Tr(P F Iᵀ)` and its `β` twin:"),
    code(
        """
        I, D, alpha, beta, y = (inputs[k] for k in "I D alpha beta y".split())
        F = 1 / (1 + np.exp(-(alpha * I + beta * D)))
        p = np.prod(1 - F, axis=1)
        s = N - p.sum()
        P = np.diag(p)
        _, grad_alpha, grad_beta = f(**inputs)
        assert isinstance(grad_alpha, float) and isinstance(grad_beta, float)
        assert np.isclose(grad_alpha, (s - y) * np.trace(P @ F @ I.T), rtol=1e-10)
        assert np.isclose(grad_beta, (s - y) * np.trace(P @ F @ D.T), rtol=1e-10)
        """
    ),
    MATCALC_CHECK,
]

SEED004 = [
    md(
        """
        # Seed 004 — `‖𝟙ᵀ f(XV)‖²` with respect to `V`

        **The question.** `X ∈ ℝ^{t×n}`, `V ∈ ℝ^{n×m}` and `Φ = f(XV)` with a
        differentiable `f` applied entry-wise. What is `∂/∂V ‖𝟙ᵀΦ‖²`? The asker's
        first guess, `2Xᵀ[f(XV) ∘ f′(XV)]`, failed a gradient checker.

        **The accepted answer** is `2Xᵀ[(𝟙𝟙ᵀΦ) ∘ f′(XV)]`: the all-ones
        factor `𝟙𝟙ᵀ` (which sums the columns of `Φ` and spreads the sums over
        every row) is what the first guess missed.

        Below: first with `f = tanh`, then with `f` left abstract.
        """
    ),
    SETUP,
    md("## With `f = tanh`"),
    code(
        '''
        model = """
        X: matrix(t, n)
        V: matrix(n, m)

        Phi = tanh(X*V)
        L = norm2(ones'*Phi)^2
        """
        '''
    ),
    *derive_cells("V"),
    md("`tanh' = 1 − tanh²`, so `f′(XV)` appears as `1 − Φ.^2`."),
    CODEGEN_MD,
    code("print(g.numpy_source())\nf = g.to_function()"),
    CHECK_MD,
    HELPERS,
    code(
        """
        t, n, m = 6, 4, 3
        inputs = {"X": rng.normal(size=(t, n)), "V": 0.5 * rng.normal(size=(n, m))}


        def forward(X, V, f=np.tanh):
            return np.sum(f(X @ V).sum(axis=0) ** 2)
        """
    ),
    seed_check("V", "**inputs"),
    md("The accepted answer's `2Xᵀ[(𝟙𝟙ᵀΦ) ∘ f′(XV)]`, and the asker's first guess, which is off:"),
    code(
        """
        X, V = inputs["X"], inputs["V"]
        Phi = np.tanh(X @ V)
        ones = np.ones((t, t))
        _, grad_V = f(**inputs)
        assert np.allclose(grad_V, 2 * X.T @ ((ones @ Phi) * (1 - Phi**2)), rtol=1e-12)
        first_guess = 2 * X.T @ (Phi * (1 - Phi**2))
        print("relative error of the first guess:", relative_error(first_guess, grad_V))
        """
    ),
    MATCALC_CHECK,
    md(
        """
        ## With an abstract entry-wise `f`

        Declared `f: elementwise`, the function stays a symbol; its derivative is
        written `f'`, and the generated code takes two callables, `f` and `df`.
        """
    ),
    code(
        '''
        model_abstract = """
        X: matrix(t, n)
        V: matrix(n, m)
        f: elementwise

        Phi = f(X*V)
        L = norm2(ones'*Phi)^2
        """
        g2 = matcalc.grad(model_abstract, wrt="V")
        g2
        '''
    ),
    code("print(g2.steps_text())"),
    code("print(g2.numpy_source())\nf2 = g2.to_function()"),
    md(
        """
        Passing `np.tanh` and its derivative gives back the tanh result; passing
        `np.sin` and `np.cos` is checked against central differences.
        """
    ),
    code(
        """
        value, grad_V = f2(**inputs, f=np.tanh, df=lambda u: 1 - np.tanh(u) ** 2)
        value_tanh, grad_V_tanh = f(**inputs)
        assert np.isclose(value, value_tanh) and np.allclose(grad_V, grad_V_tanh, rtol=1e-12)

        value, grad_V = f2(**inputs, f=np.sin, df=np.cos)
        assert np.isclose(value, forward(**inputs, f=np.sin), rtol=1e-12)
        numeric = central_differences(lambda v: forward(inputs["X"], v, f=np.sin), inputs["V"])
        err = relative_error(grad_V, numeric)
        print(f"f = sin: relative error {err:.1e}")
        assert err < 1e-6
        """
    ),
    code(
        """
        result = check(g2.derivation, seed=0)
        print(result)
        assert result.ok
        """
    ),
]

# ----------------------------------------------------------------------------
# the tour

TOUR = [
    md(
        """
        # A tour of matcalc

        matcalc takes a small model written in matrix notation, derives the
        closed-form gradient of a scalar the way a textbook (or a good
        math.stackexchange answer) does — take the differential, move `dX` out
        with Frobenius-product identities until it reads `df = G : dX`, read off
        `∂f/∂X = G` — checks it numerically, and writes NumPy code for it.
        """
    ),
    code(
        """
        import numpy as np
        from IPython.display import Math, display

        import matcalc
        from matcalc.check import check
        from matcalc.printing.latex import to_latex
        from matcalc.printing.text import to_text
        """
    ),
    md(
        """
        ## 1. A model and what the parser makes of it

        Declarations (`NAME: KIND`), definitions (`NAME = EXPR`, kept by name in
        the results) and, last, the scalar to differentiate.
        """
    ),
    code(
        '''
        text = """
        # logistic regression with an L2 penalty
        X: matrix(m, n)
        w: vector(n)
        y: vector(m)
        lambda: scalar

        z = X*w
        p = sigmoid(z)
        f = -(y'*log(p) + (1 - y)'*log(1 - p)) + lambda/2 * norm2(w)^2
        """
        model = matcalc.parse(text)


        def kind(v):
            rows, cols = v.shape
            if (rows, cols) == (1, 1):
                return "scalar"
            return f"vector({rows})" if cols == 1 else f"matrix({rows}, {cols})"


        print("inputs:")
        for v in model.inputs:
            print(f"  {v.name}: {kind(v)}")
        print("definitions:")
        for v, rhs in model.definitions:
            print(f"  {v.name} = {to_text(rhs)}    [{kind(v)}]")
        print("output:", model.output.name, " dimensions:", model.dims)
        '''
    ),
    md(
        """
        Undeclared names get a kind by convention (upper-case first letter: a
        matrix; lower-case Greek: a scalar; other lower-case: a column vector),
        and their sizes are inferred from how they are used:
        """
    ),
    code(
        """
        quick = matcalc.parse("f = norm2(A*x - y)^2 + lambda*norm2(x)^2")
        for v in quick.inputs:
            print(f"{v.name}: {kind(v)}")
        """
    ),
    md("Mistakes are reported with the line, the column and the shapes that disagree:"),
    code(
        """
        try:
            matcalc.parse("W: matrix(m, n)\\nx: vector(k)\\nf = sum(W*x)")
        except matcalc.MatcalcError as err:
            print(f"{type(err).__name__}: {err}")
        """
    ),
    md(
        """
        ## 2. Gradients: text and LaTeX

        `matcalc.grad(model, wrt=...)` returns a `Gradient`; in a notebook it
        displays as LaTeX.
        """
    ),
    code('g = matcalc.grad(model, wrt="w,lambda")\ng'),
    code("print(g.text())"),
    code("print(g.latex())"),
    md("Each gradient is an expression; the printers work on any of them:"),
    code(
        """
        for name, expr in g:
            print(name, "|", to_text(expr), "|", to_latex(expr))
        """
    ),
    md(
        """
        ## 3. The derivation

        Every line is an equation with the rule it used, in the style of the
        seed answers; as text and as LaTeX.
        """
    ),
    code("print(g.steps_text())"),
    code("display(Math(g.steps_latex()))"),
    md("The same in plain data, for tools that call matcalc:"),
    code(
        """
        data = g.to_json()
        print(sorted(data), len(data["steps"]), "steps")
        print(data["gradients"]["w"])
        """
    ),
    md(
        """
        ## 4. Numerical check

        `check` draws random distinct sizes and random inputs and compares each
        gradient with central finite differences.
        """
    ),
    code(
        """
        result = check(g.derivation, seed=0)
        print(result)
        assert result.ok
        """
    ),
    md(
        """
        ## 5. NumPy code

        A self-contained module defining `value_and_grad(inputs...)`; `lambda`
        is a Python keyword, so its parameter is `lambda_`.
        """
    ),
    code("print(g.numpy_source())"),
    code(
        """
        value_and_grad = g.to_function()
        rng = np.random.default_rng(1)
        m, n = 7, 3
        X = rng.normal(size=(m, n))
        w = rng.normal(size=n)
        y = (rng.uniform(size=m) < 0.5).astype(float)
        value, grad_w, grad_lambda = value_and_grad(X=X, w=w, y=y, lambda_=0.1)
        print(value, grad_w, grad_lambda)

        p = 1 / (1 + np.exp(-X @ w))
        assert np.allclose(grad_w, X.T @ (p - y) + 0.1 * w)
        assert np.isclose(grad_lambda, 0.5 * w @ w)
        """
    ),
    md(
        """
        ## 6. More kinds: symmetric matrices and abstract functions

        The gradient w.r.t. a `symmetric(d)` matrix lives on the symmetric
        matrices; an `elementwise` function stays abstract and its derivative
        is written `g'`.
        """
    ),
    code(
        """
        gs = matcalc.grad("S: symmetric(n); x: vector(n); f = x'*S*S*x", wrt="S")
        display(gs)
        ga = matcalc.grad("g: elementwise; W: matrix(m, n); x: vector(n); f = sum(g(W*x))", wrt="W")
        display(ga)
        assert check(gs.derivation).ok and check(ga.derivation).ok
        """
    ),
    md(
        """
        The five seed notebooks in this folder work through the questions matcalc
        was built around, each checked against central differences.
        """
    ),
]

# ----------------------------------------------------------------------------
# the cell magic

MAGIC = [
    md(
        """
        # matcalc in Jupyter: the `%%matcalc` cell magic

        `%load_ext matcalc` adds a cell magic: write a model in a cell headed
        `%%matcalc --wrt W` and the cell shows the gradient, rendered, with the
        step-by-step derivation folded under it (`--steps` shows it unfolded).
        The gradient object is kept as `_matcalc` (or the name given with `--as`).
        """
    ),
    code("%load_ext matcalc"),
    code(
        """
        %%matcalc --wrt W,M --as net
        # seed 000: two-layer network with squared loss
        x: vector(n); b: vector(m); W: matrix(m, n); M: matrix(p, m); c, y: vector(p)
        s = W*x + b
        a = relu(s)
        t = M*a + c
        f = 1/2 * sum((t - y).^2)
        """
    ),
    md("The result is an ordinary `Gradient`: check it against central differences."),
    code(
        """
        from matcalc.check import check

        result = check(net.derivation, seed=0)
        print(dict(zip(result.names, (f"{e:.1e}" for e in result.errors))))
        assert result.ok
        """
    ),
    md(
        """
        matrixcalculus.org's default example, pasted as it is, with its naming
        convention (`a`–`g` scalars, `h`–`z` vectors, `A`–`Z` matrices) and the
        derivation unfolded:
        """
    ),
    code(
        """
        %%matcalc --wrt x,c --steps --convention mc
        x'*A*x + c*sin(y)'*x
        """
    ),
    code(
        """
        html = _matcalc._repr_html_()
        assert "<details>" in html and "partial f}{" in html
        assert check(_matcalc.derivation, seed=1).ok
        print(_matcalc.text())
        """
    ),
    md(
        """
        A mistake shows where it is and what was expected (under matcalc's own
        convention `c` is a vector, and the note says how to read it as a scalar):
        """
    ),
    code(
        """
        %%matcalc --wrt x
        x'*A*x + c*sin(y)'*x
        """
    ),
]

# ----------------------------------------------------------------------------
# a model defined by formula

FORMULA = [
    md(
        """
        # A network whose activations are defined by formula: GELU and softsign

        A definition with one parameter defines a scalar function that matcalc applies
        entry by entry: `gelu(u) = u * sigmoid(1.702*u)` (the sigmoid approximation of
        the Gaussian error linear unit) and `softsign(u) = u / (1 + abs(u))`. SymPy
        derives `gelu'` and `softsign'` exactly; results write `gelu'(…)` and end with a
        line `where gelu'(u) = …`, and the generated NumPy module defines `_gelu` and
        `_dgelu`. This notebook derives the gradients of a small network built from them
        and checks everything numerically.
        """
    ),
    SETUP,
    md(
        """
        ## The two functions alone

        For `f = sum(gelu(x)) + 2 sum(softsign(x))` the gradient is
        `gelu'(x) + 2 softsign'(x)`, the derivatives of the `where` lines, so the generated
        function evaluates them on a grid. Central differences of the two functions
        written by hand in NumPy must agree with it.
        """
    ),
    code(
        '''
        functions = """
        gelu(u) = u * sigmoid(1.702*u)
        softsign(u) = u / (1 + abs(u))
        x: vector(n)
        f = sum(gelu(x)) + 2*sum(softsign(x))
        """
        g1 = matcalc.grad(functions, wrt="x")
        print(g1.text())
        assert "where gelu'(u) = " in g1.text() and "where softsign'(u) = " in g1.text()
        '''
    ),
    code(
        """
        def gelu(u):
            return u / (1 + np.exp(-1.702 * u))


        def softsign(u):
            return u / (1 + np.abs(u))


        def by_differences(fun, u, h=1e-6):
            return (fun(u + h) - fun(u - h)) / (2 * h)


        u = np.linspace(-6, 6, 240)  # an even count: 0 is not on the grid (softsign's kink)
        value, derivative = g1.to_function()(u)
        assert np.isclose(value, np.sum(gelu(u)) + 2 * np.sum(softsign(u)), rtol=1e-12)
        error = np.max(np.abs(derivative - (by_differences(gelu, u) + 2 * by_differences(softsign, u))))
        print(f"largest difference on {u.size} points: {error:.1e}")
        assert error < 1e-7, error
        """
    ),
    md(
        """
        ## A small network

        Two layers over a batch of `N` examples (the columns of `X`): `H = gelu(W1 X + b1 𝟏ᵀ)`,
        `Z = softsign(W2 H)` and the squared error against the targets `Y`.
        """
    ),
    code(
        '''
        model = """
        gelu(u) = u * sigmoid(1.702*u)
        softsign(u) = u / (1 + abs(u))
        X: matrix(n, N); Y: matrix(p, N)
        W1: matrix(m, n); b1: vector(m); W2: matrix(p, m)

        H = gelu(W1*X + b1*ones(N)')
        Z = softsign(W2*H)
        L = 1/2 * sum((Z - Y).^2)
        """
        g = matcalc.grad(model, wrt="W1,b1,W2")
        g
        '''
    ),
    md(
        """
        The rendered result ends with the `where` lines of the derivatives it uses; the
        derivation follows, each line with the identity it used:
        """
    ),
    code(
        """
        assert r"\\text{where } \\mathit{gelu}'\\left(u\\right)" in g._repr_latex_()
        print(g.steps_text())
        """
    ),
    md(
        """
        ## The generated NumPy function on data

        `_gelu`, `_dgelu`, `_softsign` and `_dsoftsign` are printed by SymPy's NumPy code
        printer; the rest is matcalc's module as for any model.
        """
    ),
    code("print(g.numpy_source())\nvalue_and_grad = g.to_function()"),
    HELPERS,
    code(
        """
        n, m, p, N = 3, 5, 2, 40
        X = rng.normal(size=(n, N))
        Y = 0.5 * np.tanh(rng.normal(size=(p, n)) @ X)  # targets from a smooth teacher
        params = {"W1": rng.normal(size=(m, n)), "b1": rng.normal(size=m), "W2": rng.normal(size=(p, m))}


        def loss(W1, b1, W2):
            H = gelu(W1 @ X + b1[:, None])
            Z = softsign(W2 @ H)
            return 0.5 * np.sum((Z - Y) ** 2)


        L, *grads = value_and_grad(X=X, Y=Y, **params)
        assert np.isclose(L, loss(**params), rtol=1e-12)
        for name, grad in zip(["W1", "b1", "W2"], grads):

            def along(v, name=name):
                return loss(**{**params, name: v})

            err = relative_error(grad, central_differences(along, params[name]))
            print(f"dL/d{name}: relative error {err:.1e}")
            assert err < 1e-6, (name, err)
        """
    ),
    md("matcalc's own checker draws random distinct sizes and compares every gradient too:"),
    MATCALC_CHECK,
    md(
        """
        ## Training it

        Plain gradient descent with the generated function: the loss falls.
        """
    ),
    code(
        """
        start = loss(**params)
        for _ in range(300):
            L, dW1, db1, dW2 = value_and_grad(X=X, Y=Y, **params)
            params = {"W1": params["W1"] - 0.05 * dW1, "b1": params["b1"] - 0.05 * db1,
                      "W2": params["W2"] - 0.05 * dW2}
        print(f"loss {start:.4f} -> {loss(**params):.4f}")
        assert loss(**params) < 0.25 * start
        """
    ),
]


NOTEBOOKS = {
    "defined_by_formula": FORMULA,
    "seed000_two_layer_network": SEED000,
    "seed001_norm_of_Ax": SEED001,
    "seed002_row_times_square": SEED002,
    "seed003_row_product": SEED003,
    "seed004_outer_product_chain": SEED004,
    "tour": TOUR,
    "jupyter_magic": MAGIC,
}


def notebooks() -> dict[str, nbformat.NotebookNode]:
    """File name -> notebook, for every notebook of this folder."""
    out = {}
    for slug, cells in NOTEBOOKS.items():
        nb = _notebook(slug, cells)
        nbformat.validate(nb)
        out[f"{slug}.ipynb"] = nb
    return out


def render(nb: nbformat.NotebookNode) -> str:
    return nbformat.writes(nb) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only report stale notebooks")
    args = ap.parse_args(argv)
    stale = []
    for name, nb in notebooks().items():
        path = HERE / name
        text = render(nb)
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        stale.append(name)
        if not args.check:
            path.write_text(text, encoding="utf-8")
    for name in stale:
        print(("stale: " if args.check else "wrote: ") + name)
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
