"""ONNX operations that map one to one onto a node type: their attributes as parameters.

Each rule takes the :class:`~engine.onnx.builder.Builder`, the ONNX node and its input
names, and returns the design node it adds (or the value the output is, a
:class:`~engine.onnx.builder.Computed` or :class:`~engine.onnx.builder.Pending`); it
raises :class:`~engine.onnx.builder.Refuse` naming what has no node type. ``Conv`` and
``ConvTranspose`` with ``pads``/``auto_pad``, pools, ``BatchNormalization``, ``Gemm``,
``Flatten`` and ``Squeeze`` of a ``C×1×1``, ``ReduceMean`` over H and W, ``Concat`` of
channels, ``Dropout``, ``Softmax`` on the channels, ``Resize`` by whole factors,
activations, ``Slice`` of channels, and ``Pad`` (pending: a zero ``Pad`` before a ``Conv``
is the convolution's padding). :data:`RULES` maps the operator names. No torch import.
"""

from __future__ import annotations

import numpy as np

from engine.nodes.specs import NODE_TYPES
from engine.onnx.builder import (
    Builder,
    Computed,
    Pending,
    Refuse,
    close,
    decoded,
    named,
    pair,
    path_of,
    path_of_text,
)
from engine.onnx.fold import attrs


def _pads(node, a: dict, kernel, strides, dil, extra=None) -> list[int]:
    """``[top, left, bottom, right]`` from ``pads`` / ``auto_pad`` (+ a folded ``Pad``)."""
    auto = str(decoded(a.get("auto_pad", b"NOTSET")))
    pads = [int(v) for v in a.get("pads", [0, 0, 0, 0])]
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        if any(s != 1 for s in strides):
            raise Refuse(f"{node.op_type} with auto_pad {auto} and a stride")
        tot = [d * (k - 1) for k, d in zip(kernel, dil)]
        lo = [t // 2 if auto == "SAME_UPPER" else t - t // 2 for t in tot]
        pads = [lo[0], lo[1], tot[0] - lo[0], tot[1] - lo[1]]
    elif auto not in ("NOTSET", "VALID", ""):
        raise Refuse(f"{node.op_type} with auto_pad {auto}")
    if extra is not None:
        pads = [p + e for p, e in zip(pads, extra)]
    return pads


def _padding(node, pads: list[int], kernel, strides, dil):
    top, left, bottom, right = pads
    if top == bottom and left == right:
        return pair((top, left))
    th, tw = dil[0] * (kernel[0] - 1), dil[1] * (kernel[1] - 1)
    if tuple(strides) == (1, 1) and (top, bottom, left, right) == (
        th // 2,
        th - th // 2,
        tw // 2,
        tw - tw // 2,
    ):
        return "same"
    raise Refuse(f"{node.op_type} with uneven padding {pads}")


def _node_type(t: str, op: str):
    """The spec of node type ``t``; without that type, ``op`` is refused."""
    spec = NODE_TYPES.get(t)
    if spec is None:
        raise Refuse(op)
    return spec


# --------------------------------------------------------------------------- rules
def _conv(b: Builder, node, ins):
    a = attrs(node)
    x = b.env.get(ins[0])
    extra = None
    if isinstance(x, Pending) and x.kind == "pad" and pad_folds(b, x, node):
        extra = list(x.data[:4])
        src = x.node
    else:
        src = b.tensor(ins[0], node)
    w = b.const(ins[1])
    if w is None or w.ndim != 4:
        raise Refuse("Conv whose weight is computed or not 2-D")
    bias = b.const(ins[2]) if len(ins) > 2 else None
    if len(ins) > 2 and ins[2] and bias is None:
        raise Refuse("Conv whose bias is computed")
    kernel = [int(k) for k in a.get("kernel_shape", w.shape[2:])]
    strides = [int(s) for s in a.get("strides", [1, 1])]
    dil = [int(d) for d in a.get("dilations", [1, 1])]
    groups = int(a.get("group", 1))
    pads = _pads(node, a, kernel, strides, dil, extra)
    padding = _padding(node, pads, kernel, strides, dil)
    p = {"out_channels": int(w.shape[0]), "stride": pair(strides), "groups": groups}
    p["bias"] = bias is not None
    weights = {"weight": w} | ({"bias": bias.reshape(-1)} if bias is not None else {})
    if kernel == [1, 1] and padding == 0 and dil == [1, 1]:
        return b.add("conv1x1", p, node, [src], weights)
    p |= {"kernel_size": pair(kernel), "padding": padding, "dilation": pair(dil)}
    return b.add("conv", p, node, [src], weights)


def _conv_transpose(b: Builder, node, ins):
    spec = _node_type("conv_transpose", "ConvTranspose")
    a = attrs(node)
    src = b.tensor(ins[0], node)
    w = b.const(ins[1])
    if w is None or w.ndim != 4:
        raise Refuse("ConvTranspose whose weight is computed or not 2-D")
    bias = b.const(ins[2]) if len(ins) > 2 else None
    groups = int(a.get("group", 1))
    kernel = [int(k) for k in a.get("kernel_shape", w.shape[2:])]
    strides = [int(s) for s in a.get("strides", [1, 1])]
    dil = [int(d) for d in a.get("dilations", [1, 1])]
    pads = [int(v) for v in a.get("pads", [0, 0, 0, 0])]
    if "output_shape" in a or a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET", b""):
        raise Refuse("ConvTranspose with output_shape or auto_pad")
    if pads[0] != pads[2] or pads[1] != pads[3]:
        raise Refuse(f"ConvTranspose with uneven padding {pads}")
    outpad = [int(v) for v in a.get("output_padding", [0, 0])]
    p = {
        "out_channels": int(w.shape[1]) * groups,
        "kernel_size": pair(kernel),
        "stride": pair(strides),
        "padding": pair(pads[:2]),
        "groups": groups,
        "bias": bias is not None,
    }
    if "output_padding" in spec.param_index:
        p["output_padding"] = pair(outpad)
    elif any(outpad):
        raise Refuse("ConvTranspose with output_padding")
    if "dilation" in spec.param_index:
        p["dilation"] = pair(dil)
    elif dil != [1, 1]:
        raise Refuse("ConvTranspose with dilation")
    weights = {"weight": w} | ({"bias": bias.reshape(-1)} if bias is not None else {})
    return b.add("conv_transpose", p, node, [src], weights)


def _bn(b: Builder, node, ins):
    a = attrs(node)
    if int(a.get("training_mode", 0)):
        raise Refuse("BatchNormalization in training mode")
    src = b.tensor(ins[0], node)
    scale, bias, mean, var = (b.const(n) for n in ins[1:5])
    if any(v is None for v in (scale, bias, mean, var)):
        raise Refuse("BatchNormalization with computed statistics")
    affine = not (not ins[1].endswith(".weight") and np.all(scale == 1) and np.all(bias == 0))
    eps = float(a.get("epsilon", 1e-5))
    momentum = round(1.0 - float(a.get("momentum", 0.9)), 6)
    p = {"eps": float(np.float32(eps)), "momentum": min(max(momentum, 0.0), 1.0)}
    p["affine"] = affine
    if close(p["eps"], 1e-5):
        p["eps"] = 1e-5
    if close(p["eps"], 1e-3):
        p["eps"] = 1e-3
    weights = {"running_mean": mean, "running_var": var}
    weights["num_batches_tracked"] = np.array(0, dtype=np.int64)
    if affine:
        weights = {"weight": scale, "bias": bias} | weights
    return b.add("batchnorm", p, node, [src], weights)


def _pool(t: str):
    def rule(b: Builder, node, ins):
        a = attrs(node)
        src = b.tensor(ins[0], node)
        kernel = [int(k) for k in a["kernel_shape"]]
        if len(kernel) != 2:
            raise Refuse(f"{node.op_type} over {len(kernel)} dimensions")
        strides = [int(s) for s in a.get("strides", [1, 1])]
        dil = [int(d) for d in a.get("dilations", [1, 1])]
        if dil != [1, 1]:
            raise Refuse(f"{node.op_type} with dilations")
        pads = _pads(node, a, kernel, strides, dil)
        if pads[0] != pads[2] or pads[1] != pads[3]:
            raise Refuse(f"{node.op_type} with uneven padding {pads}")
        exclude = t == "avgpool" and any(pads) and not int(a.get("count_include_pad", 0))
        p = {
            "kernel_size": pair(kernel),
            "stride": None if strides == kernel else pair(strides),
            "padding": pair(pads[:2]),
            "ceil_mode": bool(a.get("ceil_mode", 0)),
        }
        if exclude:
            p["count_include_pad"] = False
        return b.add(t, p, node, [src])

    return rule


def _simple(t: str):
    return lambda b, node, ins: b.add(t, {}, node, [b.tensor(ins[0], node)])


def _hardsigmoid(b: Builder, node, ins):
    a = attrs(node)
    alpha, beta = float(a.get("alpha", 0.2)), float(a.get("beta", 0.5))
    src = b.tensor(ins[0], node)
    spec = NODE_TYPES["hardsigmoid"]
    p: dict = {}
    if "alpha" in spec.param_index and "beta" in spec.param_index:
        p = {"alpha": alpha, "beta": beta}
        if close(alpha, 1 / 6) and close(beta, 0.5):
            p = {}
    elif not (close(alpha, 1 / 6) and close(beta, 0.5)):
        raise Refuse(f"HardSigmoid with alpha {alpha:g} and beta {beta:g}")
    return b.add("hardsigmoid", p, node, [src])


def _gemm(b: Builder, node, ins):
    a = attrs(node)
    if int(a.get("transA", 0)):
        raise Refuse("Gemm with transA")
    w = b.const(ins[1])
    if w is None or w.ndim != 2:
        raise Refuse("Gemm with a computed weight")
    src = b.tensor(ins[0], node)
    w = w if int(a.get("transB", 0)) else w.T
    w = np.ascontiguousarray(w * np.float32(a.get("alpha", 1.0)))
    c = b.const(ins[2]) if len(ins) > 2 and ins[2] else None
    weights = {"weight": w}
    if c is not None:
        c = np.broadcast_to(c * np.float32(a.get("beta", 1.0)), (1, w.shape[0]))
        weights["bias"] = np.ascontiguousarray(c.reshape(-1))
    params = {"out_features": int(w.shape[0]), "bias": c is not None}
    return b.add("linear", params, node, [src], weights)


def flatten_like(b: Builder, node, src: str, target: list[int] | None):
    """A flatten of ``src`` (a reshape to ``target``, which must be ``[N, -1]``)."""
    shape = b.shape(src)
    if target is not None:
        n = int(np.prod(shape))
        dims = [shape[i] if v == 0 and i < len(shape) else v for i, v in enumerate(target)]
        if -1 in dims:
            known = int(np.prod([d for d in dims if d != -1])) or 1
            dims = [n // known if d == -1 else d for d in dims]
        if len(dims) != 2 or dims[0] != 1 or dims[1] != n // 1:
            raise Refuse(f"Reshape to {list(target)} (only [N, -1], a flatten, is a node type)")
    if len(shape) == 2:
        return Computed(src)  # already flat
    return b.add("flatten", {}, node, [src])


def _flatten(b: Builder, node, ins):
    if int(attrs(node).get("axis", 1)) != 1:
        raise Refuse("Flatten on an axis other than 1")
    return flatten_like(b, node, b.tensor(ins[0], node), None)


def _squeeze(b: Builder, node, ins):
    src = b.tensor(ins[0], node)
    shape = b.shape(src)
    if len(shape) == 4 and shape[2:] == (1, 1):
        return b.add("flatten", {}, node, [src])
    raise Refuse(f"Squeeze of a {'×'.join(map(str, shape[1:]))} tensor")


def reduce_axes(b: Builder, node, ins) -> set[int] | None:
    """The axes (of N×C×H×W) a ``Reduce*`` node reduces: its attribute (before opset
    18) or its constant second input; ``None`` when they are computed."""
    axes = attrs(node).get("axes")
    if len(ins) > 1 and ins[1]:
        c = b.const(ins[1])
        axes = None if c is None else [int(v) for v in c.reshape(-1)]
    return None if axes is None else {int(v) % 4 for v in axes}


def _reduce_mean(b: Builder, node, ins):
    a = attrs(node)
    axes = reduce_axes(b, node, ins)
    v = b.env.get(ins[0])
    if isinstance(v, Pending) and v.kind == "grn_g" and axes == {1} and int(a.get("keepdims", 1)):
        return Pending("grn_mean", v.node, onnx_name=node.name)  # a GRN (patterns.py)
    if axes != {2, 3}:
        raise Refuse(f"ReduceMean over axes {sorted(axes) if axes else axes} (only H and W)")
    src = b.tensor(ins[0], node)
    if int(a.get("keepdims", 1)):
        return b.add("global_avgpool", {}, node, [src])
    inner = named("X", f"{node.name}/gap")
    gap = b.add("global_avgpool", {}, inner, [src])
    return b.add("flatten", {}, node, [gap])


def _concat(b: Builder, node, ins):
    srcs = [b.tensor(n, node) for n in ins]
    rank = len(b.shape(srcs[0]))
    axis = int(attrs(node)["axis"]) % rank
    if axis != 1:
        raise Refuse(f"Concat along axis {axis} (the design concatenates channels)")
    if len(srcs) == 1:
        return Computed(srcs[0])
    return b.add("concat", {}, node, srcs)


def _dropout(b: Builder, node, ins):
    ratio = b.const(ins[1]) if len(ins) > 1 and ins[1] else None
    p = float(attrs(node).get("ratio", 0.5)) if ratio is None else float(ratio.reshape(()))
    p = round(p, 6) if abs(p - round(p, 6)) < 1e-7 else p
    return b.add("dropout", {"p": p}, node, [b.tensor(ins[0], node)])


def pad_folds(b: Builder, p: Pending, conv) -> bool:
    """Whether a zero ``Pad`` is the convolution's own padding: in a ConvCanvas file only
    when both carry the same name (an uneven "same"), in other files always."""
    if p.data[4] != "constant" or p.data[5] != 0 or b.users.get(p.data[6], 2) != 1:
        return False
    return not b.convcanvas or path_of_text(p.onnx_name) == path_of(conv)


_PAD_MODES = {"constant": "constant", "reflect": "reflect", "edge": "replicate"}


def _pad(b: Builder, node, ins):
    a = attrs(node)
    mode = decoded(a.get("mode", b"constant"))
    pads = b.const(ins[1]) if len(ins) > 1 else None
    pads = np.asarray(a["pads"]) if pads is None and "pads" in a else pads
    value = b.const(ins[2]) if len(ins) > 2 and ins[2] else np.zeros(1)
    if mode not in _PAD_MODES or pads is None or value is None or value.size != 1:
        raise Refuse(f"Pad in {mode} mode or with a computed amount")
    pads = [int(v) for v in pads.reshape(-1)]
    if len(pads) != 8 or any(pads[i] for i in (0, 1, 4, 5)) or min(pads) < 0:
        raise Refuse(f"Pad of {pads} (only H and W)")
    data = (pads[2], pads[3], pads[6], pads[7], _PAD_MODES[mode], float(value.reshape(-1)[0]))
    return Pending("pad", b.tensor(ins[0], node), (*data, node.output[0]), node.name)


def _softmax(b: Builder, node, ins):
    if "softmax" not in NODE_TYPES:
        raise Refuse("Softmax")
    src = b.tensor(ins[0], node)
    rank = len(b.shape(src))
    default = -1 if b.f.opset >= 13 else 1
    axis = int(attrs(node).get("axis", default)) % rank
    if axis == 1 and (rank == 2 or b.f.opset >= 13):
        return b.add("softmax", {}, node, [src])  # over channels or features
    raise Refuse(f"Softmax on axis {axis} of a rank-{rank} tensor (only the channels)")


def _resize(b: Builder, node, ins):
    spec = _node_type("upsample", "Resize")
    a = attrs(node)
    src = b.tensor(ins[0], node)
    mode = decoded(a.get("mode", b"nearest"))
    shape = b.shape(src)
    scales = b.const(ins[2]) if len(ins) > 2 and ins[2] else None
    sizes = b.const(ins[3]) if len(ins) > 3 and ins[3] else None
    if scales is not None and scales.size == 4:
        factor = [float(scales[2]), float(scales[3])]
    elif sizes is not None and sizes.size == 4:
        factor = [sizes[2] / shape[2], sizes[3] / shape[3]]
    else:
        raise Refuse("Resize without constant scales or sizes")
    if any(f != int(f) or f < 1 for f in factor):
        raise Refuse(f"Resize by {factor} (only whole factors)")
    p: dict = {"scale_factor": pair([int(f) for f in factor])}
    if "mode" in spec.param_index:
        p["mode"] = "nearest" if mode == "nearest" else "bilinear"
    return b.add("upsample", p, node, [src])


def _identity(b: Builder, node, ins):
    """A design's identity node in ConvCanvas files; elsewhere (and for helpers of
    another node, ``name/Identity``) the value passes on."""
    v = b.env.get(ins[0])
    if isinstance(v, Pending) or not b.convcanvas or "/" in (node.name or ""):
        return v if isinstance(v, Pending) else Computed(b.tensor(ins[0], node))
    return b.add("identity", {}, node, [b.tensor(ins[0], node)])


def _alpha(t: str, param: str, default: float):
    def rule(b: Builder, node, ins):
        value = float(np.float32(attrs(node).get("alpha", default)))
        value = round(value, 6) if abs(value - round(value, 6)) < 1e-7 else value
        return b.add(t, {param: value}, node, [b.tensor(ins[0], node)])

    return rule


def _prelu(b: Builder, node, ins):
    src = b.tensor(ins[0], node)
    slope = b.const(ins[1])
    if slope is None or "prelu" not in NODE_TYPES:
        raise Refuse("PRelu with a computed slope")
    n = int(slope.size)
    if slope.shape not in ((n,), (n, 1, 1), (1, n, 1, 1), ()) or (n > 1 and slope.ndim == 1):
        raise Refuse(f"PRelu with a slope of shape {list(slope.shape)}")
    weights = {"weight": np.asarray(slope, np.float32).reshape(-1)}
    return b.add("prelu", {"num_parameters": n}, node, [src], weights)


def _gelu(b: Builder, node, ins):
    approx = decoded(attrs(node).get("approximate", b"none"))
    return b.add("gelu", {"approximate": approx}, node, [b.tensor(ins[0], node)])


def _slice(b: Builder, node, ins):
    src = b.tensor(ins[0], node)
    shape = b.shape(src)
    starts, ends = b.const(ins[1]), b.const(ins[2]) if len(ins) > 2 else None
    axes = b.const(ins[3]) if len(ins) > 3 and ins[3] else np.arange(len(shape))
    steps = b.const(ins[4]) if len(ins) > 4 and ins[4] else np.ones(1, np.int64)
    if starts is None or ends is None or axes is None or steps is None:
        raise Refuse("Slice with computed bounds")
    axes = [int(v) % len(shape) for v in axes.reshape(-1)]
    if axes != [1] or int(steps.reshape(-1)[0]) != 1 or len(shape) != 4:
        raise Refuse(f"Slice along axes {axes} (only channels, step 1)")
    c = shape[1]
    start, stop = int(starts.reshape(-1)[0]), int(ends.reshape(-1)[0])
    start = max(0, min(c, start + c if start < 0 else start))
    stop = max(0, min(c, stop + c if stop < 0 else stop))
    return b.add(
        "channel_slice", {"start": start, "stop": None if stop >= c else stop}, node, [src]
    )


RULES = {
    "Conv": _conv,
    "ConvTranspose": _conv_transpose,
    "BatchNormalization": _bn,
    "MaxPool": _pool("maxpool"),
    "AveragePool": _pool("avgpool"),
    "GlobalAveragePool": _simple("global_avgpool"),
    "Relu": _simple("relu"),
    "Sigmoid": _simple("sigmoid"),
    "HardSwish": _simple("hardswish"),
    "HardSigmoid": _hardsigmoid,
    "Gemm": _gemm,
    "Flatten": _flatten,
    "Squeeze": _squeeze,
    "ReduceMean": _reduce_mean,
    "Concat": _concat,
    "Identity": _identity,
    "Gelu": _gelu,
    "PRelu": _prelu,
    "Elu": _alpha("elu", "alpha", 1.0),
    "LeakyRelu": _alpha("leaky_relu", "negative_slope", 0.01),
    "Mish": _simple("mish"),
    "Tanh": _simple("tanh"),
    "Slice": _slice,
    "Dropout": _dropout,
    "Pad": _pad,
    "Softmax": _softmax,
    "Resize": _resize,
}
