"""Patterns other frameworks write: several ONNX nodes that make one node type.

A step of a pattern is a :class:`~engine.onnx.builder.Pending` value; the next node
completes it, or it is settled alone (:meth:`~engine.onnx.builder.Builder.settle`):

- ``Add(3) → Clip(0, 6) → Mul(x) → Div(6)`` is a hardswish, without the ``Mul`` a
  hardsigmoid; ``Mul(x, HardSigmoid(x))`` a hardswish and ``Mul(x, Sigmoid(x))`` a SiLU;
- ``x · 0.5 · (1 + Erf(x / √2))`` (in any order of the products) is a GELU;
- ``Clip(0, 6)`` (bounds as attributes before opset 11, as inputs after) is a ReLU6;
- ``MatMul`` (+ ``Add``) is a linear layer; ``Add`` of a per-channel constant after a
  convolution without bias is that bias; scalar arithmetic is a ``scale_shift``;
- ``Transpose`` to NHWC → ``LayerNormalization`` → ``Transpose`` back is a
  ``layernorm2d``; ``Reshape`` to 5-D → ``Transpose`` → ``Reshape`` a channel shuffle;
- ``a + b + c`` from one ONNX name is one ``add`` of three inputs (and ``*`` one ``mul``);
- ``x + b + w·x·g/(mean_C(g) + eps)``, ``g = ReduceL2(x)`` over H and W, is a ``grn``.

:data:`RULES` maps the operator names. No torch import.
"""

from __future__ import annotations

import math

import numpy as np

from engine.onnx.builder import (
    Builder,
    Computed,
    Pending,
    Refuse,
    close,
    named,
    path_of,
    scalar,
    tidy,
)
from engine.onnx.fold import attrs
from engine.onnx.layers import flatten_like, reduce_axes


def _clip_bounds(b: Builder, node, ins) -> tuple[float, float]:
    if b.f.opset < 11:
        a = attrs(node)
        return float(a.get("min", -np.inf)), float(a.get("max", np.inf))
    lo = b.const(ins[1]) if len(ins) > 1 and ins[1] else np.array(-np.inf)
    hi = b.const(ins[2]) if len(ins) > 2 and ins[2] else np.array(np.inf)
    if lo is None or hi is None:
        raise Refuse("Clip with computed bounds")
    return float(np.asarray(lo).reshape(())), float(np.asarray(hi).reshape(()))


def _clip(b: Builder, node, ins):
    lo, hi = _clip_bounds(b, node, ins)
    x = b.env.get(ins[0])
    if isinstance(x, Pending) and x.kind == "affine":
        a, c = x.data
        if (a, c) == (1, 3) and lo == 0 and hi == 6:
            return Pending("relu6p3", x.node, onnx_name=node.name)
        if lo == 0 and hi == 1:
            return b.add("hardsigmoid", {"alpha": a, "beta": c}, node, [x.node])
    src = b.tensor(ins[0], node)
    if lo == 0 and hi == 6:
        return b.add("relu6", {}, node, [src])
    if lo == 0 and hi == np.inf:
        return b.add("relu", {}, node, [src])
    if lo == -np.inf and hi == np.inf:
        return Computed(src)
    bounds = {"min": None if lo == -np.inf else lo, "max": None if hi == np.inf else hi}
    return b.add("clamp", bounds, node, [src])


def _merge(b: Builder, t: str, node, srcs: list[str]) -> str:
    """An add/mul of design nodes; an inner one from the same ONNX name is folded in."""
    base = path_of(node)
    flat: list[str] = []
    for s in srcs:
        if b.m.node_type(s) == t and b.single_use(s) and b.paths.get(s) == base:
            flat.extend(b.m.inputs(s))
            b.m.remove_node(s)
            b.weights.pop(s, None)
        else:
            flat.append(s)
    return b.add(t, {}, node, flat)


def _compose(ab: tuple[float, float], op: str, k: float, left: bool) -> tuple[float, float]:
    """``a·x + b`` after ``op`` with the scalar ``k`` (``left``: ``k op y``)."""
    a, b = ab
    if op == "Mul":
        return a * k, b * k
    if op == "Div":
        if left:
            raise Refuse("Div of a constant by a tensor")
        return a / k, b / k
    if op == "Add":
        return a, b + k
    return (-a, k - b) if left else (a, b - k)  # Sub


def _scalar_step(b: Builder, node, v, op: str, k: float, left: bool):
    """A tensor or pattern step combined with a scalar constant."""
    if isinstance(v, Pending):
        one_sixth = (op == "Div" and close(k, 6.0)) or (op == "Mul" and close(k, 1 / 6))
        if one_sixth and not left and v.kind in ("relu6p3", "x_relu6p3"):
            return b.add("hardsigmoid" if v.kind == "relu6p3" else "hardswish", {}, node, [v.node])
        if v.kind == "erf" and op == "Add" and close(k, 1.0):
            return Pending("erf1", v.node, onnx_name=node.name)
        half = (op == "Mul" and close(k, 0.5)) or (op == "Div" and close(k, 2.0) and not left)
        if v.kind == "x_erf1" and half:
            return b.add("gelu", {}, node, [v.node])
        if v.kind == "erf1" and half:
            return Pending("half_erf1", v.node, onnx_name=node.name)
        if v.kind == "affine":
            return Pending("affine", v.node, _compose(v.data, op, k, left), node.name)
    src = b.tensor_of(v, node)
    return Pending("affine", src, _compose((1.0, 0.0), op, k, left), node.name)


def _binary(b: Builder, node, ins):
    op = node.op_type
    xs = [b.env.get(n) for n in ins]
    cs = [v if isinstance(v, np.ndarray) else None for v in xs]
    grn = _grn_step(b, node, op, xs, cs, ins)
    if grn is not None:
        return grn
    if op == "Add":
        if cs[1] is not None and isinstance(xs[0], Pending) and xs[0].kind == "matmul":
            return _linear_bias(b, node, xs[0], cs[1])
        if cs[0] is not None and isinstance(xs[1], Pending) and xs[1].kind == "matmul":
            return _linear_bias(b, node, xs[1], cs[0])
    for i in (0, 1):
        k = scalar(cs[i])
        if k is not None and cs[1 - i] is None:
            return _scalar_step(b, node, xs[1 - i], op, k, left=i == 0)
    if op == "Add" and (cs[0] is None) != (cs[1] is None):
        folded = _conv_bias(
            b, node, xs[1] if cs[0] is not None else xs[0], cs[0] if cs[0] is not None else cs[1]
        )
        if folded is not None:
            return folded
    if cs[0] is not None or cs[1] is not None:
        raise Refuse(f"{op} with a constant tensor")
    if op == "Mul":
        for i in (0, 1):
            p, other = xs[i], xs[1 - i]
            if isinstance(p, Pending) and p.kind == "half_erf1":
                if b.tensor(ins[1 - i], node) == p.node:
                    return b.add("gelu", {}, node, [p.node])
            if isinstance(p, Pending) and p.kind in ("relu6p3", "erf1"):
                if isinstance(other, Pending) and other.kind == "affine" and p.kind == "erf1":
                    if other.node == p.node and close(other.data[0], 0.5) and other.data[1] == 0:
                        return b.add("gelu", {}, node, [p.node])
                if b.tensor(ins[1 - i], node) == p.node:
                    kind = "x_relu6p3" if p.kind == "relu6p3" else "x_erf1"
                    return Pending(kind, p.node, onnx_name=node.name)
        srcs = [b.tensor(n, node) for n in ins]
        for i in (0, 1):
            s, o = srcs[i], srcs[1 - i]
            kind = b.m.node_type(s)
            default = kind == "sigmoid" or (
                kind == "hardsigmoid"
                and close(b.m.params(s).get("alpha", 1 / 6), 1 / 6)
                and close(b.m.params(s).get("beta", 0.5), 0.5)
            )
            if default and b.m.inputs(s) == [o] and b.single_use(s):
                b.m.remove_node(s)
                return b.add("silu" if kind == "sigmoid" else "hardswish", {}, node, [o])
        return _merge(b, "mul", node, srcs)
    if op == "Add":
        return _merge(b, "add", node, [b.tensor(n, node) for n in ins])
    raise Refuse(f"{op} of two tensors")


def _reduce_l2(b: Builder, node, ins):
    """``ReduceL2`` over H and W (kept): the first step of a GRN."""
    axes = reduce_axes(b, node, ins)
    if axes != {2, 3} or not int(attrs(node).get("keepdims", 1)):
        raise Refuse("ReduceL2 (other than over H and W inside a GRN)")
    return Pending("grn_g", b.tensor(ins[0], node), onnx_name=node.name)


def _grn_step(b: Builder, node, op: str, xs: list, cs: list, ins: list):
    """The steps of a GRN after its norm ``g`` (``grn_g``, over the design node ``x``):
    ``mean_C(g) + eps``, ``g / ·``, ``x · ·``, ``w · ·``, ``b + ·``, ``x + ·`` (either
    operand order); ``None`` when ``node`` is not one of them."""
    for i in (0, 1):
        p, other, c = xs[i], xs[1 - i], cs[1 - i]
        if not (isinstance(p, Pending) and p.kind.startswith("grn_")):
            continue
        k = scalar(c)
        if op == "Add" and p.kind == "grn_mean" and k is not None:
            return Pending("grn_den", p.node, k, node.name)
        if op == "Div" and i == 1 and p.kind == "grn_den":
            if isinstance(other, Pending) and other.kind == "grn_g" and other.node == p.node:
                return Pending("grn_n", p.node, p.data, node.name)
        if op == "Mul" and p.kind == "grn_n" and c is None and b.tensor(ins[1 - i], node) == p.node:
            return Pending("grn_xn", p.node, p.data, node.name)
        channels = b.shape(p.node)[1]
        per_channel = c is not None and c.shape in ((1, channels, 1, 1), (channels, 1, 1))
        if op == "Mul" and p.kind == "grn_xn" and per_channel:
            return Pending("grn_wxn", p.node, (p.data, c.reshape(-1)), node.name)
        if op == "Add" and p.kind == "grn_wxn" and per_channel:
            return Pending("grn_affine", p.node, (*p.data, c.reshape(-1)), node.name)
        if op == "Add" and p.kind == "grn_affine" and c is None:
            if b.tensor(ins[1 - i], node) == p.node:
                eps, w, bias = p.data
                weights = {
                    "weight": np.asarray(w, np.float32),
                    "bias": np.asarray(bias, np.float32),
                }
                return b.add("grn", {"eps": tidy(eps)}, node, [p.node], weights)
    return None


def _conv_bias(b: Builder, node, v, c: np.ndarray):
    """A convolution without bias followed by ``Add`` of a per-channel constant (as
    PaddlePaddle writes it): the constant becomes the convolution's bias."""
    if not isinstance(v, Computed) or b.m.node_type(v.node) not in (
        "conv",
        "conv1x1",
        "conv_transpose",
    ):
        return None
    nid = v.node
    if b.m.params(nid)["bias"] or not b.single_use(nid):
        return None
    channels = b.m.params(nid)["out_channels"]
    if c.size != channels or c.shape not in ((1, channels, 1, 1), (channels, 1, 1), (channels,)):
        return None
    if c.ndim == 1 and b.shape(nid)[-1] != channels:
        return None  # a 1-D constant broadcasts over W, not over channels
    b.m.set_param(nid, "bias", True)
    b.weights.setdefault(nid, {})["bias"] = np.asarray(c, np.float32).reshape(-1)
    b.out_value[nid] = node.output[0]
    b.changed()
    return Computed(nid)


def _erf(b: Builder, node, ins):
    v = b.env.get(ins[0])
    if isinstance(v, Pending) and v.kind == "affine" and close(v.data[0], 1 / math.sqrt(2)):
        if v.data[1] == 0:
            return Pending("erf", v.node, onnx_name=node.name)
    raise Refuse("Erf (other than inside a GELU)")


def _linear_bias(b: Builder, node, p: Pending, bias: np.ndarray):
    w = p.data
    if bias.size != w.shape[0]:
        raise Refuse("MatMul + Add of a bias of another size")
    params = {"out_features": int(w.shape[0]), "bias": True}
    return b.add("linear", params, node, [p.node], {"weight": w, "bias": bias.reshape(-1)})


def _matmul(b: Builder, node, ins):
    w = b.const(ins[1])
    if w is None or w.ndim != 2:
        raise Refuse("MatMul of two computed tensors or a weight that is not 2-D")
    src = b.tensor(ins[0], node)
    return Pending("matmul", src, np.ascontiguousarray(w.T), onnx_name=node.name)


def _transpose(b: Builder, node, ins):
    perm = [int(v) for v in attrs(node).get("perm", [])]
    v = b.env.get(ins[0])
    if perm == [0, 2, 3, 1] and not isinstance(v, Pending):
        return Pending("nhwc", b.tensor(ins[0], node), onnx_name=node.name)
    if perm == [0, 3, 1, 2] and isinstance(v, Pending) and v.kind == "ln":
        eps, scale, bias, affine = v.data
        p = {"eps": tidy(eps), "elementwise_affine": affine}
        weights = {"weight": scale, "bias": bias} if affine else {}
        return b.add("layernorm2d", p, named("X", v.onnx_name), [v.node], weights)
    if perm == [0, 2, 1, 3, 4] and isinstance(v, Pending) and v.kind == "split":
        return Pending("shuffled", v.node, v.data, node.name)
    raise Refuse(f"Transpose {perm}")


def _layer_norm(b: Builder, node, ins):
    v = b.env.get(ins[0])
    a = attrs(node)
    if not (isinstance(v, Pending) and v.kind == "nhwc" and int(a.get("axis", -1)) in (-1, 3)):
        raise Refuse("LayerNormalization (other than over the channels of N×C×H×W)")
    scale = b.const(ins[1])
    bias = b.const(ins[2]) if len(ins) > 2 and ins[2] else None
    if scale is None:
        raise Refuse("LayerNormalization with a computed scale")
    bias = np.zeros_like(scale) if bias is None else bias
    affine = ins[1].endswith(".weight") or not (np.all(scale == 1) and np.all(bias == 0))
    data = (float(a.get("epsilon", 1e-5)), scale, bias, affine)
    return Pending("ln", v.node, data, node.name)


def _reshape(b: Builder, node, ins):
    target = b.const(ins[1])
    if target is None:
        raise Refuse("Reshape to a shape computed from tensors it cannot fold")
    v = b.env.get(ins[0])
    dims = [int(d) for d in target.reshape(-1)]
    if isinstance(v, Pending) and v.kind == "shuffled":
        shape = b.shape(v.node)
        if len(dims) == 4 and dims[1:] == list(shape[1:]):
            return b.add("channel_shuffle", {"groups": v.data}, node, [v.node])
    if len(dims) == 5 and not isinstance(v, Pending):
        src = b.tensor(ins[0], node)
        shape = b.shape(src)
        if len(shape) == 4 and dims[1] * dims[2] == shape[1] and dims[3:] == list(shape[2:]):
            return Pending("split", src, dims[1], node.name)
    return flatten_like(b, node, b.tensor(ins[0], node), [int(v) for v in target.reshape(-1)])


RULES = {
    "Clip": _clip,
    "Add": _binary,
    "Mul": _binary,
    "Div": _binary,
    "Sub": _binary,
    "MatMul": _matmul,
    "Transpose": _transpose,
    "LayerNormalization": _layer_norm,
    "Erf": _erf,
    "Reshape": _reshape,
    "ReduceL2": _reduce_l2,
}
