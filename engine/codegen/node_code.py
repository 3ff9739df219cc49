"""Code text of the node types added after the first printers: one table for both writers.

For each type here, :func:`module_ctor` gives the ``nn`` constructor (or ``None`` when the
node is an expression in ``forward``) and :func:`forward_text` the right-hand side in
``forward``. Parameter values are checked literals or ``{"expr": text}`` from a block type
(re-written from its checked tree), so no user text reaches the code. Arguments at torch's
default are left out. No torch import here.
"""

from __future__ import annotations

import ast

from engine.blocks.expr import to_code
from engine.nodes import pair

# Always an ``nn`` submodule (named by its target, e.g. ``layer1.0.act``).
_MODULES = {
    "gelu",
    "leaky_relu",
    "elu",
    "mish",
    "tanh",
    "softmax",
}
# A submodule when its parameters are torch's defaults, an expression otherwise.
_SOMETIMES = {"hardsigmoid"}
# Always an expression in ``forward``.
_EXPRESSIONS: set[str] = set()

TYPES = frozenset(_MODULES | _SOMETIMES | _EXPRESSIONS)


def val(value) -> str:
    """A parameter value (a literal, or ``{"expr": …}``) as code."""
    if isinstance(value, dict):
        return to_code(ast.parse(value["expr"], mode="eval").body)
    if isinstance(value, (list, tuple)):
        h, w = pair(value)
        return str(h) if h == w else f"({h}, {w})"
    if isinstance(value, float):
        return repr(value)
    return repr(value)


def _atom(value) -> str:
    """:func:`val`, parenthesised when it is an expression (so it binds as one factor)."""
    text = val(value)
    return f"({text})" if isinstance(value, dict) else text


def _is(value, default) -> bool:
    """Whether a literal equals ``default`` (expressions never do)."""
    if isinstance(value, dict):
        return False
    return value == default


def is_module(ntype: str, p: dict) -> bool:
    """Whether a node of ``ntype`` with params ``p`` is an ``nn`` submodule."""
    if ntype in _MODULES:
        return True
    if ntype == "hardsigmoid":
        return _is(p.get("alpha", 1 / 6), 1 / 6) and _is(p.get("beta", 0.5), 0.5)
    return False


def _kw(p: dict, name: str, default) -> list[str]:
    v = p.get(name, default)
    return [] if _is(v, default) else [f"{name}={val(v)}"]


def module_ctor(ntype: str, p: dict, in_ch: str) -> str | None:
    """The ``nn`` constructor of a node, or ``None`` if it is an expression in forward.

    Parameters
    ----------
    ntype : str
        A type of :data:`TYPES`.
    p : dict
        Its parameters (defaults filled in).
    in_ch : str
        The input channels as code (a number, or a name in a block class).
    """
    if not is_module(ntype, p):
        return None
    if ntype == "gelu":
        approx = p.get("approximate", "none")
        return "nn.GELU()" if _is(approx, "none") else f"nn.GELU(approximate={val(approx)})"
    if ntype == "leaky_relu":
        return f"nn.LeakyReLU({', '.join(_kw(p, 'negative_slope', 0.01))})"
    if ntype == "elu":
        return f"nn.ELU({', '.join(_kw(p, 'alpha', 1.0))})"
    if ntype == "mish":
        return "nn.Mish()"
    if ntype == "tanh":
        return "nn.Tanh()"
    if ntype == "softmax":
        return "nn.Softmax(dim=1)"
    if ntype == "hardsigmoid":
        return "nn.Hardsigmoid()"
    raise AssertionError(ntype)  # pragma: no cover


def forward_text(ntype: str, p: dict, ins: list[str], call: str) -> str:
    """The right-hand side computing the node in ``forward``.

    Parameters
    ----------
    ntype : str
        A type of :data:`TYPES`.
    p : dict
        Its parameters.
    ins : list of str
        The input variables, in port order.
    call : str
        The submodule as code (``self.act``), used when the node is a module.
    """
    x = ins[0]
    if is_module(ntype, p):
        return f"{call}({x})"
    if ntype == "hardsigmoid":
        # clamp(alpha*x + beta, 0, 1): torch's Hardsigmoid has alpha 1/6 and beta 1/2 fixed.
        return f"({_atom(p['alpha'])} * {x} + {_atom(p['beta'])}).clamp(0.0, 1.0)"
    raise AssertionError(ntype)  # pragma: no cover
