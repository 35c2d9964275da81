"""Model texts of deep architectures people write: plain chains, residual networks, plain
and gated recurrent networks unrolled over time. Benchmarks, tests and the self-test
build their deep models here; each function returns ``(model text, wrt)``."""

from __future__ import annotations


def chain(depth: int) -> tuple[str, str]:
    """``h_i = tanh(W_i h_{i−1})``, ``f = sum(h_L)``: a plain deep network."""
    lines = ["x: vector(n)"] + [f"W{i}: matrix(n, n)" for i in range(1, depth + 1)]
    prev = "x"
    for i in range(1, depth + 1):
        lines.append(f"h{i} = tanh(W{i}*{prev})")
        prev = f"h{i}"
    lines.append(f"f = sum({prev})")
    return "\n".join(lines) + "\n", ",".join(f"W{i}" for i in range(1, depth + 1))


def nested(depth: int) -> tuple[str, str]:
    """The plain chain written as one expression, ``f = sum(tanh(W_L*…*tanh(W1*x)))``."""
    lines = ["x: vector(n)"] + [f"W{i}: matrix(n, n)" for i in range(1, depth + 1)]
    value = "x"
    for i in range(1, depth + 1):
        value = f"tanh(W{i}*{value})"
    lines.append(f"f = sum({value})")
    return "\n".join(lines) + "\n", ",".join(f"W{i}" for i in range(1, depth + 1))


def residual(depth: int) -> tuple[str, str]:
    """``h_i = h_{i−1} + tanh(W_i h_{i−1})`` with a squared loss: each step uses its input twice."""
    lines = ["x, y: vector(n)"] + [f"W{i}: matrix(n, n)" for i in range(1, depth + 1)]
    lines.append("h0 = x")
    for i in range(1, depth + 1):
        lines.append(f"h{i} = h{i - 1} + tanh(W{i}*h{i - 1})")
    lines.append(f"f = 1/2*sum((h{depth} - y).^2)")
    return "\n".join(lines) + "\n", ",".join(f"W{i}" for i in range(1, depth + 1))


def rnn(steps: int) -> tuple[str, str]:
    """``h_t = tanh(U h_{t−1} + W x_t)`` unrolled: the weights ``U``, ``W`` shared by every step."""
    lines = ["U: matrix(n, n)", "W: matrix(n, d)", "h0, y: vector(n)"]
    lines += [f"x{t}: vector(d)" for t in range(1, steps + 1)]
    for t in range(1, steps + 1):
        lines.append(f"h{t} = tanh(U*h{t - 1} + W*x{t})")
    lines.append(f"L = 1/2*sum((h{steps} - y).^2)")
    return "\n".join(lines) + "\n", "U,W"


def gated(steps: int) -> tuple[str, str]:
    """A GRU-style cell unrolled: ``z_t = σ(W_z x_t + U_z h_{t−1})``,
    ``h_t = (1 − z_t) ∘ h_{t−1} + z_t ∘ tanh(W x_t + U h_{t−1})``."""
    lines = ["W, Wz: matrix(n, d)", "U, Uz: matrix(n, n)", "h0, y: vector(n)"]
    lines += [f"x{t}: vector(d)" for t in range(1, steps + 1)]
    for t in range(1, steps + 1):
        lines.append(f"z{t} = sigmoid(Wz*x{t} + Uz*h{t - 1})")
        lines.append(f"h{t} = (1 - z{t}) .* h{t - 1} + z{t} .* tanh(W*x{t} + U*h{t - 1})")
    lines.append(f"L = 1/2*sum((h{steps} - y).^2)")
    return "\n".join(lines) + "\n", "W,U,Wz,Uz"


def softmax_chain(depth: int) -> tuple[str, str]:
    """``f = logsumexp(W_L*softmax(W_{L−1}*…softmax(W1*x)))``: structural calls nested in one
    expression, each derivative holding the value it differentiates."""
    lines = ["x: vector(n)"] + [f"W{i}: matrix(n, n)" for i in range(1, depth + 1)]
    value = "x"
    for i in range(1, depth):
        value = f"softmax(W{i}*{value})"
    lines.append(f"f = logsumexp(W{depth}*{value})")
    return "\n".join(lines) + "\n", ",".join(f"W{i}" for i in range(1, depth + 1))


#: The levels of :func:`structural`, in turn: a vector ``h`` to the next (``{W}`` the level's
#: weight, ``{h}`` the level below, written once, so that the model's text is linear in depth).
STRUCTURAL_LEVELS = (
    "softmax({W}*{h})",
    "inv(eye + Diag(exp({W}*{h})))*x",
    "tanh({W}^2*{h})",
    "diag({W}*Diag({h})*{W}')",
    "sigmoid({W}*x)*normF({h})",
    "sigmoid(kron(eye(1), {W})*{h})*logdet(eye + {W}'*{W})",
    "vec(tanh({W}*{h}))*norm1(x)",
    "tanh({W}*Diag({h})*x)*tr({W}*{W}')",
)


def structural(depth: int) -> tuple[str, str]:
    """One expression nesting ``depth`` levels that cycle through the structural calls
    (:data:`STRUCTURAL_LEVELS`: ``softmax inv diag Diag tr vec logdet kron``, the norms, a
    matrix power); ``f = logsumexp(…)``."""
    lines = ["x: vector(n)"] + [f"W{i}: matrix(n, n)" for i in range(1, depth + 1)]
    value = "x"
    for i in range(1, depth + 1):
        value = STRUCTURAL_LEVELS[(i - 1) % len(STRUCTURAL_LEVELS)].format(W=f"W{i}", h=value)
    lines.append(f"f = logsumexp({value})")
    return "\n".join(lines) + "\n", ",".join(f"W{i}" for i in range(1, depth + 1))


#: Every architecture by name.
ARCHITECTURES = {"chain": chain, "residual": residual, "rnn": rnn, "gated": gated}
