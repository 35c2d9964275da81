"""``matcalc serve``: a local web page for matcalc and its JSON endpoints.

The page (``matcalc/web/``: HTML, JavaScript, CSS and KaTeX's files, nothing fetched
from elsewhere) posts to:

- ``POST /api/derive`` ``{"model", "wrt", "kind", "of", "layout", "target", "convention"}``:
  the JSON of ``matcalc grad --format json`` plus the LaTeX, the derivation and the code;
- ``POST /api/check`` (same fields, and ``seed``): the gradients against central differences;
- ``POST /api/variables`` ``{"model", "convention"}``: the model's names, kinds and shapes.

Bad input answers ``400 {"error": {"message", "line", "column"}}``. Bodies over
:data:`MAX_BODY` bytes are refused unread; every derivation runs in a worker process
that is killed (and replaced) when it takes longer than the time limit, so a
pathological model cannot hang the server; requests are served by threads.
Standard library only.
"""

from __future__ import annotations

import json
import multiprocessing
import queue
import signal
import socket
import threading
import traceback
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from .ask import KINDS
from .errors import MatcalcError

#: Largest request body accepted, in bytes.
MAX_BODY = 256 * 1024
#: Seconds a derivation may take before its worker is killed.
TIME_LIMIT = 10.0
WEB = Path(__file__).resolve().parent / "web"
LAYOUTS = ("denominator", "numerator")
#: The code targets (``matcalc.codegen.targets.TARGETS``, named here so that the server
#: process does not import the code generators).
TARGETS = ("numpy", "torch", "jax", "array-api")
#: Fields each endpoint takes: name -> (types accepted, required).
FIELDS: dict[str, dict[str, tuple[tuple[type, ...], bool]]] = {
    "derive": {
        "model": ((str,), True), "wrt": ((str, list), True), "kind": ((str,), False),
        "of": ((str, type(None)), False), "layout": ((str,), False), "target": ((str,), False),
        "convention": ((str,), False),
    },
    "check": {
        "model": ((str,), True), "wrt": ((str, list), True), "kind": ((str,), False),
        "of": ((str, type(None)), False), "layout": ((str,), False), "target": ((str,), False),
        "convention": ((str,), False), "seed": ((int,), False),
    },
    "variables": {"model": ((str,), True), "convention": ((str,), False)},
}  # fmt: skip
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".woff2": "font/woff2",
    ".mc": "text/plain; charset=utf-8",
    "": "text/plain; charset=utf-8",
}


class BadRequest(Exception):
    """A request the server answers with 400."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.body = {"error": {"message": message, "line": line, "column": column}}


#: A message's advice in command-line words -> the page's (its kind menu).
ON_THE_PAGE = (
    ("take its Jacobian: matcalc jacobian", "take its Jacobian: choose the kind Jacobian"),
    ("its gradient (matcalc grad)", "its gradient (the kind gradient)"),
)


def on_the_page(text: str) -> str:
    """``text`` with advice that names a command named by the page's menus instead."""
    for cli, page in ON_THE_PAGE:
        text = text.replace(cli, page)
    return text


def error_body(err: MatcalcError) -> dict:
    """The 400 body of a located matcalc error, its advice in the page's words."""
    return {
        "error": {
            "message": on_the_page(err.message),
            "line": err.line,
            "column": err.column,
            "end_column": err.end_column,
            "kind": err.kind,
            "note": err.note and on_the_page(err.note),
            "text": on_the_page(str(err)),
        }
    }


# ---------------------------------------------------------------- the work (in a worker)


def validate(endpoint: str, request: object) -> dict:
    """``request`` checked against :data:`FIELDS` (raises :class:`BadRequest`)."""
    if not isinstance(request, dict):
        raise BadRequest("the request body must be a JSON object")
    fields = FIELDS[endpoint]
    for key in request:
        if key not in fields:
            raise BadRequest(f"unknown field {key!r}; expected some of: {', '.join(fields)}")
    for key, (types, required) in fields.items():
        if key not in request:
            if required:
                raise BadRequest(f"missing field {key!r}")
            continue
        value = request[key]
        if not isinstance(value, types) or isinstance(value, bool):
            names = " or ".join("null" if t is type(None) else t.__name__ for t in types)
            raise BadRequest(f"field {key!r} must be {names}")
    wrt = request.get("wrt")
    if isinstance(wrt, list) and not all(isinstance(w, str) for w in wrt):
        raise BadRequest("field 'wrt' must be a string or a list of strings")
    for key, allowed in (("kind", KINDS), ("layout", LAYOUTS), ("target", TARGETS)):
        if key in request and request[key] not in allowed:
            raise BadRequest(f"{key} {request[key]!r} is not one of: {', '.join(allowed)}")
    return request


def _derivative(request: dict):
    """The gradient, Jacobian or Hessian the request asks for (``kind``, default gradient)."""
    from .ask import derivative

    layout = request.get("layout") if request.get("kind") == "jacobian" else None
    return derivative(request.get("kind", "gradient"), request["model"], request["wrt"],
                      of=request.get("of"), layout=layout, convention=request.get("convention"))


def derive(request: dict) -> dict:
    """The answer to ``POST /api/derive`` (raises MatcalcError or BadRequest): the JSON of
    ``matcalc grad`` (``jacobian``, ``hessian``) ``--format json``, and the rendered pieces.

    The code is the ``target``'s module; where the target cannot write this model the
    result is still answered, with ``code`` empty and ``code_error`` saying why."""
    from .codegen.lower import CodegenError

    kind = request.get("kind", "gradient")
    d = _derivative(request)
    out = d.to_json()
    out["latex"] = d.latex()
    out["steps_latex"] = d.steps_latex()
    out["steps_text"] = d.steps_text()
    out["text"] = d.text()
    out["layout"] = out.get("layout", request.get("layout", "denominator"))
    out["kind"] = kind
    out["target"] = request.get("target", "numpy")
    try:
        out["code"] = d.source(out["target"])
    except CodegenError as err:
        out["code"], out["code_error"] = "", err.message
    if kind == "gradient" and out["layout"] == "numerator":
        _numerator(d, out)
    return out


def _numerator(g, out: dict) -> None:
    """``out``'s gradients in the numerator layout: each transposed (shaped like ``Xᵀ``), the
    ``where`` lines (adjoints, derivatives of functions defined by formula) kept as they are."""
    from . import build as b
    from . import dims
    from .printing.latex import LatexPrinter, latex_name
    from .printing.text import TextPrinter, greek

    text, latex = TextPrinter(g.names), LatexPrinter(g.names)
    for name, expr in g.gradients.items():
        t = b.transpose(expr)
        out["gradients"][name] = {"text": text(t), "latex": latex(t), "shape": dims.shape_json(t.shape)}
    f, f_latex = greek(g.of), latex_name(g.of)
    lines = [f"∂{f}/∂{greek(n)} = {out['gradients'][n]['text']}" for n in g.wrt]
    out["text"] = "\n".join(lines + _where(g.text().split("\n"), "where "))
    rows = [rf"\frac{{\partial {f_latex}}}{{\partial {latex_name(n)}}} &= {out['gradients'][n]['latex']}"
            for n in g.wrt]
    aligned = g.latex().removeprefix("\\begin{aligned}\n").removesuffix("\n\\end{aligned}")
    rows += _where(aligned.split(" \\\\\n"), r"\text{where }")
    out["latex"] = "\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}"


def _where(lines: list[str], lead: str) -> list[str]:
    """The lines from the first that starts with ``lead`` on."""
    first = next((i for i, line in enumerate(lines) if line.startswith(lead)), len(lines))
    return lines[first:]


def check_gradients(request: dict) -> dict:
    """The answer to ``POST /api/check``: each result against central differences (``labels``
    say what was compared: ``∂f/∂W`` for gradients, a block or map for the other kinds)."""
    from .ask import check_numerically

    d = _derivative(request)
    result = check_numerically(d, seed=request.get("seed", 0) % 2**32)
    return {
        "of": d.of,
        "kind": request.get("kind", "gradient"),
        "names": list(d.wrt),
        "labels": list(result.labels),
        "errors": list(result.errors),
        "tolerance": result.tolerance,
        "ok": result.ok,
    }


def variables(request: dict) -> dict:
    """The answer to ``POST /api/variables``: every input and definition with kind and shape."""
    from .parser import parse
    from .show import declared_kind, kind_word, shape_text

    m = parse(request["model"], request.get("convention"))
    rows = [{"name": v.name, "role": "input", "kind": declared_kind(v), "shape": shape_text(v.shape)}
            for v in m.inputs]
    rows += [{"name": v.name, "role": "definition", "kind": kind_word(v.shape), "shape": shape_text(v.shape)}
             for v, _ in m.definitions]
    return {"variables": rows, "output": m.output.name}


ENDPOINTS: dict[str, Callable[[dict], dict]] = {
    "derive": derive,
    "check": check_gradients,
    "variables": variables,
}


def answer(endpoint: str, body: bytes) -> tuple[int, dict]:
    """``(status, JSON body)`` for ``body`` posted to ``endpoint``."""
    from .depth import deep_recursion

    try:
        try:
            request = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as err:
            raise BadRequest(f"the request body is not JSON: {err}") from None
        with deep_recursion():
            return 200, ENDPOINTS[endpoint](validate(endpoint, request))
    except BadRequest as err:
        return 400, err.body
    except MatcalcError as err:
        return 400, error_body(err)
    except RecursionError:
        return 400, BadRequest("expression nested too deeply").body
    except MemoryError:
        return 400, BadRequest("the derivation needs more memory than a worker may use").body
    except Exception as err:  # a bug in matcalc: reported, not hidden
        return 500, {"error": {"message": f"internal error: {type(err).__name__}: {err}",
                               "line": None, "column": None, "trace": traceback.format_exc(limit=5)}}


#: Seconds a new worker may take to load matcalc.
BOOT_LIMIT = 120.0
#: Bytes of address space a worker may use (where the system lets it be limited).
WORKER_MEMORY = 2 * 1024**3


def _worker(conn) -> None:
    """A worker process: answer requests from ``conn`` until it closes."""
    import os

    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")  # one core per worker, and no per-thread buffers
    try:
        import resource

        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        limit = WORKER_MEMORY if hard == resource.RLIM_INFINITY else min(WORKER_MEMORY, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ImportError, ValueError, OSError):  # not on this system: the time limit still holds
        pass
    import sympy  # noqa: F401 (for functions defined by formula: a second's import, not a request's)

    from . import api, check  # noqa: F401 (loaded before the clock of any request starts)
    from .grammar import parser

    parser()
    conn.send("ready")
    while True:
        try:
            endpoint, body = conn.recv()
        except (EOFError, OSError):
            return
        conn.send(answer(endpoint, body))


# ---------------------------------------------------------------- worker processes


class Workers:
    """A fixed number of worker processes; one that overruns the time limit is killed and
    replaced."""

    def __init__(self, count: int = 2, time_limit: float = TIME_LIMIT) -> None:
        self.time_limit = time_limit
        self.context = multiprocessing.get_context("spawn")
        self.idle: queue.Queue = queue.Queue()
        self.all: list = []
        self.lock = threading.Lock()
        for _ in range(count):
            self.idle.put(self._start())

    def _start(self):
        parent, child = self.context.Pipe()
        proc = self.context.Process(target=_worker, args=(child,), daemon=True, name="matcalc-worker")
        proc.start()
        child.close()
        with self.lock:
            self.all.append(proc)
        return proc, parent, [False]  # [ready]

    def _ready(self, conn, ready: list) -> None:
        """Wait for a new worker's imports (not counted in any request's time limit)."""
        if not ready[0]:
            if not conn.poll(BOOT_LIMIT) or conn.recv() != "ready":
                raise OSError("the worker did not start")
            ready[0] = True

    def _retire(self, proc, conn) -> None:
        proc.kill()
        proc.join(5)
        conn.close()
        with self.lock:
            if proc in self.all:
                self.all.remove(proc)

    def run(self, endpoint: str, body: bytes) -> tuple[int, dict]:
        """``answer(endpoint, body)`` computed in a worker, within the time limit."""
        proc, conn, ready = self.idle.get()
        try:
            self._ready(conn, ready)
            conn.send((endpoint, body))
            if conn.poll(self.time_limit):
                result = conn.recv()
                self.idle.put((proc, conn, ready))
                return result
            message = (f"the derivation took longer than {self.time_limit:g} s and was stopped;"
                       " simplify the model or split it into definitions")
        except (EOFError, OSError):
            message = "the derivation stopped its worker (out of memory?) and was abandoned"
        self._retire(proc, conn)
        self.idle.put(self._start())
        return 400, BadRequest(message).body

    def close(self) -> None:
        """Stop every worker."""
        with self.lock:
            procs, self.all = self.all, []
        for proc in procs:
            proc.kill()
            proc.join(5)


# ---------------------------------------------------------------- HTTP


class Handler(BaseHTTPRequestHandler):
    """Static files of :data:`WEB` and the JSON endpoints."""

    server_version = "matcalc"
    timeout = 30  # seconds a client may take to send its request
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # headers and body go out in two writes: without this, Nagle's algorithm and the
        # client's delayed ACK hold every answer back by tens of milliseconds
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args) -> None:
        if getattr(self.server, "verbose", False):
            super().log_message(format, *args)

    # -------------------------------------------------------- responses

    def send(self, status: int, body: bytes, content_type: str, close: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header(
            "Content-Security-Policy",
            "default-src 'self'; style-src 'self' 'unsafe-inline'; font-src 'self'; img-src 'self' data:",
        )
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, status: int, data: dict, close: bool = False) -> None:
        body = json.dumps(data, ensure_ascii=False).encode("utf-8")
        self.send(status, body, "application/json; charset=utf-8", close)

    def refuse(self, status: int, message: str, close: bool = False) -> None:
        self.send_json(status, BadRequest(message).body, close)

    def host_allowed(self) -> bool:
        """Only requests addressed to this server's own name (no DNS rebinding)."""
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0].strip("[]").lower()
        return host in self.server.allowed_hosts

    # -------------------------------------------------------- methods

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        if not self.host_allowed():
            return self.refuse(400, "unknown Host header", close=True)
        path = self.path.split("?", 1)[0]
        if path == "/":
            path = "/index.html"
        if path == "/api/examples":
            return self.send_json(200, {"examples": examples()})
        target = (WEB / path.lstrip("/")).resolve()
        if WEB not in target.parents or not target.is_file() or target.suffix not in CONTENT_TYPES:
            return self.refuse(404, f"no such page: {path}")
        self.send(200, target.read_bytes(), CONTENT_TYPES[target.suffix])

    do_HEAD = do_GET

    def do_POST(self) -> None:  # noqa: N802
        if not self.host_allowed():
            return self.refuse(400, "unknown Host header", close=True)
        endpoint = self.path.split("?", 1)[0].removeprefix("/api/")
        length_text = self.headers.get("Content-Length")
        try:
            length = int(length_text)
        except (TypeError, ValueError):
            return self.refuse(400, "a POST needs a Content-Length", close=True)
        if length < 0 or length > MAX_BODY:
            return self.refuse(400, f"the request body is over {MAX_BODY // 1024} KB", close=True)
        body = self.rfile.read(length)
        if len(body) != length:
            return self.refuse(400, "the request body ended early", close=True)
        if endpoint not in ENDPOINTS or not self.path.startswith("/api/"):
            return self.refuse(404, f"no such endpoint: {self.path}")
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype != "application/json":
            return self.refuse(400, "the request body must be sent as application/json")
        status, data = self.server.workers.run(endpoint, body)
        self.send_json(status, data)


class Server(ThreadingHTTPServer):
    """The HTTP server with its worker processes."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, host: str, port: int, workers: Workers, verbose: bool = False) -> None:
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        try:
            super().__init__((host, port), Handler)
        except BaseException:
            workers.close()
            raise
        self.workers = workers
        self.verbose = verbose
        self.allowed_hosts = {"localhost", "127.0.0.1", "::1", host.lower()}

    def server_close(self) -> None:
        super().server_close()
        self.workers.close()

    def handle_error(self, request, client_address) -> None:
        """A connection that failed (a client gone mid-answer) is not the server's failure."""
        if self.verbose:
            super().handle_error(request, client_address)


def _stop_on(signum: int) -> None:
    """Let ``signum`` stop the server as Ctrl-C does (its workers are stopped too)."""

    def stop(*_):
        raise KeyboardInterrupt

    try:
        signal.signal(signum, stop)
    except ValueError:  # not the main thread: the caller handles stopping
        pass


def examples() -> list[dict]:
    """The examples the page offers: the seed models, then matrixcalculus.org's examples
    (read under its convention); ``{"name", "text", "title", "convention"}`` each."""
    from .convention import SITE_EXAMPLES

    seeds = []
    for p in sorted((WEB / "examples").glob("*.mc")):
        text = p.read_text(encoding="utf-8")
        title = text.split("\n", 1)[0].lstrip("# ").strip() or p.stem
        seeds.append({"name": p.stem, "text": text, "title": title, "convention": "matcalc"})
    site = [{"name": f"matrixcalculus{i:02d}", "text": text + "\n",
             "title": f"matrixcalculus.org: {text} ({source})", "convention": "matrixcalculus"}
            for i, (text, source) in enumerate(SITE_EXAMPLES)]
    return seeds + site


def make_server(host: str = "127.0.0.1", port: int = 8765, workers: int = 2,
                time_limit: float = TIME_LIMIT, verbose: bool = False) -> Server:
    """A ready server (call ``serve_forever``; ``server_close`` stops its workers too)."""
    return Server(host, port, Workers(workers, time_limit), verbose)


def serve(host: str = "127.0.0.1", port: int = 8765, open_browser: bool = False,
          workers: int = 2, time_limit: float = TIME_LIMIT) -> int:
    """Run the page until interrupted."""
    try:
        server = make_server(host, port, workers, time_limit)
    except OSError as err:
        raise MatcalcError(f"cannot serve on {host}:{port}: {err.strerror or err}") from None
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{server.server_address[1]}/"
    print(f"matcalc serving on {url} (Ctrl-C to stop)", flush=True)
    if open_browser:
        import webbrowser

        webbrowser.open(url)
    _stop_on(signal.SIGTERM)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
