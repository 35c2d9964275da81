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


def load_model(spec: str) -> Model:
    """The parsed model ``spec`` stands for (see :func:`read_model_text`)."""
    from .parser import parse

    return parse(read_model_text(spec))


def add_model_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "model",
        metavar="MODEL",
        help="a model file, '-' for standard input, or the model text itself",
    )


# ---------------------------------------------------------------- subcommands


def cmd_show(args: argparse.Namespace) -> int:
    """Print the model as matcalc understood it: kinds, shapes, definitions."""
    from .show import format_model

    print(format_model(load_model(args.model)))
    return 0


def _setup_show(parser: argparse.ArgumentParser) -> None:
    add_model_argument(parser)


#: name -> (one-line help, argument setup, command)
COMMANDS: dict[
    str, tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]
] = {
    "show": ("print the model with the kind and shape of every name", _setup_show, cmd_show),
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
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
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
