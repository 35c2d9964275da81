"""``matcalc serve`` in a real browser: headless Chromium opens the page, types a model,
asks for a gradient, reads the rendered result and the position of an error.

Skipped, saying why, where no Chromium binary is installed (Debian: ``apt-get install
chromium``). Set ``MATCALC_SCREENSHOT=path.png`` to keep a screenshot of the page with
seed 000's derivation.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import pytest

import matcalc
from matcalc.server import make_server

sys.path.insert(0, str(Path(__file__).parent))
from cdp import Browser, chromium_binary  # noqa: E402

BINARY = chromium_binary()
pytestmark = pytest.mark.skipif(
    BINARY is None,
    reason="no chromium binary on PATH (Debian: apt-get install chromium); the browser test needs one",
)
MODELS = Path(__file__).parent / "models"


@pytest.fixture(scope="module")
def page():
    srv = make_server("127.0.0.1", 0, workers=2, time_limit=20)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    browser = Browser(BINARY)
    try:
        browser.navigate(f"http://127.0.0.1:{srv.server_address[1]}/")
        browser.wait_for("document.body && document.body.dataset.ready === 'true'")
        yield browser
    finally:
        browser.close()
        srv.shutdown()
        srv.server_close()
        thread.join(5)


def derive(page, expect: str) -> None:
    page.evaluate("document.body.dataset.state = ''")
    page.click("#derive")
    page.wait_for(f"document.body.dataset.state === '{expect}'")


def test_the_page_opens_with_seed_000_and_its_variables(page):
    assert page.evaluate("document.querySelector('#model').value") == (MODELS / "seed000.mc").read_text()
    page.wait_for("document.querySelectorAll('#variables .chip').length > 0")
    chips = page.evaluate("[...document.querySelectorAll('#variables .chip')].map(c => c.dataset.name)")
    assert chips == ["x", "b", "W", "M", "c", "y", "s", "a", "t", "f"]
    assert page.evaluate("document.querySelector('#wrt').value") == "W"
    # the first question is answered without a click: the example is derived on opening
    want = matcalc.grad((MODELS / "seed000.mc").read_text(), wrt="W")
    assert page.evaluate("document.body.dataset.state") == "derived"
    assert page.evaluate("document.querySelector('#result-text').textContent") == want.text()


def test_seed_000_derivation_renders_and_checks(page):
    derive(page, "derived")
    want = matcalc.grad((MODELS / "seed000.mc").read_text(), wrt="W")
    assert page.evaluate("document.querySelector('#result-text').textContent") == want.text()
    # KaTeX rendered the LaTeX (it keeps the source in a MathML annotation)
    assert page.evaluate("document.querySelectorAll('#result .katex').length") == 1
    annotation = page.evaluate("document.querySelector('#result annotation').textContent")
    assert annotation == want.latex()
    assert page.evaluate("document.querySelectorAll('#steps .katex').length") == 1
    assert "def value_and_grad(" in page.evaluate("document.querySelector('#code').textContent")
    page.evaluate("document.querySelector('#code-box').open = true")
    page.click("#copy")
    status = page.wait_for("document.querySelector('#status').textContent")
    assert status in ("code copied", "code selected: press Ctrl-C to copy")
    if status.startswith("code selected"):  # no clipboard in this browser: the code is selected
        assert page.evaluate("window.getSelection().toString()").startswith('"""')
    page.click("#check")
    page.wait_for("document.querySelector('#checked').dataset.ok")
    assert page.evaluate("document.querySelector('#checked').dataset.ok") == "true"
    shot = os.environ.get("MATCALC_SCREENSHOT")
    if shot:
        page.screenshot(Path(shot))


def test_typing_a_model_and_asking_for_its_gradient(page):
    text = "x: vector(n); A: matrix(n, n)\ny = A*x\nf = sum(exp(y)) + x'*x"
    page.type_into("#model", text)
    assert page.evaluate("document.querySelector('#model').value") == text
    page.wait_for("[...document.querySelectorAll('#variables .chip')].some(c => c.dataset.name === 'A')")
    page.type_into("#wrt", "x, A")
    derive(page, "derived")
    want = matcalc.grad(text, wrt="x,A")
    assert page.evaluate("document.querySelector('#result-text').textContent") == want.text()
    assert page.evaluate("document.querySelector('#result annotation').textContent") == want.latex()


def test_the_convention_switch_reads_pasted_matrixcalculus_examples(page):
    page.type_into("#model", "x'*A*x + c*sin(y)'*x")
    page.type_into("#wrt", "x")
    derive(page, "error")
    assert "note: c was taken as a vector" in page.evaluate("document.querySelector('#error').textContent")
    page.click("input[value='matrixcalculus']")
    derive(page, "derived")
    want = matcalc.grad("x'*A*x + c*sin(y)'*x", wrt="x", convention="mc")
    assert page.evaluate("document.querySelector('#result-text').textContent") == want.text()
    page.click("input[value='matcalc']")


@pytest.mark.parametrize(
    "text",
    [
        "x: vector(n); W: matrix(m, k)\nb: vector(m)\nf = sum(W*x + b)",
        "x: vector(n)\nf = norm2(x)^2 +",
        "x: vector(n)\nf = sum(x) + nope(x)",
    ],
)
def test_an_error_is_marked_at_its_line_and_column(page, text):
    page.type_into("#model", text)
    page.type_into("#wrt", "x")
    derive(page, "error")
    with pytest.raises(matcalc.MatcalcError) as info:
        matcalc.grad(text, wrt="x")
    err = info.value
    error = "document.querySelector('#error').dataset"
    shown = page.evaluate(f"[{error}.line, {error}.column]")
    assert shown == [str(err.line), str(err.column)]
    # the editor selects the offending text and marks its line in the gutter
    start = page.evaluate("document.querySelector('#model').selectionStart")
    lines = text.split("\n")
    assert start == sum(len(line) + 1 for line in lines[: err.line - 1]) + err.column - 1
    assert page.evaluate("document.querySelector('#gutter .bad').textContent") == str(err.line)


def test_a_matrixcalculus_example_from_the_menu_switches_the_convention(page):
    page.evaluate(
        "(() => { const s = document.querySelector('#example'); s.value = 'matrixcalculus05';"
        " s.dispatchEvent(new Event('change')); })()"
    )
    page.wait_for("document.querySelector('#wrt').value !== ''")
    text = page.evaluate("document.querySelector('#model').value")
    assert text == "sum(log(exp(-y.*(X*w)) + vector(1)))\n"
    assert page.evaluate("document.querySelector('input[value=matrixcalculus]').checked")
    page.type_into("#wrt", "w")
    derive(page, "derived")
    want = matcalc.grad(text, wrt="w", convention="mc")
    assert page.evaluate("document.querySelector('#result-text').textContent") == want.text()
    page.click("input[value='matcalc']")


def choose(page, selector: str, value: str) -> None:
    """Pick ``value`` in the menu ``selector`` as a user does (a change event)."""
    page.evaluate(
        f"(() => {{ const s = document.querySelector('{selector}'); s.value = '{value}';"
        " s.dispatchEvent(new Event('change')); })()"
    )


def test_a_mistake_leaves_no_stale_result_names_or_code(page):
    page.type_into("#model", "x: vector(n)\nf = norm2(x)^2 +")
    page.type_into("#wrt", "x")
    derive(page, "error")
    assert page.evaluate("document.querySelector('#copy').disabled")
    assert page.evaluate("document.querySelector('#download').disabled")
    assert page.evaluate("document.querySelector('#code-box').hidden")
    assert page.evaluate("document.querySelector('#steps-box').hidden")
    placeholder = page.evaluate("document.querySelector('#placeholder').textContent")
    assert placeholder.startswith("No result") and "(line 2, column 17)" in placeholder
    page.wait_for("document.querySelectorAll('#variables .chip').length === 0")  # not the last model's


def test_code_for_each_target_is_downloaded_as_shown(page, tmp_path):
    page.command("Page.setDownloadBehavior", behavior="allow", downloadPath=str(tmp_path))
    text = "x: vector(n); A: matrix(n, n)\nf = x'*A*x + sum(exp(A))"
    page.type_into("#model", text)
    page.type_into("#wrt", "A")
    derive(page, "derived")
    targets = [("torch", "import torch", "grad_f_torch.py"), ("numpy", "import numpy", "grad_f.py")]
    for target, module, name in targets:
        page.evaluate("document.querySelector('#code').textContent = ''")
        choose(page, "#target", target)  # a shown result follows the target
        code = page.wait_for("document.querySelector('#code').textContent")
        assert module in code and code == matcalc.grad(text, wrt="A").source(target)
        page.evaluate("document.querySelector('#code-box').open = true")
        page.click("#download")
        path = tmp_path / name
        deadline = time.monotonic() + 30
        while not (path.exists() and path.read_text(encoding="utf-8")) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert path.read_text(encoding="utf-8") == code
        compile(code, name, "exec")


def test_a_model_defined_by_formula_in_another_target(page):
    text = "gelu(u) = u * sigmoid(1.702*u)\nx: vector(n); W: matrix(m, n)\nf = sum(gelu(W*x))"
    page.type_into("#model", text)
    page.type_into("#wrt", "W")
    choose(page, "#target", "jax")
    derive(page, "derived")
    assert "where gelu'(u) = " in page.evaluate("document.querySelector('#result-text').textContent")
    code = page.evaluate("document.querySelector('#code').textContent")
    assert "import jax" in code and "def _dgelu(u):" in code
    assert not page.evaluate("document.querySelector('#copy').disabled")
    page.evaluate("document.querySelector('#code').textContent = ''")
    choose(page, "#target", "numpy")  # the shown result follows
    assert "import numpy" in page.wait_for("document.querySelector('#code').textContent")
