"""Mapping rules: a torch module, function or ``Tensor`` method call → node type and params.

:func:`module_rule` maps a module (a subclass keeping its base's ``forward`` is its
base); :data:`FUNCTIONS` and :data:`METHODS` map fx's ``call_function`` and
``call_method`` nodes, with the tables of :mod:`engine.interop.more_rules` merged in. A
rule raises :class:`~engine.interop.more_rules.Unsupported` with the operation in words
when the call has no node type as written.

Canonical forms: a ``Conv2d`` with a 1×1 kernel, no padding and no dilation is a
``conv1x1``; an adaptive average pool to 1×1 (``x.mean((2, 3), keepdim=True)`` too) is a
``global_avgpool``; a pool's stride equal to its kernel is the default (``None``).
"""

from __future__ import annotations

import operator

import torch
import torch.nn.functional as F
from torch import fx, nn

from engine.interop.fx_args import call_arg, int_or_pair
from engine.interop.more_rules import FUNCTIONS as MORE_FUNCTIONS
from engine.interop.more_rules import METHODS as MORE_METHODS
from engine.interop.more_rules import MODULES as MORE_MODULES
from engine.interop.more_rules import Unsupported
from engine.interop.trace import is_grn, torch_base


def _const(v, what: str):
    if isinstance(v, fx.Node):
        raise Unsupported(f"{what} computed from a tensor")
    return v


# --------------------------------------------------------------------------- modules
def _conv(m: nn.Conv2d) -> tuple[str, dict]:
    if m.padding_mode != "zeros":
        raise Unsupported(f"nn.Conv2d with padding_mode='{m.padding_mode}'")
    pad = m.padding
    if pad == "valid":
        pad = 0
    p = {"out_channels": m.out_channels, "stride": int_or_pair(m.stride), "groups": m.groups}
    p["bias"] = m.bias is not None
    if tuple(m.kernel_size) == (1, 1) and pad in (0, (0, 0)) and tuple(m.dilation) == (1, 1):
        return "conv1x1", p
    p["kernel_size"] = int_or_pair(m.kernel_size)
    p["padding"] = "same" if pad == "same" else int_or_pair(pad)
    p["dilation"] = int_or_pair(m.dilation)
    return "conv", p


def _bn(m: nn.BatchNorm2d) -> tuple[str, dict]:
    if not m.track_running_stats or m.momentum is None:
        raise Unsupported("nn.BatchNorm2d without running statistics")
    return "batchnorm", {"eps": float(m.eps), "momentum": float(m.momentum), "affine": m.affine}


def _pool_args(kind: str, k, s, pad, dil=1, ceil=False, ret=False, cip=True, div=None):
    if ret:
        raise Unsupported(f"{kind} with return_indices")
    if int_or_pair(dil) != 1:
        raise Unsupported(f"{kind} with dilation")
    s = None if s is None or (isinstance(s, (list, tuple)) and len(s) == 0) else int_or_pair(s)
    if s == int_or_pair(k):
        s = None  # torch stores a default stride as the kernel size: canonically None
    p = {
        "kernel_size": int_or_pair(k),
        "stride": s,
        "padding": int_or_pair(pad),
        "ceil_mode": bool(ceil),
    }
    if kind.endswith(("AvgPool2d", "avg_pool2d")):
        # Without padding every window is whole: count_include_pad changes nothing.
        p["count_include_pad"] = bool(cip) or int_or_pair(pad) == 0
        p["divisor_override"] = None if div is None else int(div)
    return p


def _adaptive(size) -> tuple[str, dict]:
    size = _const(size, "adaptive pooling size")
    if isinstance(size, (tuple, list)) and any(v is None for v in size) or size is None:
        raise Unsupported("adaptive pooling that keeps an input size (None)")
    if int_or_pair(size) == 1:
        return "global_avgpool", {}
    return "adaptive_avgpool", {"output_size": int_or_pair(size)}


def module_rule(m: nn.Module) -> tuple[str, dict]:
    """``(node type, params)`` of a module call (its base's for a subclass keeping its forward)."""
    t = torch_base(type(m)) or type(m)  # a subclass keeping its base's forward is the base
    if t is nn.Conv2d:
        return _conv(m)
    if t is nn.BatchNorm2d:
        return _bn(m)
    if t is nn.Linear:
        return "linear", {"out_features": m.out_features, "bias": m.bias is not None}
    if t is nn.MaxPool2d:
        window = (m.kernel_size, m.stride, m.padding, m.dilation, m.ceil_mode, m.return_indices)
        return "maxpool", _pool_args("nn.MaxPool2d", *window)
    if t is nn.AvgPool2d:
        window = (m.kernel_size, m.stride, m.padding)
        cip, div = m.count_include_pad, m.divisor_override
        return "avgpool", _pool_args("nn.AvgPool2d", *window, ceil=m.ceil_mode, cip=cip, div=div)
    if t is nn.AdaptiveAvgPool2d:
        return _adaptive(m.output_size)
    if t is nn.Flatten:
        if (m.start_dim, m.end_dim) != (1, -1):
            raise Unsupported(f"nn.Flatten({m.start_dim}, {m.end_dim})")
        return "flatten", {}
    if t is nn.Dropout:
        return "dropout", {"p": float(m.p)}
    if t in _SIMPLE:
        return _SIMPLE[t], {}
    if t in MORE_MODULES:
        return MORE_MODULES[t](m)
    if is_grn(m):
        return "grn", {"eps": float(m.eps)}
    if t.__name__ == "StochasticDepth":
        return "identity", {}
    raise Unsupported(f"nn.{t.__name__}" if t.__module__.startswith("torch.") else t.__name__)


_SIMPLE = {
    nn.ReLU: "relu",
    nn.ReLU6: "relu6",
    nn.Hardswish: "hardswish",
    nn.Hardsigmoid: "hardsigmoid",
    nn.SiLU: "silu",
    nn.Sigmoid: "sigmoid",
    nn.Identity: "identity",
}


# --------------------------------------------------------------------------- functions
def _fn_pool(kind: str, t: str):
    def rule(n: fx.Node):
        a = [_const(call_arg(n, i, nm, d), f"{kind} {nm}") for i, nm, d in _POOL_ARGS[t]]
        if t == "maxpool":
            return t, _pool_args(kind, a[0], a[1], a[2], a[3], a[4], a[5])
        return t, _pool_args(kind, a[0], a[1], a[2], ceil=a[3], cip=a[4], div=a[5])

    return rule


_POOL_ARGS = {
    "maxpool": [
        (1, "kernel_size", None),
        (2, "stride", None),
        (3, "padding", 0),
        (4, "dilation", 1),
        (5, "ceil_mode", False),
        (6, "return_indices", False),
    ],
    "avgpool": [
        (1, "kernel_size", None),
        (2, "stride", None),
        (3, "padding", 0),
        (4, "ceil_mode", False),
        (5, "count_include_pad", True),
        (6, "divisor_override", None),
    ],
}


def _fn_flatten(n: fx.Node):
    start = _const(call_arg(n, 1, "start_dim", 0), "flatten start_dim")
    end = _const(call_arg(n, 2, "end_dim", -1), "flatten end_dim")
    if start != 1 or end not in (-1, 3):
        raise Unsupported(f"flatten({start}, {end}) (only flatten(x, 1) keeps the batch)")
    return "flatten", {}


def _fn_cat(n: fx.Node):
    dim = _const(call_arg(n, 1, "dim", 0), "cat dim")
    if dim not in (1, -3):
        raise Unsupported(f"torch.cat along dim {dim} (the design concatenates channels)")
    seq = n.args[0] if n.args else n.kwargs.get("tensors")
    if not isinstance(seq, (list, tuple)) or not all(isinstance(v, fx.Node) for v in seq):
        raise Unsupported("torch.cat of something else than a list of tensors")
    # The concatenation of one tensor is that tensor (DenseNet's first layer).
    return ("concat" if len(seq) > 1 else "identity"), {}


def _fn_mean(n: fx.Node):
    dims = _const(call_arg(n, 1, "dim", None), "mean dims")
    keep = _const(call_arg(n, 2, "keepdim", False), "mean keepdim")
    if dims is None or not isinstance(dims, (tuple, list)) or {d % 4 for d in dims} != {2, 3}:
        raise Unsupported(f"Tensor.mean over {dims} (only the mean over H and W, dims (2, 3))")
    return ("global_avgpool" if keep else "mean_flat"), {}


def _fn_dropout(n: fx.Node):
    return "dropout", {"p": float(_const(call_arg(n, 1, "p", 0.5), "dropout p"))}


def _fn_binary(t: str):
    def rule(n: fx.Node):
        if any(k != "alpha" for k in n.kwargs) or n.kwargs.get("alpha", 1) != 1:
            raise Unsupported(f"torch.{t} with alpha")
        if len(n.args) != 2 or not all(isinstance(a, fx.Node) for a in n.args):
            raise Unsupported(f"{'+' if t == 'add' else '*'} with a constant")
        return t, {}

    return rule


def _simple(t: str):
    return lambda n: (t, {})


FUNCTIONS: dict = {
    F.relu: _simple("relu"),
    torch.relu: _simple("relu"),
    torch.relu_: _simple("relu"),
    F.relu6: _simple("relu6"),
    F.hardswish: _simple("hardswish"),
    F.hardsigmoid: _simple("hardsigmoid"),
    F.silu: _simple("silu"),
    torch.sigmoid: _simple("sigmoid"),
    F.sigmoid: _simple("sigmoid"),
    F.max_pool2d: _fn_pool("F.max_pool2d", "maxpool"),
    F.avg_pool2d: _fn_pool("F.avg_pool2d", "avgpool"),
    F.adaptive_avg_pool2d: lambda n: _adaptive(call_arg(n, 1, "output_size")),
    F.dropout: _fn_dropout,
    torch.cat: _fn_cat,
    torch.concat: _fn_cat,
    torch.flatten: _fn_flatten,
    torch.mean: _fn_mean,
    operator.add: _fn_binary("add"),
    operator.iadd: _fn_binary("add"),
    torch.add: _fn_binary("add"),
    operator.mul: _fn_binary("mul"),
    operator.imul: _fn_binary("mul"),
    torch.mul: _fn_binary("mul"),
}
METHODS: dict = {
    "relu": _simple("relu"),
    "relu_": _simple("relu"),
    "sigmoid": _simple("sigmoid"),
    "flatten": _fn_flatten,
    "mean": _fn_mean,
    "add": _fn_binary("add"),
    "add_": _fn_binary("add"),
    "mul": _fn_binary("mul"),
    "mul_": _fn_binary("mul"),
}
FUNCTIONS.update(MORE_FUNCTIONS)
METHODS.update(MORE_METHODS)
