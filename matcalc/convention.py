"""Naming conventions: the kind an undeclared name gets from its spelling.

``matcalc`` (the default): a capital first letter makes a matrix, a lower-case
Greek letter a scalar, anything else a column vector.

``matrixcalculus`` (alias ``mc``), the rule of matrixcalculus.org: ``a``–``g``
are scalars, ``h``–``z`` vectors, ``A``–``Z`` matrices; a longer name goes by its
first letter, and lower-case Greek stays scalar.

Declarations always win. Under the default convention, an error that involves an
undeclared ``a``–``g`` name taken as a vector gets a note saying so and how to
read it as matrixcalculus.org does (:func:`add_scalar_hint`).
"""

from __future__ import annotations

from .errors import MatcalcError, MatcalcSyntaxError

DEFAULT = "matcalc"
MATRIXCALCULUS = "matrixcalculus"

#: Every spelling accepted by ``--convention`` and ``convention=``, with what it means.
CONVENTIONS: dict[str, str] = {
    "matcalc": DEFAULT,
    "default": DEFAULT,
    "matrixcalculus": MATRIXCALCULUS,
    "matrixcalculus.org": MATRIXCALCULUS,
    "mc": MATRIXCALCULUS,
}

#: Spelled-out lower-case Greek letters: undeclared names like these are scalars.
GREEK_NAMES = frozenset(
    "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho"
    " sigma tau upsilon phi chi psi omega".split()
)

#: Examples from matrixcalculus.org, as written there, with where each comes from: they run
#: as pasted under the ``matrixcalculus`` convention (the web page offers them).
SITE_EXAMPLES: tuple[tuple[str, str], ...] = (
    ("x'*A*x + c*sin(y)'*x", "start page default"),
    ("0.5*x'*A*x", "documentation"),
    ("(y.*v)'*x", "documentation"),
    ("norm1(A*x-y)", "documentation: 1-norm"),
    ("norm2(A*x-y)^2", "documentation: least squares"),
    ("sum(log(exp(-y.*(X*w)) + vector(1)))", "documentation: logistic regression"),
    ("tr(A*X'*B*X*C)", "documentation"),
    ("log(det(inv(X)))", "documentation: log det"),
    ("sin(x)'*y", "older documentation"),
    ("((tanh(w'*i+b)+1)/2-d)^2", "input quoted in a module the site generated"),
    ("x'*C*x + (a+B*x)'*A*(B*x+a)", "input quoted in a module the site generated"),
    ("a*exp(-b*x'*x)", "Gaussian bump"),
    ("c*norm2(X*w - y)^2", "scaled least squares"),
)

#: First letters that matrixcalculus.org reads as scalars.
MC_SCALAR_LETTERS = "abcdefg"


def convention_name(convention: str | None) -> str:
    """The canonical name (``matcalc`` or ``matrixcalculus``) of ``convention``.

    ``None`` is the default. Raises :class:`~matcalc.errors.MatcalcError` for an
    unknown name.
    """
    if convention is None:
        return DEFAULT
    key = convention.strip().lower() if isinstance(convention, str) else convention
    if key not in CONVENTIONS:
        raise MatcalcError(
            f"unknown naming convention {convention!r}; expected matcalc (the default)"
            " or matrixcalculus (mc)"
        )
    return CONVENTIONS[key]


def is_greek(name: str) -> bool:
    """Whether ``name`` is a lower-case Greek letter, spelled out or in Unicode, optionally
    followed by digits or ``_suffix`` (``alpha``, ``λ``, ``mu0``, ``eta_max``)."""
    base = name.split("_", 1)[0].rstrip("0123456789")
    return base in GREEK_NAMES or (len(base) == 1 and "α" <= base <= "ω")


def kind_by_convention(name: str, convention: str = DEFAULT) -> str:
    """The kind an undeclared ``name`` gets: ``matrix``, ``scalar`` or ``vector``."""
    if name[0].isupper():
        return "matrix"
    if is_greek(name):
        return "scalar"
    if convention == MATRIXCALCULUS:
        first = name.lstrip("_")[:1]
        if first and first in MC_SCALAR_LETTERS:
            return "scalar"
    return "vector"


def scalar_hint(names: list[str]) -> str:
    """The note for undeclared ``names`` (from ``a``–``g``) that were taken as vectors."""
    listed = ", ".join(names)
    verb = "was" if len(names) == 1 else "were"
    noun = "a vector" if len(names) == 1 else "vectors"
    return (
        f"note: {listed} {verb} taken as {noun} (undeclared lower-case names are vectors here);"
        f" matrixcalculus.org reads a–g as scalars: declare '{listed}: scalar'"
        " or use --convention mc"
    )


def add_scalar_hint(err: MatcalcError, text: str) -> MatcalcError:
    """``err`` with :func:`scalar_hint` as its note when it involves an undeclared name
    from ``a``–``g`` that the default convention took as a vector.

    A name is involved when it is written inside the error's underlined text, or in the
    definition (followed through the definitions it uses) of a name written there.
    """
    if isinstance(err, MatcalcSyntaxError) or err.line is None or err.column is None or err.note:
        return err
    names = involved_vector_names(text, err.line, err.column, err.end_column)
    if names:
        err.note = scalar_hint(names)
    return err


def involved_vector_names(text: str, line: int, column: int, end_column: int | None) -> list[str]:
    """Undeclared ``a``–``g`` names taken as vectors that the text at ``line``/``column``
    (up to ``end_column``) uses, directly or through definitions, in order of appearance."""
    from .parser import parse_statements
    from .syntax import Assign, Declaration, FunctionDef

    try:
        statements = parse_statements(text)
    except (MatcalcError, RecursionError):
        return []
    declared = {n.name for st in statements if isinstance(st, Declaration) for n in st.names}
    rhs = {st.target.name: st.expr for st in statements if isinstance(st, Assign)}
    end = end_column if end_column is not None else column + 1

    def inside(span) -> bool:
        return span.line == line and column <= span.column and span.end_column <= max(end, span.column + 1)

    seeds: list[str] = []
    for st in statements:
        if isinstance(st, (Declaration, FunctionDef)):  # a function's body names only its parameter
            continue
        if isinstance(st, Assign) and inside(st.target.span):
            seeds.append(st.target.name)
        seeds.extend(name for name, span in _names(st.expr) if inside(span))

    found: list[str] = []
    seen: set[str] = set()
    todo = list(reversed(seeds))
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        if name in rhs:
            todo.extend(reversed([n for n, _ in _names(rhs[name])]))
        elif (
            name not in declared
            and name[0] in MC_SCALAR_LETTERS
            and kind_by_convention(name) == "vector"
        ):
            found.append(name)
    return found


def _names(root) -> list[tuple[str, object]]:
    """The variable names written in the syntax tree ``root``, with their spans, in order."""
    from .syntax import Binary, Call, Name, Neg, Transpose

    out: list[tuple[str, object]] = []
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, Name):
            if node.name not in ("ones", "eye"):
                out.append((node.name, node.span))
        elif isinstance(node, Binary):
            stack.extend((node.right, node.left))
        elif isinstance(node, (Neg, Transpose)):
            stack.append(node.operand)
        elif isinstance(node, Call):
            stack.extend(reversed(node.args))
    return out
