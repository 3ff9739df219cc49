"""Mapping rules of the node types added for timm's families, in module and functional form.

Each table maps a ``torch.nn`` class, a function or a ``Tensor`` method to a rule giving
``(node type, params)`` (module rules take the module, the others the fx node). A rule
raises :class:`Unsupported` with the operation in words when the call has no node type
as written. :mod:`engine.interop.convert` merges these tables into its own.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import fx, nn


class Unsupported(Exception):
    """The operation (as in the message) has no node type as written."""


def _arg(node: fx.Node, i: int, name: str, default=None):
    if len(node.args) > i:
        return node.args[i]
    return node.kwargs.get(name, default)


def _const(node: fx.Node, i: int, name: str, default, what: str):
    v = _arg(node, i, name, default)
    if isinstance(v, fx.Node):
        raise Unsupported(f"{what} with {name} computed from a tensor")
    return v


# --------------------------------------------------------------------------- activations
def _gelu(approximate: str, what: str) -> tuple[str, dict]:
    if approximate not in ("none", "tanh"):
        raise Unsupported(f"{what} with approximate={approximate!r}")
    return "gelu", {"approximate": approximate}


def _softmax(dim, what: str) -> tuple[str, dict]:
    # dim 1 (or -3 on C×H×W) is over channels; -1 is accepted for a feature vector and
    # checked against the input's shape after the analysis (see SOFTMAX_LAST).
    if dim not in (1, -3, -1):
        raise Unsupported(f"softmax over dim {dim} (the Softmax node is over channels, dim 1)")
    return "softmax", {}


MODULES: dict = {
    nn.GELU: lambda m: _gelu(m.approximate, "nn.GELU"),
    nn.LeakyReLU: lambda m: ("leaky_relu", {"negative_slope": float(m.negative_slope)}),
    nn.ELU: lambda m: ("elu", {"alpha": float(m.alpha)}),
    nn.Mish: lambda m: ("mish", {}),
    nn.Tanh: lambda m: ("tanh", {}),
    nn.Softmax: lambda m: _softmax(m.dim, "nn.Softmax"),
}


def _fn_gelu(n: fx.Node):
    return _gelu(_const(n, 1, "approximate", "none", "F.gelu"), "F.gelu")


def _fn_leaky(n: fx.Node):
    slope = _const(n, 1, "negative_slope", 0.01, "F.leaky_relu")
    return "leaky_relu", {"negative_slope": float(slope)}


def _fn_elu(n: fx.Node):
    return "elu", {"alpha": float(_const(n, 1, "alpha", 1.0, "F.elu"))}


def _fn_softmax(n: fx.Node):
    dim = _const(n, 1, "dim", None, "softmax")
    if dim is None:
        raise Unsupported("softmax without dim")
    return _softmax(dim, "softmax")


def _fn_hardsigmoid(n: fx.Node):
    return "hardsigmoid", {}


def _simple(t: str):
    return lambda n: (t, {})


FUNCTIONS: dict = {
    F.gelu: _fn_gelu,
    F.leaky_relu: _fn_leaky,
    F.elu: _fn_elu,
    F.mish: _simple("mish"),
    torch.tanh: _simple("tanh"),
    F.tanh: _simple("tanh"),
    F.softmax: _fn_softmax,
    torch.softmax: _fn_softmax,
}
METHODS: dict = {
    "tanh": _simple("tanh"),
    "softmax": _fn_softmax,
    "sigmoid_": _simple("sigmoid"),
    "tanh_": _simple("tanh"),
}


def softmax_on_last(n: fx.Node) -> bool:
    """Whether a softmax node's dim is -1 (valid only on a feature vector)."""
    if n.op == "call_module":
        return False
    return _arg(n, 1, "dim", None) == -1
