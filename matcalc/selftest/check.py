"""The property: a model's generated NumPy module against the reference value and
its central differences (:func:`check_case`), and cases from text."""

from __future__ import annotations

import traceback
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .. import dims as dimensions
from .generate import Def, Dim, GeneratedModel, Statement, from_syntax, round_trip
from .reference import Reference, Rejected, Unsupported

# ---------------------------------------------------------------- instances and the property


@dataclass
class Case:
    """A model text, what to differentiate, and concrete sizes and inputs."""

    text: str
    wrt: tuple[str, ...]
    of: str | None
    statements: tuple[Statement, ...]
    dims: dict[str, int]
    inputs: dict[str, np.ndarray]  # every value 2-D
    symmetric: frozenset[str] = frozenset()
    functions: tuple[str, ...] = ()

    def describe(self) -> str:
        of = f" --of {self.of}" if self.of else ""
        sizes = ", ".join(f"{d}={s}" for d, s in self.dims.items())
        return f"matcalc check {self.text!r} --wrt {','.join(self.wrt)}{of}   # sizes {sizes}"


def draw_array(rng: np.random.Generator, shape: tuple[int, int], domain: str, symmetric: bool) -> np.ndarray:
    r, c = shape
    if domain == "spd":
        a = rng.normal(size=(r, r))
        return a @ a.T / r + np.eye(r)
    if domain == "positive":
        x = rng.uniform(0.5, 1.5, size=(r, c))
    elif domain == "small":
        x = rng.uniform(-0.5, 0.5, size=(r, c))
    else:
        x = rng.normal(size=(r, c))
    return (x + x.T) / 2 if symmetric else x


def distinct_sizes(rng: np.random.Generator, dims: Sequence[str]) -> dict[str, int]:
    """A different size, from 2 up, for every dimension symbol."""
    pool = list(range(2, 5 + len(dims)))
    sizes = rng.choice(pool, size=len(dims), replace=False)
    return {d: int(s) for d, s in zip(dims, sizes)}


def instance(gm: GeneratedModel) -> Case:
    """Random distinct sizes and random inputs (in their domains) for a generated model."""
    rng = np.random.default_rng(gm.seed)
    dims = distinct_sizes(rng, gm.dims)

    def size(d: Dim) -> int:
        return dimensions.size(d, dims)

    inputs = {
        i.name: draw_array(rng, (size(i.shape[0]), size(i.shape[1])), i.domain, i.symmetric)
        for i in gm.inputs
    }
    sym = frozenset(i.name for i in gm.inputs if i.symmetric)
    return Case(gm.text, gm.wrt, gm.of, gm.statements, dims, inputs, sym, gm.functions)


#: The concrete abstract function used for every declared elementwise name: sin, and cos its derivative.
ABSTRACT = (np.sin, np.cos)


@dataclass
class Outcome:
    """``ok``, ``rejected`` (the draw cannot judge) or ``failed`` (a disagreement)."""

    status: str
    detail: str = ""
    case: Case | None = field(default=None, repr=False)

    def report(self) -> str:
        head = f"{self.status}: {self.detail}"
        return head if self.case is None else f"{head}\n  model: {self.case.describe()}"


H = 1e-4
TOLERANCE = 1e-5
VALUE_TOLERANCE = 1e-7
NOISE = 1e-7


def _to_2d(value) -> np.ndarray:
    a = np.asarray(value, dtype=float)
    return a.reshape(1, 1) if a.ndim == 0 else a.reshape(-1, 1) if a.ndim == 1 else a


def numeric_gradient(
    ref: Reference,
    case: Case,
    output: str,
    var: str,
    base_env: dict[str, np.ndarray],
    is_input: bool,
    symmetric: bool | None = None,
) -> tuple[np.ndarray, float]:
    """Central differences of ``output`` w.r.t. every entry of ``var`` (Richardson-extrapolated)
    and an estimate of their error; ``symmetric``: perturb ``var`` symmetrically (default: when
    it is a declared symmetric input)."""
    base = base_env[var][0]
    r, c = base.shape
    if symmetric is None:
        symmetric = var in case.symmetric
    entries = [(i, j) for i in range(r) for j in range(c) if not symmetric or j >= i]
    steps = (H, 2 * H, 4 * H, H / 8, H / 4)
    stack = np.empty((len(entries), len(steps), 2, r, c))
    stack[...] = base
    for n, (i, j) in enumerate(entries):
        for s, h in enumerate(steps):
            for k, sign in enumerate((1.0, -1.0)):
                stack[n, s, k, i, j] += sign * h
                if symmetric and i != j:
                    stack[n, s, k, j, i] += sign * h
    batch = stack.reshape(-1, r, c)
    if is_input:
        inputs = {k: v for k, v in base_env.items() if k in case.inputs}
        env = ref.run(case.statements, {**inputs, var: batch}, output, stop=output)
    else:
        inputs = {k: base_env[k] for k in case.inputs}
        env = ref.run(case.statements, inputs, output, override={var: batch}, stop=output)
    f = np.broadcast_to(env[output][:, 0, 0], (len(batch),)).reshape(len(entries), len(steps), 2)
    d = (f[:, :, 0] - f[:, :, 1]) / (2 * np.array(steps))
    r1 = d[:, 0] + (d[:, 0] - d[:, 1]) / 3
    r2 = d[:, 1] + (d[:, 1] - d[:, 2]) / 3  # h⁴ error: 16 times r1's
    r3 = d[:, 3] + (d[:, 3] - d[:, 4]) / 3  # steps 32 times smaller: catches what oscillates within h
    grad = np.zeros((r, c))
    noise = np.zeros((r, c))
    for n, (i, j) in enumerate(entries):
        scale = 0.5 if symmetric and i != j else 1.0
        grad[i, j] = r1[n] * scale
        noise[i, j] = max(abs(r1[n] - r2[n]) / 15, abs(r1[n] - r3[n])) * scale + 1e-15
        if symmetric:
            grad[j, i], noise[j, i] = grad[i, j], noise[i, j]
    return grad, float(np.linalg.norm(noise))


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    scale = max(float(np.linalg.norm(a)), float(np.linalg.norm(b)), 1.0)
    return float(np.linalg.norm(a - b)) / scale


def check_case(case: Case, derivations: bool = False, check_parse: bool = True) -> Outcome:
    """The property: the generated NumPy module's value and gradients agree with the
    reference value and its central differences."""
    import matcalc

    def failed(what: str) -> Outcome:
        return Outcome("failed", what, case)

    functions = {g: ABSTRACT for g in case.functions}
    # 1. the reference, first: a draw it cannot judge is rejected before matcalc runs
    try:
        ref = Reference(case.dims, functions, track=True)
        # the output's name is matcalc's; the reference names a bare expression "<output>"
        base = ref.run(case.statements, {k: v[None] for k, v in case.inputs.items()}, "<output>",
                       stop=case.of)
    except Rejected as err:
        return Outcome("rejected", str(err), case)
    except Unsupported as err:
        return Outcome("unsupported", str(err), case)
    output = case.of or _last_definition(case.statements)
    want_value = float(base[output][0, 0, 0])
    if abs(want_value) > 1e6:
        return Outcome("rejected", "the value is huge", case)

    # 2. matcalc: parse (as written), derive, print, generate
    try:
        if check_parse:
            misread = round_trip(case.text, case.statements)
            if misread:
                return failed(f"the parser misread the model: {misread}")
        model = matcalc.parse(case.text)
        g = matcalc.grad(model, wrt=list(case.wrt), of=case.of)
        g.text()
        g.latex()
        if derivations:
            g.steps_text()
        fn = g.to_function()
    except Exception as err:  # any error on a well-typed model is a disagreement
        return failed(f"matcalc raised {type(err).__name__}: {err}\n{_where(err)}")

    # 3. the generated module
    args = []
    drawn = {unicodedata.normalize("NFC", k): a for k, a in case.inputs.items()}  # as matcalc reads
    for v in model.inputs:
        if v.name not in drawn:
            return failed(f"matcalc found an input {v.name!r} the model does not have")
        a = drawn[v.name]
        args.append(float(a[0, 0]) if v.shape == (1, 1) else a[:, 0].copy() if v.shape[1] == 1 else a.copy())
    for f in sorted(model.elementwise):
        args += list(functions[f])
    try:
        with np.errstate(all="ignore"):
            result = fn(*args)
    except Exception as err:
        return failed(f"the generated module raised {type(err).__name__}: {err}\n{_where(err)}")
    if not isinstance(result, tuple) or len(result) != 1 + len(case.wrt):
        return failed(f"the generated module returned {type(result).__name__} of the wrong length")
    value, grads = result[0], result[1:]
    if not isinstance(value, float):
        return failed(f"the value is a {type(value).__name__}, not a float")
    if abs(value - want_value) > VALUE_TOLERANCE * max(abs(value), abs(want_value), 1.0):
        return failed(f"value {value!r} but the model's value is {want_value!r}")

    # 4. each gradient: its shape by the contract, then central differences
    ref = Reference(case.dims, functions)
    for name_, grad in zip(case.wrt, grads):
        want_shape = base[name_][0].shape
        if want_shape == (1, 1) and model.lookup(name_).shape == (1, 1):
            if not isinstance(grad, float):
                return failed(f"∂/∂{name_} is a {type(grad).__name__}, not a float")
        else:
            vector = model.lookup(name_).shape[1] == 1
            shape = (want_shape[0],) if vector else want_shape
            if not isinstance(grad, np.ndarray) or grad.shape != shape or grad.dtype != np.float64:
                got = getattr(grad, "shape", type(grad).__name__)
                return failed(f"∂/∂{name_} has shape {got}, the contract says {shape}")
        try:
            # a definition symmetric by construction varies only symmetrically (README)
            by_construction = any(v.name == name_ and v.symmetric for v, _ in model.definitions)
            numeric, noise = numeric_gradient(
                ref, case, output, name_, base, name_ in case.inputs, by_construction or None
            )
        except (Rejected, Unsupported) as err:
            return Outcome("rejected", str(err), case)
        symbolic = _to_2d(grad)
        # the noise is judged against the differences alone: a wrong (large) symbolic gradient
        # must not make noisy differences look precise
        scale = max(float(np.linalg.norm(numeric)), 1.0)
        if not np.all(np.isfinite(numeric)) or noise / scale > NOISE:
            why = f"∂/∂{name_}: finite differences too noisy ({noise / scale:.1e})"
            return Outcome("rejected", why, case)
        err = relative_error(symbolic, numeric)
        if not err <= TOLERANCE:
            text = g.text().splitlines()[list(g.wrt).index(name_)]
            return failed(
                f"∂/∂{name_}: relative error {err:.2e}\n  matcalc: {text}\n"
                f"  symbolic: {np.array2string(symbolic, precision=5)}\n"
                f"  numeric:  {np.array2string(numeric, precision=5)}"
            )
    return Outcome("ok", "", case)


def _last_definition(statements: Sequence[Statement]) -> str:
    last = [s for s in statements if isinstance(s, Def)][-1]
    return last.name if last.name is not None else "<output>"


def _where(err: BaseException) -> str:
    tb = traceback.extract_tb(err.__traceback__)
    return "".join(traceback.format_list(tb[-3:])).rstrip()



def case_from_text(
    text: str,
    wrt: str | Sequence[str],
    of: str | None = None,
    seed: int = 0,
    domains: dict[str, str] | None = None,
) -> Case:
    """A case for a model given as text (a regression): sizes and inputs drawn at random.

    ``domains`` maps inputs to ``positive``, ``small`` or ``spd`` (others are
    standard normal; ``symmetric`` inputs are drawn symmetric). Names are taken in NFC,
    as matcalc reads the text.
    """
    import matcalc

    from ..parser import parse_statements

    text = unicodedata.normalize("NFC", text)
    model = matcalc.parse(text)
    domains = domains or {}
    rng = np.random.default_rng(seed)
    dims = distinct_sizes(rng, model.dims)

    def size(d: Dim) -> int:
        return dimensions.size(d, dims)

    inputs = {
        v.name: draw_array(rng, (size(v.shape[0]), size(v.shape[1])), domains.get(v.name, "any"), v.symmetric)
        for v in model.inputs
    }
    sym = frozenset(v.name for v in model.inputs if v.symmetric)
    wrt = tuple(w.strip() for w in wrt.split(",")) if isinstance(wrt, str) else tuple(wrt)
    wrt = tuple(unicodedata.normalize("NFC", w) for w in wrt)
    statements = from_syntax(parse_statements(text))
    return Case(text, wrt, of, statements, dims, inputs, sym, tuple(model.elementwise))


