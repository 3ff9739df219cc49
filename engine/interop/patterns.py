"""Several fx nodes that together are one node type, found before the one-by-one mapping.

- channel slices: ``x[:, a:b]``, and each part of ``torch.split`` / ``chunk`` along
  channels (the split itself is no node: each part used is a Channel Slice);
- ConvNeXt's LayerNorm over channels: ``permute(0, 2, 3, 1)`` → ``layer_norm`` over the
  last dimension (``nn.LayerNorm`` or ``F.layer_norm`` on parameters) → ``permute(0, 3,
  1, 2)``;
- a channels-last stretch, ``permute(0, 2, 3, 1)`` → LayerNorm, ``Linear`` and
  activations → ``permute(0, 3, 1, 2)`` (ConvNeXt's blocks): LayerNorm over channels and
  1×1 convolutions (the Linear's weight as ``out×in×1×1``), the permutes no nodes;
- ShuffleNet's channel shuffle: ``view(b, g, c/g, h, w)`` → ``transpose(1, 2)`` →
  (``contiguous``) → ``view(b, c, h, w)``;
- layer scale: ``x * gamma.view(1, -1, 1, 1)`` with a parameter ``gamma`` of one value
  per channel, as a depthwise 1×1 convolution without bias (weight ``gamma``);
- a constant factor or term: ``x * 0.5``, ``x / 6``, ``x + 3``, ``3 - x`` (Scale & Shift);
- ``x.contiguous()`` and ``x.clone()``: the same value (:data:`ALIAS`, no design node).

:func:`fuse` needs the concrete shapes of the traced values (``graph.cc_concrete``).
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from numbers import Number

import torch
import torch.nn.functional as F
from torch import fx, nn

from engine.interop.functional import fetch

ALIAS = "__alias__"  # a plan entry for a node that is its input's value (contiguous, clone)


@dataclass
class Fused:
    """What :func:`fuse` found.

    Attributes
    ----------
    plan : dict
        fx node → ``(node type, params)`` for the node standing for a pattern.
    inputs : dict
        fx node → its design inputs (fx nodes) when they are not its own arguments.
    weights : dict
        fx node → ``{key: (target, tensor)}`` (as :mod:`engine.interop.functional`).
    modules : dict
        fx node → the path of the module holding its weights (``nn.LayerNorm``).
    absorbed : set
        fx nodes that are part of a pattern and become no design node.
    """

    plan: dict = field(default_factory=dict)
    inputs: dict = field(default_factory=dict)
    weights: dict = field(default_factory=dict)
    modules: dict = field(default_factory=dict)
    absorbed: set = field(default_factory=set)


def _shape(concrete, n) -> tuple | None:
    try:
        v = concrete(n)
    except Exception:  # noqa: BLE001 - a value without a shape: no pattern
        return None
    return tuple(v.shape) if isinstance(v, torch.Tensor) else None


def _is_method(n: fx.Node, *names: str) -> bool:
    return n.op == "call_method" and n.target in names


def _dims(n: fx.Node) -> tuple | None:
    """The dims of a ``permute`` (method, with varargs or a tuple, or torch.permute)."""
    if _is_method(n, "permute") or n.op == "call_function" and n.target is torch.permute:
        rest = n.args[1:] if len(n.args) > 1 else (n.kwargs.get("dims"),)
        if len(rest) == 1 and isinstance(rest[0], (tuple, list)):
            rest = tuple(rest[0])
        return tuple(rest)
    return None


def _only_user(n: fx.Node) -> fx.Node | None:
    return next(iter(n.users)) if len(n.users) == 1 else None


def _get_attr(n, root):
    if isinstance(n, fx.Node) and n.op == "get_attr":
        t = fetch(root, str(n.target))
        if isinstance(t, torch.Tensor):
            return str(n.target), t.detach()
    return None


# --------------------------------------------------------------------------- slices
def _channel_range(index, channels: int) -> tuple[int, int] | None:
    """``(start, stop)`` of ``x[:, a:b]`` (optionally ``, :, :`` or ``...``), else None."""
    if not isinstance(index, tuple) or len(index) < 2:
        return None
    first, chan, *rest = index
    if first != slice(None) or not isinstance(chan, slice):
        return None
    if any(not (r == slice(None) or r is Ellipsis) for r in rest):
        return None
    if any(isinstance(v, fx.Node) for v in (chan.start, chan.stop, chan.step)):
        return None
    start, stop, step = chan.indices(channels)
    if step != 1 or stop <= start:
        return None
    return start, stop


def _slices(graph: fx.Graph, concrete, out: Fused) -> None:
    for n in graph.nodes:
        if n.op != "call_function" or n.target is not operator.getitem:
            continue
        src, index = n.args
        if not isinstance(src, fx.Node):
            continue
        shape = _shape(concrete, src)
        if shape is not None and len(shape) == 4:
            rng = _channel_range(index, shape[1])
            if rng is not None:
                out.plan[n] = ("channel_slice", {"start": rng[0], "stop": rng[1]})
                out.inputs[n] = [src]
            continue
        _split_part(n, src, index, concrete, out)


def _split_part(n, src, index, concrete, out: Fused) -> None:
    is_split = (
        src.op == "call_function" and src.target in (torch.split, torch.chunk)
    ) or _is_method(src, "split", "chunk")
    if not is_split or not isinstance(index, int):
        return
    dim = src.args[2] if len(src.args) > 2 else src.kwargs.get("dim", 0)
    x = src.args[0]
    shape = _shape(concrete, x)
    try:
        parts = concrete(src)
    except Exception:  # noqa: BLE001
        return
    if shape is None or len(shape) != 4 or dim not in (1, -3):
        return
    if not all(u.op == "call_function" and u.target is operator.getitem for u in src.users):
        return
    sizes = [p.shape[1] for p in parts]
    i = index % len(sizes)
    start = sum(sizes[:i])
    out.plan[n] = ("channel_slice", {"start": start, "stop": start + sizes[i]})
    out.inputs[n] = [x]
    out.absorbed.add(src)


# --------------------------------------------------------------------------- LayerNorm
def _layer_norms(graph: fx.Graph, root: nn.Module, concrete, out: Fused) -> None:
    for p1 in graph.nodes:
        if _dims(p1) not in ((0, 2, 3, 1), (0, -2, -1, -3)):
            continue
        ln = _only_user(p1)
        p2 = _only_user(ln) if ln is not None else None
        if p2 is None or _dims(p2) not in ((0, 3, 1, 2), (0, -1, -3, -2)):
            continue
        x = p1.args[0]
        shape = _shape(concrete, x)
        if shape is None or len(shape) != 4:
            continue
        c = shape[1]
        if ln.op == "call_module":
            m = root.get_submodule(str(ln.target))
            if not isinstance(m, nn.LayerNorm) or tuple(m.normalized_shape) != (c,):
                continue
            if getattr(m, "bias", None) is None and m.elementwise_affine:
                continue
            params = {"eps": float(m.eps), "elementwise_affine": bool(m.elementwise_affine)}
            out.modules[p2] = str(ln.target)
        elif ln.op == "call_function" and ln.target in (F.layer_norm, torch.layer_norm):
            norm_shape, weight, bias, eps = _layer_norm_args(ln)
            if not isinstance(norm_shape, (tuple, list)) or tuple(norm_shape) != (c,):
                continue
            w, b = _get_attr(weight, root), _get_attr(bias, root)
            if (weight is None) != (bias is None) or weight is not None and None in (w, b):
                continue
            if isinstance(eps, fx.Node):
                continue
            params = {"eps": float(eps), "elementwise_affine": weight is not None}
            if weight is not None:
                out.weights[p2] = {"weight": w, "bias": b}
        else:
            continue
        out.plan[p2] = ("layernorm2d", params)
        out.inputs[p2] = [x]
        out.absorbed.update((p1, ln))


# --------------------------------------------------------------------------- channels last
_PER_PIXEL_MODULES = (
    nn.GELU,
    nn.ReLU,
    nn.ReLU6,
    nn.SiLU,
    nn.Hardswish,
    nn.Sigmoid,
    nn.Tanh,
    nn.Mish,
    nn.LeakyReLU,
    nn.ELU,
    nn.Dropout,
    nn.Identity,
)
_PER_PIXEL_FUNCTIONS = frozenset(
    {F.gelu, F.relu, F.silu, F.hardswish, torch.sigmoid, torch.tanh, F.dropout, F.mish}
)


def _ln_last(n: fx.Node, root, c: int):
    """``(params, module path or None, weights or None)`` of a LayerNorm over the last dim."""
    if n.op == "call_module":
        m = root.get_submodule(str(n.target))
        if type(m) is not nn.LayerNorm or tuple(m.normalized_shape) != (c,):
            return None
        if m.elementwise_affine and getattr(m, "bias", None) is None:
            return None
        return (
            {"eps": float(m.eps), "elementwise_affine": bool(m.elementwise_affine)},
            str(n.target),
            None,
        )
    if n.op == "call_function" and n.target in (F.layer_norm, torch.layer_norm):
        shape, weight, bias, eps = _layer_norm_args(n)
        if not isinstance(shape, (tuple, list)) or tuple(shape) != (c,):
            return None
        w, b = _get_attr(weight, root), _get_attr(bias, root)
        if weight is None or w is None or b is None or isinstance(eps, fx.Node):
            return None
        return {"eps": float(eps), "elementwise_affine": True}, None, {"weight": w, "bias": b}
    return None


def _layer_norm_args(n: fx.Node) -> tuple:
    """``(normalized_shape, weight, bias, eps)`` of an ``F.layer_norm`` call, positional
    or keyword (an int shape as a 1-tuple; eps 1e-5 when not given)."""
    args = list(n.args) + [None] * (5 - len(n.args))
    shape = args[1] if args[1] is not None else n.kwargs.get("normalized_shape")
    weight = args[2] if args[2] is not None else n.kwargs.get("weight")
    bias = args[3] if args[3] is not None else n.kwargs.get("bias")
    eps = args[4] if args[4] is not None else n.kwargs.get("eps", 1e-5)
    return ((shape,) if isinstance(shape, int) else shape), weight, bias, eps


def _linear_last(n: fx.Node, root):
    """``(params, weights)`` of a Linear (module or F.linear on parameters) as a 1×1 conv."""
    if n.op == "call_module":
        m = root.get_submodule(str(n.target))
        if not isinstance(m, nn.Linear) or type(m).forward is not nn.Linear.forward:
            return None
        path, weight, bias = str(n.target), m.weight, m.bias
        w = (f"{path}.weight", weight.detach())
        b = None if bias is None else (f"{path}.bias", bias.detach())
    elif n.op == "call_function" and n.target is F.linear:
        w = _get_attr(n.args[1] if len(n.args) > 1 else n.kwargs.get("weight"), root)
        bias = n.args[2] if len(n.args) > 2 else n.kwargs.get("bias")
        b = None if bias is None else _get_attr(bias, root)
        if w is None or bias is not None and b is None:
            return None
    else:
        return None
    out_c, in_c = w[1].shape
    weights = {"weight": (w[0], w[1].reshape(out_c, in_c, 1, 1))}
    if b is not None:
        weights["bias"] = b
    return {"out_channels": int(out_c), "bias": b is not None}, weights


def _per_pixel(n: fx.Node, root) -> bool:
    if n.op == "call_module":
        return type(root.get_submodule(str(n.target))) in _PER_PIXEL_MODULES
    if n.op == "call_function":
        return n.target in _PER_PIXEL_FUNCTIONS
    return False


def _channels_last(graph: fx.Graph, root: nn.Module, concrete, out: Fused) -> None:
    """``permute(0, 2, 3, 1)`` → LayerNorm, Linear, activations … → ``permute(0, 3, 1, 2)``:
    the same layers over channels first (LayerNorm over channels, 1×1 convs)."""
    for p1 in graph.nodes:
        if p1 in out.absorbed or _dims(p1) not in ((0, 2, 3, 1), (0, -2, -1, -3)):
            continue
        shape = _shape(concrete, p1.args[0])
        if shape is None or len(shape) != 4:
            continue
        chain, found, n, ok = [], {}, _only_user(p1), True
        while n is not None and _dims(n) not in ((0, 3, 1, 2), (0, -1, -3, -2)):
            if len(chain) > 16 or n in out.plan or n in out.absorbed:
                ok = False
                break
            c = (_shape(concrete, n.args[0]) or (0,))[-1] if n.args else 0
            ln = _ln_last(n, root, c)
            lin = None if ln is not None else _linear_last(n, root)
            if ln is None and lin is None and not _per_pixel(n, root):
                ok = False
                break
            found[n] = ln or lin
            chain.append(n)
            n = _only_user(n)
        if not ok or n is None or not chain or not any(found.values()):
            continue
        p2 = n
        for node, how in found.items():
            if how is None:
                continue  # an activation: mapped as it is
            if len(how) == 3:  # LayerNorm
                params, path, weights = how
                out.plan[node] = ("layernorm2d", params)
                if path is not None:
                    out.modules[node] = path
                else:
                    out.weights[node] = weights
            else:
                params, weights = how
                out.plan[node] = ("conv1x1", params)
                out.weights[node] = weights
            out.inputs[node] = [node.args[0]]
        out.plan[p1] = (ALIAS, {})
        out.inputs[p1] = [p1.args[0]]
        out.plan[p2] = (ALIAS, {})
        out.inputs[p2] = [p2.args[0]]


# --------------------------------------------------------------------------- shuffle
def _shuffles(graph: fx.Graph, concrete, out: Fused) -> None:
    for v1 in graph.nodes:
        if not _is_method(v1, "view", "reshape"):
            continue
        x = v1.args[0]
        shape, split = _shape(concrete, x), _shape(concrete, v1)
        if shape is None or split is None or len(shape) != 4 or len(split) != 5:
            continue
        if split[0] != shape[0] or split[1] * split[2] != shape[1] or split[3:] != shape[2:]:
            continue
        t = _only_user(v1)
        is_t = t is not None and (
            _is_method(t, "transpose") or t.op == "call_function" and t.target is torch.transpose
        )
        if not is_t or {a % 5 for a in t.args[1:3]} != {1, 2}:
            continue
        last = _only_user(t)
        absorbed = [v1, t]
        if last is not None and _is_method(last, "contiguous"):
            absorbed.append(last)
            last = _only_user(last)
        if last is None or not (_is_method(last, "view", "reshape", "flatten")):
            continue
        if _shape(concrete, last) != shape:
            continue
        out.plan[last] = ("channel_shuffle", {"groups": int(split[1])})
        out.inputs[last] = [x]
        out.absorbed.update(absorbed)


# --------------------------------------------------------------------------- constants
_MUL = (operator.mul, operator.imul, torch.mul, "mul", "mul_")
_DIV = (operator.truediv, operator.itruediv, torch.div, "div", "div_")
_ADD = (operator.add, operator.iadd, torch.add, "add", "add_")
_SUB = (operator.sub, operator.isub, torch.sub, "sub", "sub_")


def _binary_kind(n: fx.Node) -> str | None:
    if n.op not in ("call_function", "call_method"):
        return None
    for kind, targets in (("mul", _MUL), ("div", _DIV), ("add", _ADD), ("sub", _SUB)):
        if n.target in targets:
            return kind
    return None


def _layer_scale(n, kind, root, concrete, out: Fused) -> bool:
    """``x * gamma.view(1, -1, 1, 1)``: a depthwise 1×1 convolution with weight gamma."""
    if kind != "mul" or len(n.args) != 2 or n.kwargs:
        return False
    for x, g in (n.args, n.args[::-1]):
        if not isinstance(x, fx.Node) or not isinstance(g, fx.Node):
            continue
        chain = [g]
        if _is_method(g, "view", "reshape") and isinstance(g.args[0], fx.Node):
            chain.append(g.args[0])
        attr = _get_attr(chain[-1], root)
        shape = _shape(concrete, x)
        if attr is None or shape is None or len(shape) != 4 or attr[1].numel() != shape[1]:
            continue
        if _shape(concrete, g) not in ((1, shape[1], 1, 1), (shape[1], 1, 1)):
            continue
        if any(len(c.users) != 1 for c in chain):
            continue
        c = shape[1]
        out.plan[n] = ("conv1x1", {"out_channels": c, "groups": c, "bias": False})
        out.weights[n] = {"weight": (attr[0], attr[1].reshape(c, 1, 1, 1))}
        out.inputs[n] = [x]
        out.absorbed.update(chain)
        return True
    return False


def _constants(graph: fx.Graph, root, concrete, out: Fused) -> None:
    for n in graph.nodes:
        kind = _binary_kind(n)
        if kind is None or n in out.plan:
            continue
        if _layer_scale(n, kind, root, concrete, out):
            continue
        if set(n.kwargs) - {"alpha"} or len(n.args) != 2:
            continue
        alpha = n.kwargs.get("alpha", 1)
        a, b = n.args
        if not isinstance(alpha, Number):
            continue
        if isinstance(a, fx.Node) and isinstance(b, Number) and not isinstance(b, bool):
            x, c, x_first = a, float(b), True
        elif isinstance(b, fx.Node) and isinstance(a, Number) and not isinstance(a, bool):
            x, c, x_first = b, float(a), False
        else:
            continue
        if kind == "mul":
            p = {"scale": c, "shift": 0.0}
        elif kind == "div":
            if not x_first or c == 0:
                continue
            p = {"scale": 1.0 / c, "shift": 0.0}
        elif kind == "add":
            p = {"scale": 1.0, "shift": c * alpha if x_first else c}
            if not x_first and alpha != 1:
                p = {"scale": float(alpha), "shift": c}
        else:  # sub
            p = {"scale": 1.0, "shift": -c * alpha} if x_first else {"scale": -alpha, "shift": c}
        p = {k: float(v) for k, v in p.items()}
        out.plan[n] = ("scale_shift", p)
        out.inputs[n] = [x]


def fuse(graph: fx.Graph, root: nn.Module) -> Fused:
    """Find the patterns of this module's docstring in a traced graph.

    Parameters
    ----------
    graph : torch.fx.Graph
        From :func:`engine.interop.trace.trace` (with ``cc_concrete``).
    root : torch.nn.Module
        The traced model (for its parameters).

    Returns
    -------
    Fused
    """
    out = Fused()
    concrete = getattr(graph, "cc_concrete", None)
    if concrete is None:
        return out
    _layer_norms(graph, root, concrete, out)
    _channels_last(graph, root, concrete, out)
    _shuffles(graph, concrete, out)
    _slices(graph, concrete, out)
    _constants(graph, root, concrete, out)
    for n in graph.nodes:
        if _is_method(n, "contiguous", "clone") and n not in out.absorbed and not n.kwargs:
            if len(n.args) == 1 and isinstance(n.args[0], fx.Node):
                out.plan[n] = (ALIAS, {})
                out.inputs[n] = [n.args[0]]
    return out
