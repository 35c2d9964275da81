"""Dimensions as values (matcalc.dims): canonical products, one object per size, spelling."""

from __future__ import annotations

import ast
import copy
import pickle
from pathlib import Path

import pytest

import matcalc
from matcalc import dims
from matcalc.dims import UNKNOWN, Symbolic, Unknown, mul, symbol

m, n, p = symbol("m"), symbol("n"), symbol("p")


def test_a_product_is_one_size_whatever_the_order_of_its_factors():
    assert mul(m, n) is mul(n, m) is Symbolic(1, ("n", "m"))
    assert mul(mul(m, n), p) is mul(p, mul(n, m)) is dims.product([n, p, m])
    assert str(mul(n, m)) == "m*n" and str(mul(mul(n, 2), 3)) == "6*n"
    assert str(mul(mul(n, m), n)) == "m*n*n"  # a repeated symbol stays repeated


def test_numbers_stay_int_and_one_is_neutral():
    assert mul(2, 3) == 6 and type(mul(2, 3)) is int
    assert mul(1, n) is n and mul(n, 1) is n and dims.product([]) == 1
    assert mul(2, n) is Symbolic(2, ("n",)) and str(mul(2, n)) == "2*n"
    assert n != 1 and n != "n" and (n, 1) != ("n", 1)  # a size is not its spelling


def test_equal_sizes_are_one_object_through_copies_and_pickles():
    mn = mul(m, n)
    assert copy.copy(mn) is mn and copy.deepcopy((mn, 1)) == (mn, 1)
    assert pickle.loads(pickle.dumps(mn)) is mn
    assert {mn: 1}[Symbolic(1, ("n", "m"))] == 1 and hash(mn) == hash(mul(n, m))


def test_sizes_are_immutable():
    with pytest.raises(AttributeError):
        n.number = 2  # type: ignore[misc]
    with pytest.raises(AttributeError):
        del n.names


@pytest.mark.parametrize("number,names", [(1, ()), (0, ("n",)), (-2, ("n",)), (1.5, ("n",))])
def test_a_symbolic_size_has_a_symbol_and_a_positive_whole_number(number, names):
    with pytest.raises(ValueError):
        Symbolic(number, names)


def test_reading_a_size():
    mn2 = mul(2, mul(n, m))
    assert dims.symbols(mn2) == ("m", "n") and dims.symbols(3) == ()
    assert dims.is_symbol(n) and not dims.is_symbol(mn2) and not dims.is_symbol(mul(2, n))
    assert not dims.is_symbol(4)
    assert dims.symbol_name(n) == "n" and dims.symbol_name(mn2) is None and dims.symbol_name(4) is None
    assert dims.size(mn2, {"m": 3, "n": 5}) == 30 and dims.size(7, {}) == 7
    assert dims.code(mn2, str.upper) == "2 * M * N" and dims.code(n, str.upper) == "N"
    assert dims.code(7, str.upper) == "7"
    assert dims.shape_json((mn2, 1)) == ["2*m*n", 1]


def test_a_size_not_known_yet_makes_any_product_with_it_unknown():
    class Stand(Unknown):
        __slots__ = ()

    stand = Stand()
    assert mul(stand, 1) is stand and mul(1, stand) is stand
    assert mul(stand, n) is UNKNOWN and mul(3, stand) is UNKNOWN and mul(stand, stand) is UNKNOWN


def test_declared_products_are_the_sizes_vec_and_kron_make():
    model = matcalc.parse("X: matrix(m, n); Y: matrix(p, 2); y: vector(n*m); z: vector(2*p*n*m)\n"
                          "f = vec(X)'*y + sum(kron(X, Y)) + vec(kron(Y, X))'*z")
    assert model.lookup("y").shape == (mul(m, n), 1)
    assert model.lookup("z").shape == (mul(mul(2, p), mul(m, n)), 1)
    assert str(model.lookup("z").shape[0]) == "2*m*n*p"


def test_no_module_but_dims_splits_a_size_by_its_text():
    """Sizes are read through matcalc.dims only: nothing else splits text at '*'."""
    root = Path(matcalc.__file__).parent
    offenders = []
    for path in root.rglob("*.py"):
        if path.name == "dims.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("split", "rsplit", "partition")
                    and any(isinstance(a, ast.Constant) and a.value == "*" for a in node.args)):
                offenders.append(f"{path.relative_to(root)}:{node.lineno}")
    assert offenders == []
