"""Hypothesis strategies for matcalc models, reusable by any test.

They wrap the seeded generators of :mod:`matcalc.selftest` (which the
installed package ships without hypothesis): every random decision the
generator makes is one ``st.integers`` draw, so hypothesis shrinks a failing
model by lowering those integers — towards the first, simplest option of
each choice: leaves instead of operators, fewer definitions, fewer inputs.

    from strategies import cases, generated_models, ill_typed_models, fuzzed_texts
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from matcalc import selftest
from matcalc.selftest import DEFAULT_NAMES, BadModel, Case, GeneratedModel, NamePool


class DrawChooser:
    """A :class:`matcalc.selftest.Chooser` whose decisions hypothesis draws (and shrinks)."""

    def __init__(self, draw) -> None:
        self.draw = draw

    def integer(self, lo: int, hi: int) -> int:
        return self.draw(st.integers(lo, hi))


@st.composite
def generated_models(
    draw, names: NamePool = DEFAULT_NAMES, max_depth: int = 3, max_definitions: int = 3
) -> GeneratedModel:
    """A random well-typed model (text, inputs with their domains, ``wrt``, ``of``)."""
    gen = selftest.ModelGenerator(DrawChooser(draw), names, max_depth, max_definitions)
    return gen.model(seed=draw(st.integers(0, 2**32 - 1)))


def cases(names: NamePool = DEFAULT_NAMES, max_depth: int = 3, max_definitions: int = 3):
    """A random well-typed model with random distinct sizes and random inputs in their domains."""
    return generated_models(names, max_depth, max_definitions).map(selftest.instance)


@st.composite
def ill_typed_models(draw, names: NamePool = DEFAULT_NAMES) -> BadModel:
    """A well-typed model with one mistake put in, and the line the error must name."""
    return selftest.ill_typed_model(DrawChooser(draw), names)


@st.composite
def random_texts(draw) -> str:
    """Strings of the language's tokens and of characters it does not know."""
    return selftest.random_text(DrawChooser(draw))


@st.composite
def soups(draw) -> str:
    """Grammatical models with random names, calls and operators (mostly ill-typed)."""
    return selftest.random_soup(DrawChooser(draw))


@st.composite
def mutated_models(draw) -> str:
    """A valid model's text after a few byte-level mutations (decoded however it falls)."""
    text = draw(generated_models(max_depth=2, max_definitions=2)).text
    return selftest.mutate(text, DrawChooser(draw))


def fuzzed_texts():
    """Any text a user might feed matcalc: arbitrary Unicode, token soups, mutated models."""
    return st.one_of(st.text(max_size=80), random_texts(), soups(), mutated_models())


#: Settings for the random-model properties: reproducible in CI (derandomize), no deadline
#: (the first example pays for imports), generation-heavy strategies tolerated.
def property_settings(max_examples: int) -> settings:
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.filter_too_much,
            HealthCheck.data_too_large,
        ],
    )


__all__ = [
    "Case",
    "DrawChooser",
    "cases",
    "fuzzed_texts",
    "generated_models",
    "ill_typed_models",
    "mutated_models",
    "property_settings",
    "random_texts",
    "soups",
]
