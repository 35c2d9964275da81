"""``matcalc selftest``: random well-typed models, each gradient checked numerically.

The pieces, usable on their own (the test suite wraps them in hypothesis):

* :class:`ModelGenerator` writes a random, well-typed model as TEXT, from a
  small tree of its own (:class:`Node`), over every operator and function of
  the language. Domains are respected by construction: ``log``/``sqrt`` get
  positive arguments (``exp(·)``, ``1 + sq(·)``, positive inputs…),
  ``inv``/``logdet``/``det`` symmetric positive definite ones (a declared
  ``symmetric`` input drawn SPD, ``A*A' + eye``…), ``arcsin`` arguments
  inside (-1, 1). Every random choice goes through a :class:`Chooser`, so the
  same generator runs from a seed (here) or from hypothesis (which then
  shrinks a failing model to a minimal one).
* :class:`Reference` evaluates such a tree with NumPy — independently of
  matcalc's expression nodes, differentials, rewrites and code generator —
  for a whole batch of perturbed inputs at once (central differences).
* :func:`check_case` runs the property: matcalc parses the text, derives the
  gradients, generates the NumPy module; the module's value must equal the
  reference value and each gradient must agree with central differences of
  the reference (Richardson-extrapolated; draws too close to a kink or too
  ill-conditioned to judge are *rejected*, not counted).
* :func:`shrink` makes a failing model smaller while it fails the same way.
* :func:`ill_typed_model` makes models that must fail with a located
  :class:`~matcalc.errors.MatcalcError`; :func:`mutate`, :func:`random_text`
  and :func:`random_soup` make fuzzed text (:func:`fuzz_outcome` judges it).
* :func:`command` is ``matcalc selftest [--examples N] [--seed S]
  [--ill-typed N] [--fuzz N]``: the figures, and exit status 1 on any
  disagreement.

One module per job: :mod:`.generate`, :mod:`.reference`, :mod:`.check`,
:mod:`.shrink`, :mod:`.fuzz`, :mod:`.run`; this package exports their names.

Nothing here imports hypothesis (the installed package does not depend on it);
tests/strategies.py drives the same generators from hypothesis.
"""

from .check import (
    ABSTRACT,
    Case,
    Outcome,
    case_from_text,
    check_case,
    distinct_sizes,
    draw_array,
    instance,
    numeric_gradient,
    relative_error,
)
from .fuzz import (
    BadModel,
    fuzz_input,
    fuzz_outcome,
    ill_typed_model,
    located_error,
    mutate,
    random_soup,
    random_text,
    run_fuzz,
    run_ill_typed,
    time_limit,
)
from .generate import (
    DEFAULT_NAMES,
    Chooser,
    Decl,
    Def,
    Fun,
    GeneratedModel,
    Input,
    ModelGenerator,
    NamePool,
    Node,
    Printer,
    RandomChooser,
    Statement,
    from_syntax,
    generate,
    round_trip,
    statement_key,
)
from .reference import Fill, Reference, Rejected, Unsupported
from .run import Summary, command, format_summary, run
from .shrink import failure_kind, shrink

__all__ = [
    "ABSTRACT", "DEFAULT_NAMES", "BadModel", "Case", "Chooser", "Decl", "Def", "Fill", "Fun",
    "GeneratedModel", "Input", "ModelGenerator", "NamePool", "Node", "Outcome", "Printer",
    "RandomChooser", "Reference", "Rejected", "Statement", "Summary", "Unsupported",
    "case_from_text", "check_case", "command", "distinct_sizes", "draw_array", "failure_kind",
    "format_summary", "from_syntax", "fuzz_input", "fuzz_outcome", "generate", "ill_typed_model",
    "instance", "located_error", "mutate", "numeric_gradient", "random_soup", "random_text",
    "relative_error", "round_trip", "run", "run_fuzz", "run_ill_typed", "shrink", "statement_key",
    "time_limit",
]  # fmt: skip
