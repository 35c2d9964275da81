"""``matcalc serve``: the page, ``POST /api/derive``, its limits, and 1,000 fuzzed bodies.

Every server here listens on 127.0.0.1 only, on a free port.
"""

from __future__ import annotations

import http.client
import json
import random
import re
import string
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import matcalc
from matcalc.server import MAX_BODY, WEB, make_server

MODELS = Path(__file__).parent / "models"
SEED0 = (MODELS / "seed000.mc").read_text()
#: A gated recurrence of 1,200 steps (90 KB): derived in time linear in its length, but
#: seconds of it (about 10 s here), so only the time limit ends it within the test.
SLOW = "x: vector(n); U, V: matrix(n, n); " + "; ".join(
    f"z{i} = sigmoid(V*s{i - 1}); s{i} = (1 - z{i}) .* s{i - 1} + z{i} .* tanh(U*s{i - 1})" if i else "s0 = x"
    for i in range(1200)
) + "; f = sum(s1199)"
TIME_LIMIT = 2.0


@pytest.fixture(scope="module")
def server():
    srv = make_server("127.0.0.1", 0, workers=2, time_limit=TIME_LIMIT)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join(5)


def request(server, method, path, body=None, headers=None, timeout=30):
    host, port = server.server_address[:2]
    assert host == "127.0.0.1"
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        hdrs = {"Content-Type": "application/json"} if body is not None else {}
        hdrs.update(headers or {})
        conn.request(method, path, body=body, headers=hdrs)
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, data, resp
    finally:
        conn.close()


def derive(server, payload, endpoint="derive"):
    status, data, _ = request(server, "POST", f"/api/{endpoint}", json.dumps(payload).encode())
    return status, json.loads(data)


# ---------------------------------------------------------------- the page


def test_the_page_and_everything_it_needs_are_served_from_the_package(server):
    status, page, resp = request(server, "GET", "/")
    assert status == 200 and resp.getheader("Content-Type").startswith("text/html")
    html = page.decode()
    for ref in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert ref.startswith("/"), ref  # nothing from elsewhere
        assert request(server, "GET", ref)[0] == 200, ref
    for name in ("index.html", "app.js", "style.css"):
        text = (WEB / name).read_text()
        assert not re.search(r"https?://", text), name
    css = (WEB / "katex" / "katex.min.css").read_text()
    for font in set(re.findall(r"url\((fonts/[^)]+\.woff2)\)", css)):
        assert request(server, "GET", "/katex/" + font)[0] == 200, font
    assert "MIT License" in (WEB / "katex" / "LICENSE").read_text()


def test_the_examples_are_the_seed_models_and_the_sites_own(server):
    status, data, _ = request(server, "GET", "/api/examples")
    examples = json.loads(data)["examples"]
    assert status == 200
    seeds = sorted(MODELS.glob("seed00*.mc"))
    ours = [e for e in examples if e["convention"] == "matcalc"]
    assert [e["name"] for e in ours] == [p.stem for p in seeds]
    assert [e["text"] for e in ours] == [p.read_text() for p in seeds]
    site = [e for e in examples if e["convention"] == "matrixcalculus"]
    assert len(site) >= 10
    for e in site:  # each derives as pasted, under the site's convention
        payload = {"model": e["text"], "convention": "matrixcalculus"}
        names = derive(server, payload, "variables")[1]["variables"]
        wrt = [v["name"] for v in names if v["role"] == "input"]
        status, data = derive(server, {**payload, "wrt": wrt}, "check")
        assert status == 200 and data["ok"], (e["text"], data)


@pytest.mark.parametrize("path", ["/../pyproject.toml", "/%2e%2e/server.py", "/nothing", "/api/derive"])
def test_nothing_outside_the_page_is_served(server, path):
    assert request(server, "GET", path)[0] == 404


def test_a_foreign_host_header_is_refused(server):
    status, data, _ = request(server, "GET", "/", headers={"Host": "evil.example:80"})
    assert status == 400 and "Host" in json.loads(data)["error"]["message"]


# ---------------------------------------------------------------- POST /api/derive


def test_derive_answers_the_json_of_the_command_line(server):
    status, data = derive(server, {"model": SEED0, "wrt": "W,b"})
    assert status == 200
    cli = subprocess.run(
        [sys.executable, "-m", "matcalc", "grad", "-", "--wrt", "W,b", "--format", "json"],
        input=SEED0, capture_output=True, text=True, check=True,
    )
    for key, value in json.loads(cli.stdout).items():
        assert data[key] == value, key
    assert data["text"].startswith("∂f/∂W = ((Mᵀ(t − y)) ∘ step(s)) xᵀ")
    assert "def value_and_grad(" in data["code"] and r"\frac{\partial f}{\partial W}" in data["latex"]


def test_the_numerator_layout_is_the_transpose(server):
    _, den = derive(server, {"model": SEED0, "wrt": ["W"]})
    _, num = derive(server, {"model": SEED0, "wrt": ["W"], "layout": "numerator"})
    assert den["gradients"]["W"]["shape"] == ["m", "n"] and num["gradients"]["W"]["shape"] == ["n", "m"]
    assert num["gradients"]["W"]["text"] == "x(((t − y)ᵀ M) ∘ step(sᵀ))"  # transposes at the leaves


#: A function defined by formula whose derivative SymPy finds in milliseconds (gelu's takes a
#: second or two, near the test server's time limit under load).
FORMULA = "softsign(u) = u / (1 + abs(u))\nx: vector(n); W: matrix(m, n)\nf = sum(softsign(W*x))"


def test_the_numerator_layout_keeps_the_where_lines(server):
    _, den = derive(server, {"model": FORMULA, "wrt": ["W"]})
    _, num = derive(server, {"model": FORMULA, "wrt": ["W"], "layout": "numerator"})
    assert num["text"] == "∂f/∂W = x softsign'(W x)ᵀ\n" + den["text"].split("\n", 1)[1]
    assert den["text"].split("\n")[1].startswith("where softsign'(u) = ")
    assert num["latex"].split(" \\\\\n")[1:] == den["latex"].split(" \\\\\n")[1:]


def test_every_code_target_is_offered(server):
    from matcalc.codegen.targets import TARGETS as CODEGEN_TARGETS
    from matcalc.server import TARGETS

    assert TARGETS == tuple(CODEGEN_TARGETS)
    page = request(server, "GET", "/")[1].decode()
    menu = page.split('id="target"')[1].split("</select>")[0]
    assert re.findall(r'<option value="([a-z-]+)"', menu) == list(TARGETS)
    for target in TARGETS:
        status, data = derive(server, {"model": SEED0, "wrt": ["W"], "target": target})
        assert status == 200 and data["target"] == target
        assert data["code"] == matcalc.grad(SEED0, wrt="W").source(target)


def test_a_target_that_cannot_write_the_model_still_answers_the_result(monkeypatch):
    """In process (the workers are other processes): a target's CodegenError becomes
    ``code_error`` beside the result, not a failed request."""
    from matcalc.api import Gradient
    from matcalc.codegen.lower import CodegenError
    from matcalc.server import derive as answer

    def refuse(self, target="numpy", name="value_and_grad"):
        raise CodegenError(f"the {target} target cannot write this model")

    monkeypatch.setattr(Gradient, "source", refuse)
    data = answer({"model": FORMULA, "wrt": ["W"], "target": "torch"})
    assert data["code"] == "" and data["code_error"] == "the torch target cannot write this model"
    assert data["gradients"]["W"]["text"] == "softsign'(W x) xᵀ"


def test_a_function_defined_by_formula_is_written_for_every_target(server):
    from matcalc.server import derive as answer

    for target in ("numpy", "jax", "array-api"):
        status, data = derive(server, {"model": FORMULA, "wrt": ["W"], "target": target})
        assert status == 200 and "def _dsoftsign(" in data["code"] and "code_error" not in data, target
    # in process: writing a torch helper imports torch (SymPy's printer does), two seconds and
    # more, beyond this test server's time limit under load (the real one allows 10 s)
    data = answer({"model": FORMULA, "wrt": ["W"], "target": "torch"})
    assert "def _dsoftsign(" in data["code"] and "code_error" not in data


def test_the_convention_switch(server):
    text = "x'*A*x + c*sin(y)'*x"
    status, data = derive(server, {"model": text, "wrt": "x", "convention": "mc"})
    assert status == 200 and data["gradients"]["x"]["text"] == "(A + Aᵀ) x + c sin(y)"
    status, data = derive(server, {"model": text, "wrt": "x"})
    assert status == 400 and data["error"]["note"].startswith("note: c was taken as a vector")


def test_check_numerically(server):
    status, data = derive(server, {"model": SEED0, "wrt": ["W", "M"], "seed": 4}, "check")
    assert status == 200 and data["ok"] and data["names"] == ["W", "M"]
    assert max(data["errors"]) < data["tolerance"]


def test_variables(server):
    status, data = derive(server, {"model": "x'*A*x + c*sin(y)'*x", "convention": "mc"}, "variables")
    assert status == 200
    assert {v["name"]: v["kind"] for v in data["variables"]}["c"] == "scalar"


@pytest.mark.parametrize(
    "payload, message, line, column",
    [
        ({"model": "x: vector(n)\nf = x'*", "wrt": "x"}, "unexpected end of input", 2, 8),
        ({"model": "x: vector(n); W: matrix(m, k); f = W*x", "wrt": "x"}, "W is m×k but x", 1, 36),
        ({"model": SEED0, "wrt": "Q"}, "'Q' is not a name in the model", None, None),
        ({"model": SEED0}, "missing field 'wrt'", None, None),
        ({"model": 3, "wrt": "x"}, "field 'model' must be str", None, None),
        ({"model": SEED0, "wrt": [1]}, "must be a string or a list of strings", None, None),
        ({"model": SEED0, "wrt": "W", "kind": "integral"}, "kind 'integral' is not one of", None, None),
        ({"model": SEED0, "wrt": "W", "colour": "red"}, "unknown field 'colour'", None, None),
        ([1, 2], "must be a JSON object", None, None),
    ],
)
def test_bad_input_answers_400_with_a_located_message(server, payload, message, line, column):
    status, data = derive(server, payload)
    assert status == 400
    assert message in data["error"]["message"]
    assert (data["error"]["line"], data["error"]["column"]) == (line, column)


@pytest.mark.parametrize("payload, advice", [
    ({"model": "x: vector(n); W: matrix(m, n); p = softmax(W*x)", "wrt": "W"},
     "take its Jacobian: choose the kind Jacobian"),
    ({"model": "X: matrix(m, n); W: matrix(n, p); F = kron(X, W)", "wrt": "X", "kind": "jacobian"},
     "the kind gradient"),
])
def test_advice_in_an_error_names_the_pages_menu_not_a_command(server, payload, advice):
    status, data = derive(server, payload)
    assert status == 400
    assert advice in data["error"]["message"] and advice in data["error"]["text"]
    assert "matcalc " not in data["error"]["text"]


def test_bodies_over_256_kb_are_refused_unread(server):
    body = json.dumps({"model": "f = x'*x" + " " * MAX_BODY, "wrt": "x"}).encode()
    status, data, resp = request(server, "POST", "/api/derive", body)
    assert status == 400 and "over 256 KB" in json.loads(data)["error"]["message"]
    assert resp.getheader("Connection") == "close"


def test_a_pathological_model_is_stopped_at_the_time_limit(server):
    start = time.perf_counter()
    status, data = derive(server, {"model": SLOW, "wrt": "x"})
    elapsed = time.perf_counter() - start
    assert status == 400 and "took longer than 2 s" in data["error"]["message"]
    assert elapsed < TIME_LIMIT + 5
    assert derive(server, {"model": SEED0, "wrt": "W"})[0] == 200  # a fresh worker took its place


def test_concurrent_requests_all_answer_and_a_slow_one_blocks_no_other(server):
    payloads = [{"model": SEED0, "wrt": w} for w in ("W", "M", "b", "c", "x", "y")] * 4
    with ThreadPoolExecutor(8) as pool:
        slow = pool.submit(derive, server, {"model": SLOW, "wrt": "x"})
        time.sleep(0.2)
        start = time.perf_counter()
        results = list(pool.map(lambda p: derive(server, p), payloads))
        quick = time.perf_counter() - start
        assert slow.result()[0] == 400
    assert [s for s, _ in results] == [200] * len(payloads)
    assert quick < TIME_LIMIT + 5


# ---------------------------------------------------------------- fuzzing


def fuzz_body(rng: random.Random) -> bytes:
    """A random request body: broken JSON, wrong types, huge strings, mutated or
    pathological models, deep nesting."""
    models = [SEED0, "x'*A*x + c*sin(y)'*x", "f = norm2(X*w - y)^2", "x: vector(n); f = logdet(x*x')"]
    model = rng.choice(models)
    choice = rng.randrange(12)
    if choice == 0:  # bytes that are not JSON, or not UTF-8
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))
    if choice == 1:  # truncated JSON
        text = json.dumps({"model": model, "wrt": "x"})
        return text[: rng.randrange(len(text))].encode()
    if choice == 2:  # JSON of the wrong shape
        shapes = [None, 3, "model", [model], {"model": None}, {"wrt": "x"}, True]
        return json.dumps(rng.choice(shapes)).encode()
    if choice == 3:  # wrong field types
        key = rng.choice(["model", "wrt", "of", "kind", "layout", "target", "convention"])
        bad = rng.choice([1, 2.5, None, True, [], {}, ["x", 3], {"a": 1}])
        return json.dumps({"model": model, "wrt": "x", key: bad}).encode()
    if choice == 4:  # long models, and bodies over the limit (a 100 KB sum hits the time limit)
        size = rng.choice([1000, 10_000, 300_000, 400_000] * 6 + [100_000])
        body = json.dumps({"model": "f = x'*x + " + "x'*x + " * (size // 7), "wrt": "x"}).encode()
        return body[: MAX_BODY + 5000]
    if choice == 5:  # mutated models
        chars = list(model)
        for _ in range(rng.randrange(1, 6)):
            i = rng.randrange(len(chars) + 1)
            if rng.random() < 0.5 and chars:
                del chars[min(i, len(chars) - 1)]
            else:
                chars.insert(i, rng.choice(string.printable + "∘ᵀ'()*^:;=αλ\u0000"))
        kind = rng.choice(["gradient", "jacobian", "hessian"])
        body = {"model": "".join(chars), "wrt": rng.choice(["x", "W", "A,x", "w"]), "kind": kind}
        return json.dumps(body).encode()
    if choice == 6:  # deep nesting of the model
        depth = rng.choice([50, 500, 5000])
        return json.dumps({"model": "f = sum(" + "(" * depth + "x" + ")" * depth + ")", "wrt": "x"}).encode()
    if choice == 7:  # deeply nested JSON
        depth = rng.choice([100, 10_000, 100_000])
        return ("[" * depth + "]" * depth).encode()
    if choice == 8:  # the pathological model, now and then (it costs the time limit)
        if rng.random() < 0.02:
            return json.dumps({"model": SLOW, "wrt": "x"}).encode()
        return json.dumps({"model": "x'*A^" + str(rng.randrange(1, 60)) + "*x", "wrt": "x,A"}).encode()
    if choice == 9:  # random text as a model
        alphabet = string.ascii_letters + "()*+-'^;:= \n.,0123456789"
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(80)))
        return json.dumps({"model": text, "wrt": "x"}).encode()
    if choice == 10:  # good requests
        return json.dumps({"model": SEED0, "wrt": rng.choice(["W", "M,b", ["x", "y"]]),
                           "layout": rng.choice(["numerator", "denominator"])}).encode()
    convention = rng.choice(["mc", "matcalc", "nope"])
    return json.dumps({"model": model, "wrt": "x", "convention": convention}).encode()


def test_a_thousand_fuzzed_bodies_get_only_200_or_400_and_the_server_stays_responsive(server):
    rng = random.Random(20261129)
    statuses: dict[int, int] = {}
    slowest_page = 0.0
    start = time.perf_counter()
    for i in range(1000):
        body = fuzz_body(rng)
        status, data, _ = request(server, "POST", "/api/derive", body)
        statuses[status] = statuses.get(status, 0) + 1
        assert status in (200, 400), (status, body[:200], data[:500])
        if status == 400:
            error = json.loads(data)["error"]
            assert set(error) >= {"message", "line", "column"}
        if i % 50 == 0:  # the page answers at once, whatever the derivations do
            t = time.perf_counter()
            assert request(server, "GET", "/", timeout=5)[0] == 200
            slowest_page = max(slowest_page, time.perf_counter() - t)
    elapsed = time.perf_counter() - start
    print(f"fuzz: {statuses} in {elapsed:.1f} s; slowest page load {slowest_page * 1000:.0f} ms")
    assert statuses.get(200, 0) > 50 and statuses.get(400, 0) > 500
    assert slowest_page < 2.0


def test_serve_command_binds_to_loopback_by_default():
    proc = subprocess.Popen(
        [sys.executable, "-m", "matcalc", "serve", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        line = proc.stdout.readline()
        assert re.match(r"matcalc serving on http://127\.0\.0\.1:\d+/ \(Ctrl-C to stop\)", line), line
        port = int(line.split(":")[2].split("/")[0])
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("POST", "/api/derive", body=json.dumps({"model": SEED0, "wrt": "W"}),
                     headers={"Content-Type": "application/json"})
        assert conn.getresponse().status == 200
        conn.close()
    finally:
        proc.terminate()  # SIGTERM stops it as Ctrl-C does, workers and all
        assert proc.wait(20) == 0
        assert proc.stderr.read() == ""



def test_a_formula_models_numpy_code_imports_neither_torch_nor_jax():
    """The NumPy module of a model defined by formula is written without importing PyTorch
    (SymPy's torch printer imports it: two seconds of a worker's time limit, 300 MB)."""
    script = (
        "import sys, matcalc\n"
        f"g = matcalc.grad({FORMULA!r}, wrt='W')\n"
        "assert 'def _dsoftsign(' in g.source('numpy') and 'def _dsoftsign(' in g.source('array-api')\n"
        "print(sorted(m for m in ('torch', 'jax') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ---------------------------------------------------------------- Jacobians and Hessians

LOGISTIC = (
    "X: matrix(N, d); y: vector(N); w: vector(d); lambda: scalar\n"
    "z = X*w\nf = sum(softplus(z)) - y'*z + lambda/2 * w'*w"
)


@pytest.mark.parametrize(
    "kind, payload, args",
    [
        ("hessian", {"model": LOGISTIC, "wrt": "w"}, ["--wrt", "w"]),
        ("hessian", {"model": SEED0, "wrt": ["W", "b"]}, ["--wrt", "W,b"]),
        ("jacobian", {"model": SEED0, "wrt": ["W"], "of": "t"}, ["--wrt", "W", "--of", "t"]),
        ("jacobian", {"model": SEED0, "wrt": "x", "of": "a", "layout": "denominator"},
         ["--wrt", "x", "--of", "a", "--layout", "denominator"]),
    ],
)
def test_derive_honours_kind_and_of_with_the_json_of_the_command_line(server, kind, payload, args):
    status, data = derive(server, {**payload, "kind": kind})
    assert status == 200, data
    model = payload["model"]
    cli = subprocess.run([sys.executable, "-m", "matcalc", kind, "-", *args, "--format", "json"],
                         input=model, capture_output=True, text=True, check=True)
    for key, value in json.loads(cli.stdout).items():
        assert data[key] == value, key
    asked = matcalc.hessian if kind == "hessian" else matcalc.jacobian
    extra = {"layout": payload["layout"]} if "layout" in payload else {}
    d = asked(model, wrt=payload["wrt"], of=payload.get("of"), **extra)
    assert data["kind"] == kind and data["text"] == d.text() and data["latex"] == d.latex()
    assert data["code"] == d.numpy_source()
    status, checked = derive(server, {**payload, "kind": kind, "seed": 1}, "check")
    assert status == 200 and checked["ok"] and checked["labels"]
    assert max(checked["errors"]) < checked["tolerance"]
    # every block the result prints was compared, under the name it prints with
    blocks = [line.split(" = ")[0] for line in d.text().splitlines() if line.startswith("∂")]
    assert blocks and set(blocks) <= set(checked["labels"]), (blocks, checked["labels"])


@pytest.mark.parametrize("kind", ["jacobian", "hessian"])
def test_a_jacobian_or_hessian_comes_in_every_target(server, kind):
    payload = {"model": LOGISTIC, "wrt": "w", "kind": kind, "of": "f" if kind == "hessian" else "z"}
    for target in ("torch", "jax", "array-api"):
        status, data = derive(server, {**payload, "target": target})
        assert status == 200 and "code_error" not in data, (target, data.get("code_error"))
        d = getattr(matcalc, kind)(LOGISTIC, "w", of=payload["of"])
        assert data["code"] == d.source(target)


def test_a_hessian_of_a_non_scalar_is_a_located_error(server):
    status, data = derive(server, {"model": SEED0, "wrt": "W", "of": "t", "kind": "hessian"})
    assert status == 400 and data["error"]["line"] is not None
