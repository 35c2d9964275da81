"""The ``matcalc`` command line.

Each subcommand is one ``cmd_*`` function plus one entry in :data:`COMMANDS`.
Errors in what the user typed print as one message and exit with status 2;
anything unexpected prints ``internal error: ...`` and exits with status 3.
Nobody sees a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from .depth import deep_recursion
from .errors import MatcalcError
from .model import Model

EXIT_USER_ERROR = 2
EXIT_INTERNAL_ERROR = 3


# ---------------------------------------------------------------- reading models


def read_model_text(spec: str) -> str:
    """The model text ``spec`` stands for: a file path if such a file exists,
    ``-`` for standard input, else the model itself written inline."""
    if spec == "-":
        return sys.stdin.read()
    if os.path.isfile(spec):
        try:
            with open(spec, encoding="utf-8") as f:
                return f.read()
        except (OSError, UnicodeDecodeError) as err:
            raise MatcalcError(f"cannot read {spec}: {err}") from None
    if spec.endswith(".mc") and "\n" not in spec and "=" not in spec:
        raise MatcalcError(f"no such model file: {spec}")
    return spec


def load_model(spec: str, convention: str | None = None) -> Model:
    """The parsed model ``spec`` stands for (see :func:`read_model_text`), undeclared
    names named by ``convention`` (see :mod:`matcalc.convention`)."""
    from .parser import parse

    return parse(read_model_text(spec), convention)


def add_model_argument(parser: argparse.ArgumentParser) -> None:
    """The MODEL argument, and ``--convention`` for the kinds of its undeclared names."""
    from .convention import CONVENTIONS

    parser.add_argument(
        "model",
        metavar="MODEL",
        help="a model file, '-' for standard input, or the model text itself",
    )
    parser.add_argument(
        "--convention",
        choices=tuple(CONVENTIONS),
        default="matcalc",
        help="kinds of undeclared names: matcalc (lower-case: vectors, Greek: scalars) or"
        " matrixcalculus/mc (as matrixcalculus.org: a-g scalars, h-z vectors, A-Z matrices)",
    )


# ---------------------------------------------------------------- subcommands


def cmd_show(args: argparse.Namespace) -> int:
    """Print the model as matcalc understood it: kinds, shapes, definitions."""
    from .show import format_model

    print(format_model(load_model(args.model, args.convention)))
    return 0


def _setup_show(parser: argparse.ArgumentParser) -> None:
    add_model_argument(parser)


def _add_derivative_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_argument(parser)
    parser.add_argument(
        "--wrt", required=True, metavar="X[,Y...]", help="the variables (inputs or definitions)"
    )
    parser.add_argument(
        "--of", metavar="NAME", help="the scalar to differentiate (default: the last definition)"
    )
    parser.add_argument(
        "--expand",
        action="store_true",
        help="write every adjoint out where it is used (no 'where δh = …' lines)",
    )


def _gradient(args: argparse.Namespace):
    from .api import grad

    return grad(load_model(args.model, args.convention), wrt=args.wrt, of=args.of, expand=args.expand)


def _write(text: str, path: str | None) -> None:
    if path is None:
        print(text)
        return
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text if text.endswith("\n") else text + "\n")
    except OSError as err:
        raise MatcalcError(f"cannot write {path}: {err}") from None


def _function_name(name: str) -> str:
    import keyword

    if not name.isidentifier() or keyword.iskeyword(name):
        raise MatcalcError(f"--name {name!r} is not a valid Python function name")
    return name


def cmd_grad(args: argparse.Namespace) -> int:
    """Print each gradient (or the derivation, LaTeX, NumPy code, JSON)."""
    import json

    g = _gradient(args)
    if args.format == "text":
        out = g.steps_text() if args.steps else g.text()
    elif args.format == "latex":
        out = g.steps_latex() if args.steps else g.latex()
    elif args.format == "numpy":
        out = g.numpy_source(_function_name(args.name))
    elif args.format in TARGET_NAMES:
        out = g.source(args.format, _function_name(args.name))
    else:
        out = json.dumps(g.to_json(), ensure_ascii=False, indent=2)
    _write(out, args.output)
    return 0


def _setup_grad(parser: argparse.ArgumentParser) -> None:
    _add_derivative_arguments(parser)
    parser.add_argument(
        "--format", choices=("text", "latex", "numpy", *TARGET_NAMES[1:], "json"), default="text"
    )
    parser.add_argument("--steps", action="store_true", help="show the derivation step by step")
    parser.add_argument("--name", default="value_and_grad", help="function name for a code format")
    parser.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of standard output")


def cmd_numpy(args: argparse.Namespace) -> int:
    """Write a self-contained NumPy module computing the value and the gradients
    (``--jacobian``: ``value_and_jacobian``; ``--hessian``: ``value_grad_and_hessian``, ``hvp``)."""
    if args.jacobian or args.hessian:
        if args.jacobian and args.hessian:
            raise MatcalcError("--jacobian and --hessian: give one of them")
        args.command = "jacobian" if args.jacobian else "hessian"
        _write(_kind(args).numpy_source(), args.output)
        return 0
    g = _gradient(args)
    _write(g.numpy_source(_function_name(args.name)), args.output)
    return 0


def _setup_numpy(parser: argparse.ArgumentParser) -> None:
    _add_derivative_arguments(parser)
    parser.add_argument("--jacobian", action="store_true", help="write value_and_jacobian instead")
    parser.add_argument("--hessian", action="store_true", help="write value_grad_and_hessian and hvp too")
    parser.add_argument("--layout", choices=("numerator", "denominator"), default="numerator",
                        help="with --jacobian: size(F)×size(X) (default) or the transpose")
    parser.add_argument("--name", default="value_and_grad", help="the function's name")
    parser.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of standard output")


#: The code targets, as ``code --target`` and ``grad --format`` take them (NumPy first).
TARGET_NAMES = ("numpy", "torch", "jax", "array-api")


def cmd_code(args: argparse.Namespace) -> int:
    """Write a self-contained module for one target computing the value and the gradients
    (``--jacobian``: ``value_and_jacobian``; ``--hessian``: ``value_grad_and_hessian``, ``hvp``)."""
    if args.jacobian or args.hessian:
        if args.jacobian and args.hessian:
            raise MatcalcError("--jacobian and --hessian: give one of them")
        args.command = "jacobian" if args.jacobian else "hessian"
        _write(_kind(args).source(args.target), args.output)
        return 0
    g = _gradient(args)
    _write(g.source(args.target, _function_name(args.name)), args.output)
    return 0


def _setup_code(parser: argparse.ArgumentParser) -> None:
    _add_derivative_arguments(parser)
    parser.add_argument("--target", choices=TARGET_NAMES, default="numpy", help="the array library")
    parser.add_argument("--jacobian", action="store_true", help="write value_and_jacobian instead")
    parser.add_argument("--hessian", action="store_true", help="write value_grad_and_hessian and hvp too")
    parser.add_argument("--layout", choices=("numerator", "denominator"), default="numerator",
                        help="with --jacobian: size(F)×size(X) (default) or the transpose")
    parser.add_argument("--name", default="value_and_grad", help="the function's name")
    parser.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of standard output")


def _names(text: str | None) -> list[str]:
    return [n.strip() for n in (text or "").split(",") if n.strip()]


def cmd_check(args: argparse.Namespace) -> int:
    """Compare each gradient with central differences; exit 1 on a mismatch."""
    from .check import check

    if args.jacobian or args.hessian:
        return _check_kind(args)
    g = _gradient(args)
    for name in _names(args.positive) + _names(args.spd):
        if g.model.lookup(name) is None or g.model.lookup(name).role != "input":
            raise MatcalcError(f"--positive/--spd: {name!r} is not an input of the model")
    result = check(
        g.derivation,
        seed=args.seed,
        trials=args.trials,
        tolerance=args.tol,
        positive=_names(args.positive),
        spd=_names(args.spd),
    )
    width = max(len(n) for n in result.names)
    for name, err in zip(result.names, result.errors):
        verdict = "ok" if err <= result.tolerance else "MISMATCH"
        print(f"∂{g.of}/∂{name.ljust(width)}  relative error {err:.2e}  {verdict}")
    print("all gradients agree with central differences" if result.ok else "gradient check FAILED")
    return 0 if result.ok else 1


def _check_kind(args: argparse.Namespace) -> int:
    """Check a Jacobian (central differences) or a Hessian (differences of the gradient),
    its map, and the generated code (``hvp`` against the explicit Hessian)."""
    from .check_kinds import check_generated, check_hessian, check_jacobian

    if args.jacobian and args.hessian:
        raise MatcalcError("--jacobian and --hessian: give one of them")
    args.command = "jacobian" if args.jacobian else "hessian"
    args.layout = "numerator"
    d = _kind(args)
    model = d.model
    for name in _names(args.positive) + _names(args.spd):
        if model.lookup(name) is None or model.lookup(name).role != "input":
            raise MatcalcError(f"--positive/--spd: {name!r} is not an input of the model")
    opts = dict(seed=args.seed, trials=args.trials, positive=_names(args.positive), spd=_names(args.spd))
    run = check_jacobian if args.jacobian else check_hessian
    math = run(d.derivation, tolerance=args.tol, **opts)
    code = check_generated(d.derivation, d.numpy_source(), **opts)
    errors = {**math.errors, **code.errors}
    width = max(len(k) for k in errors)
    for label, err in errors.items():
        tol = math.tolerance if label in math.errors else code.tolerance
        print(f"{label.ljust(width)}  relative error {err:.2e}  {'ok' if err <= tol else 'MISMATCH'}")
    ok = math.ok and code.ok
    what = "Jacobians" if args.jacobian else "Hessians, maps and hvp"
    print(f"all {what} agree" if ok else f"{args.command} check FAILED")
    return 0 if ok else 1


def _setup_check(parser: argparse.ArgumentParser) -> None:
    _add_derivative_arguments(parser)
    parser.add_argument("--jacobian", action="store_true", help="check the Jacobians instead of gradients")
    parser.add_argument("--hessian", action="store_true", help="check the Hessians and hvp instead")
    parser.add_argument("--seed", type=int, default=0, help="random seed for sizes and inputs")
    parser.add_argument("--trials", type=int, default=2, help="random draws to check")
    parser.add_argument("--tol", type=float, default=1e-5, help="largest relative error accepted")
    parser.add_argument("--positive", metavar="X[,Y...]", help="inputs to draw positive")
    parser.add_argument("--spd", metavar="X[,Y...]", help="square inputs to draw positive definite")


def cmd_selftest(args: argparse.Namespace) -> int:
    """Check random models' gradients numerically; print the figures; exit 1 on a disagreement.
    With ``--target``, also run each checked model through that target's module."""
    from .selftest import command

    status = command(args)
    if args.jacobians or args.hessians:
        from .selftest_kinds import command_kinds

        status = max(status, command_kinds(args))
    if args.target == "numpy":
        return status
    from .codegen.agree import run

    s = run(args.examples, args.seed, args.target)
    print(f"{args.target} module      {s.compared} of {s.tried} models compared with the NumPy module, "
          f"{len(s.failures)} disagreements  ({s.seconds:.1f} s)")
    if s.with_formulas:
        print(f"  {s.with_formulas} of them with a function defined by formula")
    for _, report in s.failures[: args.show]:
        print("  " + report)
    return 1 if status or s.failures else 0


def _setup_selftest(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--examples", type=int, default=1000, metavar="N",
                        help="random well-typed models to check (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="which random models (default 0)")
    parser.add_argument("--max-seconds", type=float, metavar="S", help="stop checking models after S seconds")
    parser.add_argument("--ill-typed", type=int, default=0, metavar="N",
                        help="also check that N ill-typed models fail with a located error")
    parser.add_argument("--fuzz", type=int, default=0, metavar="N",
                        help="also check that N fuzzed inputs end in a model or a located error")
    parser.add_argument("--extreme-numbers", action="store_true",
                        help="let the fuzzer write numbers beyond a float's range (1e400, 5000 digits)")
    parser.add_argument("--derivations", action="store_true", help="also print each step-by-step derivation")
    parser.add_argument("--jacobians", type=int, default=0, metavar="N",
                        help="also check N random vector- and matrix-valued models' Jacobians")
    parser.add_argument("--hessians", type=int, default=0, metavar="N",
                        help="also check N random models' Hessians and hvp through generated code")
    parser.add_argument("--target", choices=TARGET_NAMES, default="numpy",
                        help="also run every checked model through this target's module")
    parser.add_argument("--show", type=int, default=5, metavar="K",
                        help="print the first K disagreements in full, each with a shrunk model (default 5)")


def _kind(args: argparse.Namespace):
    from .kinds_api import hessian, jacobian

    model = load_model(args.model, args.convention)
    if args.command == "jacobian":
        return jacobian(model, wrt=args.wrt, of=args.of, layout=args.layout)
    return hessian(model, wrt=args.wrt, of=args.of)


def cmd_kind(args: argparse.Namespace) -> int:
    """Print a Jacobian or a Hessian: map and matrix (or steps, LaTeX, NumPy code, JSON)."""
    import json

    d = _kind(args)
    if args.format == "text":
        out = d.steps_text() if args.steps else d.text()
    elif args.format == "latex":
        out = d.steps_latex() if args.steps else d.latex()
    elif args.format == "json":
        out = json.dumps(d.to_json(), ensure_ascii=False, indent=2)
    else:  # a code target
        out = d.source(args.format)
    _write(out, args.output)
    return 0


def _setup_kind(layout: bool) -> Callable[[argparse.ArgumentParser], None]:
    def setup(parser: argparse.ArgumentParser) -> None:
        _add_derivative_arguments(parser)
        parser.add_argument("--format", choices=("text", "latex", "json", *TARGET_NAMES), default="text",
                            help="text, LaTeX, JSON, or a code target's module")
        parser.add_argument("--steps", action="store_true", help="show the derivation step by step")
        if layout:
            parser.add_argument("--layout", choices=("numerator", "denominator"), default="numerator",
                                help="numerator: size(F)×size(X) (default); denominator: the transpose")
        parser.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of standard output")

    return setup


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve the local web page until interrupted."""
    from .server import serve

    return serve(args.host, args.port, args.open, args.workers, args.time_limit)


def _setup_serve(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=8765, help="port (default 8765; 0: any free port)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: this machine only)")
    parser.add_argument("--open", action="store_true", help="open the page in a web browser")
    parser.add_argument("--workers", type=int, default=2, help="worker processes for derivations (default 2)")
    parser.add_argument("--time-limit", type=float, default=10.0, metavar="S",
                        help="seconds a derivation may take before it is stopped (default 10)")


#: name -> (one-line help, argument setup, command)
COMMANDS: dict[
    str, tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]
] = {
    "show": ("print the model with the kind and shape of every name", _setup_show, cmd_show),
    "grad": ("print the gradients of a scalar w.r.t. variables", _setup_grad, cmd_grad),
    "jacobian": ("print the Jacobian of a function w.r.t. variables", _setup_kind(True), cmd_kind),
    "hessian": ("print the Hessian of a scalar w.r.t. variables", _setup_kind(False), cmd_kind),
    "check": ("check gradients against central finite differences", _setup_check, cmd_check),
    "numpy": ("write a NumPy module computing the value and gradients", _setup_numpy, cmd_numpy),
    "code": ("write a NumPy, PyTorch, JAX or array-API module computing them", _setup_code, cmd_code),
    "selftest": ("check random models' gradients against finite differences", _setup_selftest, cmd_selftest),
    "serve": ("serve a local web page to derive, check and export gradients", _setup_serve, cmd_serve),
}


# ---------------------------------------------------------------- entry point


def version() -> str:
    """The installed version of matcalc."""
    try:
        from importlib.metadata import version as dist_version

        return dist_version("matcalc")
    except Exception:  # not installed as a distribution
        from . import __version__

        return __version__


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand of :data:`COMMANDS`."""
    parser = argparse.ArgumentParser(
        prog="matcalc",
        description="Symbolic matrix calculus: closed-form gradients of matrix expressions.",
    )
    parser.add_argument("--version", action="version", version=f"matcalc {version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (help_text, setup, run) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        setup(p)
        p.set_defaults(run=run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; the exit status (0 ok, 2 bad input, 3 internal error)."""
    _tolerate_unencodable_output()
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as done:  # --help, --version, or a usage error already printed
        return done.code if isinstance(done.code, int) else 0
    try:
        with deep_recursion():
            status = args.run(args)
        sys.stdout.flush()
        return status
    except BrokenPipeError:  # the reader stopped early (``| head``): nothing more to say
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except MatcalcError as err:
        print(str(err), file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except RecursionError:
        print("error: expression nested too deeply", file=sys.stderr)
        return EXIT_USER_ERROR
    except Exception as err:  # a bug in matcalc, reported without a traceback
        print(f"internal error: {type(err).__name__}: {err}", file=sys.stderr)
        return EXIT_INTERNAL_ERROR


def _tolerate_unencodable_output() -> None:
    """Print ``×``, ``ᵀ``... as escapes instead of failing on a non-UTF-8 terminal."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors="backslashreplace")
            except (ValueError, OSError):
                pass
