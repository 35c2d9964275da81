"""The module-level helpers every target writes, as one parametrised text.

Each generated module validates its inputs (``_input``: one floating dtype, 2-D
inside, a located message naming the input), reports a size that does not fit
(``_mismatch``) and shapes its results (``_out``: floats or 0-d arrays,
vectors 1-D, broadcasts materialised). The targets differ only in a few
spellings (:class:`HelperSpelling`): how a value becomes the target's array,
how an array is reshaped, what a scalar result is, whether a result is copied.
``softmax`` and ``logsumexp`` are written here too, for the targets whose library
has neither (NumPy, JAX, the array API), and the power sums of matrix powers'
gradients.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class HelperSpelling:
    """What one target's ``_input``, ``_mismatch`` and ``_out`` spell differently."""

    #: Parameters after the value, name and kind (``, dtype`` …): the module's locals.
    extra: str
    #: ``value`` as the target's array, in ``_input``; and in ``_out``.
    to_array: str
    out_array: str
    #: ``array`` holds more than one number.
    not_one: str
    #: ``array``'s shape as printed and compared (``array.shape`` or ``tuple(array.shape)``).
    shape: str
    #: what an array is called in messages (``array``, ``tensor``).
    noun: str
    #: ``array`` reshaped to the sizes ``{}`` (``array.reshape({})`` or ``xp.reshape(array, ({}))``).
    reshape: str
    #: ``got`` (a shape) as printed in ``_mismatch``.
    got: str
    #: the value of a scalar result; the broadcast of ``array`` to ``shape``; a vector result;
    #: the returned array.
    scalar: str
    broadcast: str
    vector: str
    returned: str


def shape_helpers(h: dict[str, str], s: HelperSpelling) -> list[str]:
    """``_input``, ``_mismatch`` and ``_out`` (named by ``h``) in the spelling ``s``."""
    shape = s.shape
    return [
        f"def {h['input']}(value, name, kind{s.extra}):",
        f"    array = {s.to_array}",
        "    if kind == 'scalar':",
        f"        if {s.not_one}:",
        "            raise ValueError(",
        f"                f'{{name}} must be a scalar, got an array of shape {{{shape}}}')",
        f"        return {s.reshape.format('1, 1')}",
        "    if kind == 'vector':",
        "        if array.ndim != 1:",
        "            raise ValueError(",
        f"                f'{{name}} must be a 1-D {s.noun} (a vector), got shape {{{shape}}}')",
        f"        return {s.reshape.format('-1, 1')}",
        "    if array.ndim != 2:",
        "        raise ValueError(",
        f"            f'{{name}} must be a 2-D {s.noun} (a matrix), got shape {{{shape}}}')",
        "    return array",
        "",
        "",
        f"def {h['mismatch']}(name, label, want, got):",
        "    raise ValueError(f'{name} must have shape {label} = {want} '",
        f"                     f'to fit the other inputs, got {{{s.got}}}')",
        "",
        "",
        f"def {h['out']}(value, shape, kind, fresh{s.extra}):",
        f"    array = {s.out_array}",
        "    if kind == 'scalar':",
        f"        return {s.scalar}",
        f"    if {shape} != shape:",
        f"        {s.broadcast}",
        "    if kind == 'vector':",
        f"        array = {s.vector}",
        f"    return {s.returned}",
        "",
        "",
    ]


def softmax_helpers(h: dict[str, str], np: str, namespace: bool = False) -> list[str]:
    """``_softmax`` and ``_logsumexp`` of a column, stable for large entries; with ``namespace``
    they take the array namespace first and call only its functions (the array API)."""
    if namespace:
        return [
            f"def {h['softmax']}({np}, x):",
            f"    z = {np}.exp(x - {np}.max(x))",
            f"    return z / {np}.sum(z)",
            "",
            "",
            f"def {h['logsumexp']}({np}, x):",
            f"    m = {np}.max(x)",
            f"    return m + {np}.log({np}.sum({np}.exp(x - m)))",
            "",
            "",
        ]
    return [
        f"def {h['softmax']}(x):",
        f"    z = {np}.exp(x - x.max())",
        "    return z / z.sum()",
        "",
        "",
        f"def {h['logsumexp']}(x):",
        "    m = x.max()",
        f"    return m + {np}.log({np}.exp(x - m).sum())",
        "",
        "",
    ]


def power_sum_helpers(h: dict[str, str], np: str | None) -> list[str]:
    """``_power_sum`` (``Σ_{i<k} Lⁱ M R^{k−1−i}`` as ``S ← L S + M Rʲ``) and ``_power_sum_outer``
    (the same for ``M = u vᵀ``, as ``U Vᵀ`` with columns ``Lⁱ u`` and ``(Rᵀ)^{k−1−i} v``): with
    ``np`` (NumPy's alias) ``U`` and ``V`` are filled in place; without, they are built with
    ``@`` and ``+`` only, for libraries whose arrays are immutable or lazy."""
    lines = [
        f"def {h['power_sum']}(left, mid, right, k):",
        "    total, right_j = mid, right",
        "    for _ in range(1, k):",
        "        total = left @ total + mid @ right_j",
        "        right_j = right_j @ right",
        "    return total",
        "",
        "",
        f"def {h['power_sum_outer']}(left, u, v, right, k):",
    ]
    if np is None:
        return lines + [
            "    cols, rows, col, row = [], [], u, v",
            "    for _ in range(k):",
            "        cols.append(col)",
            "        rows.append(row)",
            "        col, row = left @ col, row @ right",
            "    total = cols[0] @ rows[k - 1]",
            "    for i in range(1, k):",
            "        total = total + cols[i] @ rows[k - 1 - i]",
            "    return total",
            "",
            "",
        ]
    return lines + [
        f"    us, vs = {np}.empty((u.shape[0], k)), {np}.empty((v.shape[1], k))",
        "    col, row = u[:, 0], v[0]",
        "    for i in range(k):",
        "        us[:, i], vs[:, k - 1 - i] = col, row",
        "        col, row = left @ col, row @ right",
        "    return us @ vs.T",
        "",
        "",
    ]
