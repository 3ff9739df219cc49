"""ONNX graph → design: node types, ids and scopes from node names, weights by target.

:func:`import_onnx` walks the graph in order. A node whose inputs are all known arrays is
folded (:mod:`engine.onnx.fold`; ``Shape`` of a tensor gives the concrete shape for the
``--input`` size), so shape arithmetic and constant subgraphs disappear. Every other node
maps to a design node, or to a step of a pattern that other frameworks write:

- ``Add(3) → Clip(0, 6) → Mul(x) → Div(6)`` is a hardswish, without the ``Mul`` a
  hardsigmoid; ``Mul(x, HardSigmoid(x))`` a hardswish and ``Mul(x, Sigmoid(x))`` a SiLU;
- ``Clip(0, 6)`` (bounds as attributes before opset 11, as inputs after) is a ReLU6;
- ``MatMul`` (+ ``Add``) and ``Gemm`` (any ``transB``, ``alpha``, ``beta``) are linear layers;
- ``Flatten``, ``Reshape`` to ``[N, -1]`` and ``Squeeze`` of a ``C×1×1`` are flatten;
- ``Pad`` (zeros) before a ``Conv`` is the convolution's padding;
- ``Identity`` and ``Dropout`` are identity and dropout nodes; ``Softmax`` on the last
  axis, ``Resize`` and ``ConvTranspose`` map to their node types when those exist.

Anything else is refused, one line per distinct operation with the node names. Node ids
come from the ONNX node names (``layer1.0.conv1`` → ``layer1_0_conv1`` in scope
``layer1.0``; ``/layer1/layer1.0/conv1/Conv`` likewise). No torch import.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np
import onnx

from engine.analysis.analyzer import analyze
from engine.core.errors import EngineError
from engine.core.graph import GraphModel
from engine.nodes.specs import NODE_TYPES
from engine.onnx.errors import OnnxImportError, OnnxUnsupported
from engine.onnx.fold import NotFoldable, attrs, fold
from engine.onnx.reader import OnnxFile, read_model, to_array


@dataclass
class ImportedOnnx:
    """The result of an ONNX import.

    Attributes
    ----------
    model : GraphModel
        The design, laid out.
    state : dict
        ``{target.suffix: numpy array}`` (float32; ``num_batches_tracked`` int64).
    opset : int
        The file's opset.
    """

    model: GraphModel
    state: dict
    opset: int
    producer: str = ""
    notes: list = field(default_factory=list)


class _Refuse(Exception):
    """This node's operation has no node type (the text names it)."""


class _Skip(Exception):
    """An input comes from a refused node (that node is already reported)."""


_BAD = object()  # the value of a refused node


@dataclass
class _T:
    """A tensor computed by design node ``node``."""

    node: str


@dataclass
class _P:
    """A step of a pattern: ``kind`` over design node ``node`` (not a design node yet)."""

    kind: str  # plus3, relu6p3, x_relu6p3, matmul, pad
    node: str
    data: object = None
    onnx_name: str = ""


_SPLIT = re.compile(r"[/.]")


def _path_of(node: onnx.NodeProto) -> str:
    """A module path from a node name: ``/a/a.0/conv/Conv`` → ``a.0.conv``."""
    name = node.name or (node.output[0] if node.output else "")
    comps = [c for c in name.split("/") if c]
    if len(comps) > 1 and re.fullmatch(rf"{re.escape(node.op_type)}(_\d+)?", comps[-1]):
        comps = comps[:-1]
    path = ""
    for c in comps:
        path = c if not path or c.startswith(path + ".") else f"{path}.{c}"
    return path


class _Builder:
    def __init__(self, f: OnnxFile, input_size, name: str):
        self.f = f
        self.folder = f.path.resolve().parent
        self.m = GraphModel(name)
        self.env: dict[str, object] = dict(f.tensors)
        self.weights: dict[str, dict[str, np.ndarray]] = {}
        self.onnx_name: dict[str, str] = {}  # design node → ONNX name that made it
        self.paths: dict[str, str] = {}  # design node → the module path of that name
        self.users: dict[str, int] = {}  # ONNX value → how many nodes (and outputs) read it
        self.out_value: dict[str, str] = {}  # design node → the ONNX value it computes
        self.input_size = input_size
        props = {p.key for p in f.model.metadata_props}
        self.convcanvas = "convcanvas.design" in props  # a file ConvCanvas exported
        self._analysis = None
        self.problems: dict[str, list[str]] = {}

    # ------------------------------------------------------------------ helpers
    def shape(self, design_node: str) -> tuple:
        """The design node's output shape (batch 1 first)."""
        if self._analysis is None:
            self._analysis = analyze(self.m)
        s = self._analysis[design_node].shape
        if s is None:
            msgs = [msg for n, msg in self._analysis.errors] or ["no shape"]
            raise OnnxImportError(
                f"the design does not fit the input size at '{design_node}': {msgs[0]} "
                "(give the size the model was made for with --input CxHxW)"
            )
        return (1, *s)

    def add(self, t: str, params: dict, node: onnx.NodeProto, srcs, weights=None) -> str:
        path = _path_of(node)
        nid = self.m.unique_id(path.replace(".", "_") or t)
        scope = path.rpartition(".")[0] or None if "." in path else None
        if scope is not None and not all(p.isidentifier() or p.isdigit() for p in scope.split(".")):
            scope = None
        parts = path.split(".")
        if len(parts) >= 2 and parts[-1].isdigit() and parts[-2] in _OP_NAMES:
            scope = None  # "p2o.Conv.12": an exporter's counter, not a module hierarchy
        try:
            self.m.add_node(t, params, nid, scope=scope)
        except EngineError as exc:
            raise _Refuse(f"{node.op_type} ({exc.message})") from None
        for port, s in enumerate(srcs):
            self.m.connect(s, nid, port)
        if weights:
            self.weights[nid] = weights
        self.onnx_name[nid] = node.name
        self.paths[nid] = path
        self._analysis = None
        return nid

    def single_use(self, design_node: str) -> bool:
        """Whether one ONNX node alone reads the design node's value."""
        return self.users.get(self.out_value.get(design_node, ""), 2) == 1

    def const(self, name: str) -> np.ndarray | None:
        if name == "":
            return None
        v = self.env.get(name)
        return v if isinstance(v, np.ndarray) else None

    def tensor(self, name: str, node: onnx.NodeProto) -> str:
        return self.tensor_of(self.env.get(name), node, name)

    def tensor_of(self, v, node: onnx.NodeProto, name: str = "?") -> str:
        if isinstance(v, _T):
            return v.node
        if isinstance(v, _P):
            return self.settle(v, node)
        if isinstance(v, np.ndarray):
            raise _Refuse(f"{node.op_type} of a constant tensor")
        if v is _BAD:
            raise _Skip
        raise OnnxImportError(f"node '{node.name}' reads '{name}', which nothing computes")

    def settle(self, p: _P, node: onnx.NodeProto) -> str:
        """Turn a pending pattern into design nodes where it stands alone."""
        if p.kind == "matmul":
            w = p.data
            fake = onnx.helper.make_node("MatMul", [], [], name=p.onnx_name)
            return self.add(
                "linear", {"out_features": int(w.shape[0]), "bias": False}, fake, [p.node],
                {"weight": w},
            )  # fmt: skip
        if p.kind == "affine":
            scale, shift = p.data
            if scale == 1 and shift == 0:
                return p.node
            fake = onnx.helper.make_node("Mul", [], [], name=p.onnx_name)
            return self.add("scale_shift", {"scale": scale, "shift": shift}, fake, [p.node])
        if p.kind == "pad":
            fake = onnx.helper.make_node("Pad", [], [], name=p.onnx_name)
            top, left, bottom, right, mode, value, _out = p.data
            params = {"left": left, "right": right, "top": top, "bottom": bottom}
            params |= {"mode": mode, "value": value}
            return self.add("pad", params, fake, [p.node])
        raise _Refuse(
            f"part of a {'GELU' if 'erf' in p.kind else 'hardswish'} pattern used elsewhere"
        )


def _scalar(a: np.ndarray | None) -> float | None:
    if a is None or a.size != 1:
        return None
    return float(a.reshape(()))


def _close(a: float | None, b: float) -> bool:
    return a is not None and math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-7)


def _pair(v) -> int | list[int]:
    h, w = int(v[0]), int(v[1])
    return h if h == w else [h, w]


def _pads(node: onnx.NodeProto, a: dict, kernel, strides, dil, extra=None) -> list[int]:
    """``[top, left, bottom, right]`` from ``pads`` / ``auto_pad`` (+ a folded ``Pad``)."""
    auto = a.get("auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else str(auto)
    pads = [int(v) for v in a.get("pads", [0, 0, 0, 0])]
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        if any(s != 1 for s in strides):
            raise _Refuse(f"{node.op_type} with auto_pad {auto} and a stride")
        tot = [d * (k - 1) for k, d in zip(kernel, dil)]
        lo = [t // 2 if auto == "SAME_UPPER" else t - t // 2 for t in tot]
        pads = [lo[0], lo[1], tot[0] - lo[0], tot[1] - lo[1]]
    elif auto not in ("NOTSET", "VALID", ""):
        raise _Refuse(f"{node.op_type} with auto_pad {auto}")
    if extra is not None:
        pads = [p + e for p, e in zip(pads, extra)]
    return pads


def _padding(node, pads: list[int], kernel, strides, dil):
    top, left, bottom, right = pads
    if top == bottom and left == right:
        return _pair((top, left))
    th, tw = dil[0] * (kernel[0] - 1), dil[1] * (kernel[1] - 1)
    if tuple(strides) == (1, 1) and (top, bottom, left, right) == (
        th // 2,
        th - th // 2,
        tw // 2,
        tw - tw // 2,
    ):
        return "same"
    raise _Refuse(f"{node.op_type} with uneven padding {pads}")


# --------------------------------------------------------------------------- rules
def _conv(b: _Builder, node, ins):
    a = attrs(node)
    x = b.env.get(ins[0])
    extra = None
    if isinstance(x, _P) and x.kind == "pad" and _pad_folds(b, x, node):
        extra = list(x.data[:4])
        src = x.node
    else:
        src = b.tensor(ins[0], node)
    w = b.const(ins[1])
    if w is None or w.ndim != 4:
        raise _Refuse("Conv whose weight is computed or not 2-D")
    bias = b.const(ins[2]) if len(ins) > 2 else None
    if len(ins) > 2 and ins[2] and bias is None:
        raise _Refuse("Conv whose bias is computed")
    kernel = [int(k) for k in a.get("kernel_shape", w.shape[2:])]
    strides = [int(s) for s in a.get("strides", [1, 1])]
    dil = [int(d) for d in a.get("dilations", [1, 1])]
    groups = int(a.get("group", 1))
    pads = _pads(node, a, kernel, strides, dil, extra)
    padding = _padding(node, pads, kernel, strides, dil)
    p = {"out_channels": int(w.shape[0]), "stride": _pair(strides), "groups": groups}
    p["bias"] = bias is not None
    weights = {"weight": w} | ({"bias": bias.reshape(-1)} if bias is not None else {})
    if kernel == [1, 1] and padding == 0 and dil == [1, 1]:
        return b.add("conv1x1", p, node, [src], weights)
    p |= {"kernel_size": _pair(kernel), "padding": padding, "dilation": _pair(dil)}
    return b.add("conv", p, node, [src], weights)


def _conv_transpose(b: _Builder, node, ins):
    spec = NODE_TYPES.get("conv_transpose")
    if spec is None:
        raise _Refuse("ConvTranspose")
    a = attrs(node)
    src = b.tensor(ins[0], node)
    w = b.const(ins[1])
    if w is None or w.ndim != 4:
        raise _Refuse("ConvTranspose whose weight is computed or not 2-D")
    bias = b.const(ins[2]) if len(ins) > 2 else None
    groups = int(a.get("group", 1))
    kernel = [int(k) for k in a.get("kernel_shape", w.shape[2:])]
    strides = [int(s) for s in a.get("strides", [1, 1])]
    dil = [int(d) for d in a.get("dilations", [1, 1])]
    pads = [int(v) for v in a.get("pads", [0, 0, 0, 0])]
    if "output_shape" in a or a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET", b""):
        raise _Refuse("ConvTranspose with output_shape or auto_pad")
    if pads[0] != pads[2] or pads[1] != pads[3]:
        raise _Refuse(f"ConvTranspose with uneven padding {pads}")
    outpad = [int(v) for v in a.get("output_padding", [0, 0])]
    p = {
        "out_channels": int(w.shape[1]) * groups,
        "kernel_size": _pair(kernel),
        "stride": _pair(strides),
        "padding": _pair(pads[:2]),
        "groups": groups,
        "bias": bias is not None,
    }
    if "output_padding" in spec.param_index:
        p["output_padding"] = _pair(outpad)
    elif any(outpad):
        raise _Refuse("ConvTranspose with output_padding")
    if "dilation" in spec.param_index:
        p["dilation"] = _pair(dil)
    elif dil != [1, 1]:
        raise _Refuse("ConvTranspose with dilation")
    weights = {"weight": w} | ({"bias": bias.reshape(-1)} if bias is not None else {})
    return b.add("conv_transpose", p, node, [src], weights)


def _bn(b: _Builder, node, ins):
    a = attrs(node)
    if int(a.get("training_mode", 0)):
        raise _Refuse("BatchNormalization in training mode")
    src = b.tensor(ins[0], node)
    scale, bias, mean, var = (b.const(n) for n in ins[1:5])
    if any(v is None for v in (scale, bias, mean, var)):
        raise _Refuse("BatchNormalization with computed statistics")
    affine = not (not ins[1].endswith(".weight") and np.all(scale == 1) and np.all(bias == 0))
    eps = float(a.get("epsilon", 1e-5))
    momentum = round(1.0 - float(a.get("momentum", 0.9)), 6)
    p = {"eps": float(np.float32(eps)), "momentum": min(max(momentum, 0.0), 1.0)}
    p["affine"] = affine
    if _close(p["eps"], 1e-5):
        p["eps"] = 1e-5
    if _close(p["eps"], 1e-3):
        p["eps"] = 1e-3
    weights = {"running_mean": mean, "running_var": var}
    weights["num_batches_tracked"] = np.array(0, dtype=np.int64)
    if affine:
        weights = {"weight": scale, "bias": bias} | weights
    return b.add("batchnorm", p, node, [src], weights)


def _pool(t: str):
    def rule(b: _Builder, node, ins):
        a = attrs(node)
        src = b.tensor(ins[0], node)
        kernel = [int(k) for k in a["kernel_shape"]]
        if len(kernel) != 2:
            raise _Refuse(f"{node.op_type} over {len(kernel)} dimensions")
        strides = [int(s) for s in a.get("strides", [1, 1])]
        dil = [int(d) for d in a.get("dilations", [1, 1])]
        if dil != [1, 1]:
            raise _Refuse(f"{node.op_type} with dilations")
        pads = _pads(node, a, kernel, strides, dil)
        if pads[0] != pads[2] or pads[1] != pads[3]:
            raise _Refuse(f"{node.op_type} with uneven padding {pads}")
        exclude = t == "avgpool" and any(pads) and not int(a.get("count_include_pad", 0))
        p = {
            "kernel_size": _pair(kernel),
            "stride": None if strides == kernel else _pair(strides),
            "padding": _pair(pads[:2]),
            "ceil_mode": bool(a.get("ceil_mode", 0)),
        }
        if exclude:
            p["count_include_pad"] = False
        return b.add(t, p, node, [src])

    return rule


def _simple(t: str):
    return lambda b, node, ins: b.add(t, {}, node, [b.tensor(ins[0], node)])


def _clip_bounds(b: _Builder, node, ins) -> tuple[float, float]:
    if b.f.opset < 11:
        a = attrs(node)
        return float(a.get("min", -np.inf)), float(a.get("max", np.inf))
    lo = b.const(ins[1]) if len(ins) > 1 and ins[1] else np.array(-np.inf)
    hi = b.const(ins[2]) if len(ins) > 2 and ins[2] else np.array(np.inf)
    if lo is None or hi is None:
        raise _Refuse("Clip with computed bounds")
    return float(np.asarray(lo).reshape(())), float(np.asarray(hi).reshape(()))


def _clip(b: _Builder, node, ins):
    lo, hi = _clip_bounds(b, node, ins)
    x = b.env.get(ins[0])
    if isinstance(x, _P) and x.kind == "affine":
        a, c = x.data
        if (a, c) == (1, 3) and lo == 0 and hi == 6:
            return _P("relu6p3", x.node, onnx_name=node.name)
        if lo == 0 and hi == 1:
            return b.add("hardsigmoid", {"alpha": a, "beta": c}, node, [x.node])
    src = b.tensor(ins[0], node)
    if lo == 0 and hi == 6:
        return b.add("relu6", {}, node, [src])
    if lo == 0 and hi == np.inf:
        return b.add("relu", {}, node, [src])
    if lo == -np.inf and hi == np.inf:
        return _T(src)
    bounds = {"min": None if lo == -np.inf else lo, "max": None if hi == np.inf else hi}
    return b.add("clamp", bounds, node, [src])


def _hardsigmoid(b: _Builder, node, ins):
    a = attrs(node)
    alpha, beta = float(a.get("alpha", 0.2)), float(a.get("beta", 0.5))
    src = b.tensor(ins[0], node)
    spec = NODE_TYPES["hardsigmoid"]
    p: dict = {}
    if "alpha" in spec.param_index and "beta" in spec.param_index:
        p = {"alpha": alpha, "beta": beta}
        if _close(alpha, 1 / 6) and _close(beta, 0.5):
            p = {}
    elif not (_close(alpha, 1 / 6) and _close(beta, 0.5)):
        raise _Refuse(f"HardSigmoid with alpha {alpha:g} and beta {beta:g}")
    return b.add("hardsigmoid", p, node, [src])


def _merge(b: _Builder, t: str, node, srcs: list[str]) -> str:
    """An add/mul of design nodes; an inner one from the same ONNX name is folded in."""
    base = _path_of(node)
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
            raise _Refuse("Div of a constant by a tensor")
        return a / k, b / k
    if op == "Add":
        return a, b + k
    return (-a, k - b) if left else (a, b - k)  # Sub


def _scalar_step(b: _Builder, node, v, op: str, k: float, left: bool):
    """A tensor or pattern step combined with a scalar constant."""
    if isinstance(v, _P):
        one_sixth = (op == "Div" and _close(k, 6.0)) or (op == "Mul" and _close(k, 1 / 6))
        if one_sixth and not left and v.kind in ("relu6p3", "x_relu6p3"):
            return b.add("hardsigmoid" if v.kind == "relu6p3" else "hardswish", {}, node, [v.node])
        if v.kind == "erf" and op == "Add" and _close(k, 1.0):
            return _P("erf1", v.node, onnx_name=node.name)
        half = (op == "Mul" and _close(k, 0.5)) or (op == "Div" and _close(k, 2.0) and not left)
        if v.kind == "x_erf1" and half:
            return b.add("gelu", {}, node, [v.node])
        if v.kind == "erf1" and half:
            return _P("half_erf1", v.node, onnx_name=node.name)
        if v.kind == "affine":
            return _P("affine", v.node, _compose(v.data, op, k, left), node.name)
    src = b.tensor_of(v, node)
    return _P("affine", src, _compose((1.0, 0.0), op, k, left), node.name)


def _binary(b: _Builder, node, ins):
    op = node.op_type
    xs = [b.env.get(n) for n in ins]
    cs = [v if isinstance(v, np.ndarray) else None for v in xs]
    if op == "Add":
        if cs[1] is not None and isinstance(xs[0], _P) and xs[0].kind == "matmul":
            return _linear_bias(b, node, xs[0], cs[1])
        if cs[0] is not None and isinstance(xs[1], _P) and xs[1].kind == "matmul":
            return _linear_bias(b, node, xs[1], cs[0])
    for i in (0, 1):
        k = _scalar(cs[i])
        if k is not None and cs[1 - i] is None:
            return _scalar_step(b, node, xs[1 - i], op, k, left=i == 0)
    if op == "Add" and (cs[0] is None) != (cs[1] is None):
        folded = _conv_bias(
            b, node, xs[1] if cs[0] is not None else xs[0], cs[0] if cs[0] is not None else cs[1]
        )
        if folded is not None:
            return folded
    if cs[0] is not None or cs[1] is not None:
        raise _Refuse(f"{op} with a constant tensor")
    if op == "Mul":
        for i in (0, 1):
            p, other = xs[i], xs[1 - i]
            if isinstance(p, _P) and p.kind == "half_erf1":
                if b.tensor(ins[1 - i], node) == p.node:
                    return b.add("gelu", {}, node, [p.node])
            if isinstance(p, _P) and p.kind in ("relu6p3", "erf1"):
                if isinstance(other, _P) and other.kind == "affine" and p.kind == "erf1":
                    if other.node == p.node and _close(other.data[0], 0.5) and other.data[1] == 0:
                        return b.add("gelu", {}, node, [p.node])
                if b.tensor(ins[1 - i], node) == p.node:
                    kind = "x_relu6p3" if p.kind == "relu6p3" else "x_erf1"
                    return _P(kind, p.node, onnx_name=node.name)
        srcs = [b.tensor(n, node) for n in ins]
        for i in (0, 1):
            s, o = srcs[i], srcs[1 - i]
            kind = b.m.node_type(s)
            default = kind == "sigmoid" or (
                kind == "hardsigmoid"
                and _close(b.m.params(s).get("alpha", 1 / 6), 1 / 6)
                and _close(b.m.params(s).get("beta", 0.5), 0.5)
            )
            if default and b.m.inputs(s) == [o] and b.single_use(s):
                b.m.remove_node(s)
                return b.add("silu" if kind == "sigmoid" else "hardswish", {}, node, [o])
        return _merge(b, "mul", node, srcs)
    if op == "Add":
        return _merge(b, "add", node, [b.tensor(n, node) for n in ins])
    raise _Refuse(f"{op} of two tensors")


def _conv_bias(b: _Builder, node, v, c: np.ndarray):
    """A convolution without bias followed by ``Add`` of a per-channel constant (as
    PaddlePaddle writes it): the constant becomes the convolution's bias."""
    if not isinstance(v, _T) or b.m.node_type(v.node) not in ("conv", "conv1x1", "conv_transpose"):
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
    b._analysis = None
    return _T(nid)


def _erf(b: _Builder, node, ins):
    v = b.env.get(ins[0])
    if isinstance(v, _P) and v.kind == "affine" and _close(v.data[0], 1 / math.sqrt(2)):
        if v.data[1] == 0:
            return _P("erf", v.node, onnx_name=node.name)
    raise _Refuse("Erf (other than inside a GELU)")


def _linear_bias(b: _Builder, node, p: _P, bias: np.ndarray):
    w = p.data
    if bias.size != w.shape[0]:
        raise _Refuse("MatMul + Add of a bias of another size")
    params = {"out_features": int(w.shape[0]), "bias": True}
    return b.add("linear", params, node, [p.node], {"weight": w, "bias": bias.reshape(-1)})


def _matmul(b: _Builder, node, ins):
    w = b.const(ins[1])
    if w is None or w.ndim != 2:
        raise _Refuse("MatMul of two computed tensors or a weight that is not 2-D")
    src = b.tensor(ins[0], node)
    return _P("matmul", src, np.ascontiguousarray(w.T), onnx_name=node.name)


def _gemm(b: _Builder, node, ins):
    a = attrs(node)
    if int(a.get("transA", 0)):
        raise _Refuse("Gemm with transA")
    w = b.const(ins[1])
    if w is None or w.ndim != 2:
        raise _Refuse("Gemm with a computed weight")
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


def _flatten_like(b: _Builder, node, src: str, target: list[int] | None):
    shape = b.shape(src)
    if target is not None:
        n = int(np.prod(shape))
        dims = [shape[i] if v == 0 and i < len(shape) else v for i, v in enumerate(target)]
        if -1 in dims:
            known = int(np.prod([d for d in dims if d != -1])) or 1
            dims = [n // known if d == -1 else d for d in dims]
        if len(dims) != 2 or dims[0] != 1 or dims[1] != n // 1:
            raise _Refuse(f"Reshape to {list(target)} (only [N, -1], a flatten, is a node type)")
    if len(shape) == 2:
        return _T(src)  # already flat
    return b.add("flatten", {}, node, [src])


def _flatten(b: _Builder, node, ins):
    if int(attrs(node).get("axis", 1)) != 1:
        raise _Refuse("Flatten on an axis other than 1")
    return _flatten_like(b, node, b.tensor(ins[0], node), None)


def _transpose(b: _Builder, node, ins):
    perm = [int(v) for v in attrs(node).get("perm", [])]
    v = b.env.get(ins[0])
    if perm == [0, 2, 3, 1] and not isinstance(v, _P):
        return _P("nhwc", b.tensor(ins[0], node), onnx_name=node.name)
    if perm == [0, 3, 1, 2] and isinstance(v, _P) and v.kind == "ln":
        eps, scale, bias, affine = v.data
        p = {"eps": _tidy(eps), "elementwise_affine": affine}
        weights = {"weight": scale, "bias": bias} if affine else {}
        fake = onnx.helper.make_node("X", [], [], name=v.onnx_name)
        return b.add("layernorm2d", p, fake, [v.node], weights)
    if perm == [0, 2, 1, 3, 4] and isinstance(v, _P) and v.kind == "split":
        return _P("shuffled", v.node, v.data, node.name)
    raise _Refuse(f"Transpose {perm}")


def _tidy(x: float) -> float:
    """A float32 attribute as the decimal it was written as (1e-05, not 9.99999974e-06)."""
    for digits in range(1, 10):
        r = float(f"{x:.{digits}g}")
        if np.float32(r) == np.float32(x):
            return r
    return float(x)


def _layer_norm(b: _Builder, node, ins):
    v = b.env.get(ins[0])
    a = attrs(node)
    if not (isinstance(v, _P) and v.kind == "nhwc" and int(a.get("axis", -1)) in (-1, 3)):
        raise _Refuse("LayerNormalization (other than over the channels of N×C×H×W)")
    scale = b.const(ins[1])
    bias = b.const(ins[2]) if len(ins) > 2 and ins[2] else None
    if scale is None:
        raise _Refuse("LayerNormalization with a computed scale")
    bias = np.zeros_like(scale) if bias is None else bias
    affine = ins[1].endswith(".weight") or not (np.all(scale == 1) and np.all(bias == 0))
    data = (float(a.get("epsilon", 1e-5)), scale, bias, affine)
    return _P("ln", v.node, data, node.name)


def _reshape(b: _Builder, node, ins):
    target = b.const(ins[1])
    if target is None:
        raise _Refuse("Reshape to a shape computed from tensors it cannot fold")
    v = b.env.get(ins[0])
    dims = [int(d) for d in target.reshape(-1)]
    if isinstance(v, _P) and v.kind == "shuffled":
        shape = b.shape(v.node)
        if len(dims) == 4 and dims[1:] == list(shape[1:]):
            return b.add("channel_shuffle", {"groups": v.data}, node, [v.node])
    if len(dims) == 5 and not isinstance(v, _P):
        src = b.tensor(ins[0], node)
        shape = b.shape(src)
        if len(shape) == 4 and dims[1] * dims[2] == shape[1] and dims[3:] == list(shape[2:]):
            return _P("split", src, dims[1], node.name)
    return _flatten_like(b, node, b.tensor(ins[0], node), [int(v) for v in target.reshape(-1)])


def _squeeze(b: _Builder, node, ins):
    src = b.tensor(ins[0], node)
    shape = b.shape(src)
    if len(shape) == 4 and shape[2:] == (1, 1):
        return b.add("flatten", {}, node, [src])
    raise _Refuse(f"Squeeze of a {'×'.join(map(str, shape[1:]))} tensor")


def _reduce_mean(b: _Builder, node, ins):
    a = attrs(node)
    axes = a.get("axes")
    if len(ins) > 1 and ins[1]:
        c = b.const(ins[1])
        axes = None if c is None else [int(v) for v in c.reshape(-1)]
    if axes is None or {int(v) % 4 for v in axes} != {2, 3}:
        raise _Refuse(f"ReduceMean over axes {axes} (only H and W)")
    src = b.tensor(ins[0], node)
    if int(a.get("keepdims", 1)):
        return b.add("global_avgpool", {}, node, [src])
    inner = onnx.helper.make_node("X", [], [], name=f"{node.name}/gap")
    gap = b.add("global_avgpool", {}, inner, [src])
    return b.add("flatten", {}, node, [gap])


def _concat(b: _Builder, node, ins):
    srcs = [b.tensor(n, node) for n in ins]
    rank = len(b.shape(srcs[0]))
    axis = int(attrs(node)["axis"]) % rank
    if axis != 1:
        raise _Refuse(f"Concat along axis {axis} (the design concatenates channels)")
    if len(srcs) == 1:
        return _T(srcs[0])
    return b.add("concat", {}, node, srcs)


def _dropout(b: _Builder, node, ins):
    ratio = b.const(ins[1]) if len(ins) > 1 and ins[1] else None
    p = float(attrs(node).get("ratio", 0.5)) if ratio is None else float(ratio.reshape(()))
    p = round(p, 6) if abs(p - round(p, 6)) < 1e-7 else p
    return b.add("dropout", {"p": p}, node, [b.tensor(ins[0], node)])


def _pad_folds(b: _Builder, p: _P, conv: onnx.NodeProto) -> bool:
    """Whether a zero ``Pad`` is the convolution's own padding: in a ConvCanvas file only
    when both carry the same name (an uneven "same"), in other files always."""
    if p.data[4] != "constant" or p.data[5] != 0 or b.users.get(p.data[6], 2) != 1:
        return False
    return not b.convcanvas or _path_of_text(p.onnx_name) == _path_of(conv)


def _path_of_text(name: str) -> str:
    comps = [c for c in name.split("/") if c]
    return _path_of(onnx.helper.make_node(comps[-1] if comps else "X", [], [], name=name))


_PAD_MODES = {"constant": "constant", "reflect": "reflect", "edge": "replicate"}


def _pad(b: _Builder, node, ins):
    a = attrs(node)
    mode = a.get("mode", b"constant")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    pads = b.const(ins[1]) if len(ins) > 1 else None
    pads = np.asarray(a["pads"]) if pads is None and "pads" in a else pads
    value = b.const(ins[2]) if len(ins) > 2 and ins[2] else np.zeros(1)
    if mode not in _PAD_MODES or pads is None or value is None or value.size != 1:
        raise _Refuse(f"Pad in {mode} mode or with a computed amount")
    pads = [int(v) for v in pads.reshape(-1)]
    if len(pads) != 8 or any(pads[i] for i in (0, 1, 4, 5)) or min(pads) < 0:
        raise _Refuse(f"Pad of {pads} (only H and W)")
    data = (pads[2], pads[3], pads[6], pads[7], _PAD_MODES[mode], float(value.reshape(-1)[0]))
    return _P("pad", b.tensor(ins[0], node), (*data, node.output[0]), node.name)


def _softmax(b: _Builder, node, ins):
    if "softmax" not in NODE_TYPES:
        raise _Refuse("Softmax")
    src = b.tensor(ins[0], node)
    rank = len(b.shape(src))
    default = -1 if b.f.opset >= 13 else 1
    axis = int(attrs(node).get("axis", default)) % rank
    if axis == 1 and (rank == 2 or b.f.opset >= 13):
        return b.add("softmax", {}, node, [src])  # over channels or features
    raise _Refuse(f"Softmax on axis {axis} of a rank-{rank} tensor (only the channels)")


def _resize(b: _Builder, node, ins):
    spec = NODE_TYPES.get("upsample")
    if spec is None:
        raise _Refuse("Resize")
    a = attrs(node)
    src = b.tensor(ins[0], node)
    mode = a.get("mode", b"nearest")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    shape = b.shape(src)
    scales = b.const(ins[2]) if len(ins) > 2 and ins[2] else None
    sizes = b.const(ins[3]) if len(ins) > 3 and ins[3] else None
    if scales is not None and scales.size == 4:
        factor = [float(scales[2]), float(scales[3])]
    elif sizes is not None and sizes.size == 4:
        factor = [sizes[2] / shape[2], sizes[3] / shape[3]]
    else:
        raise _Refuse("Resize without constant scales or sizes")
    if any(f != int(f) or f < 1 for f in factor):
        raise _Refuse(f"Resize by {factor} (only whole factors)")
    p: dict = {"scale_factor": _pair([int(f) for f in factor])}
    if "mode" in spec.param_index:
        p["mode"] = "nearest" if mode == "nearest" else "bilinear"
    return b.add("upsample", p, node, [src])


def _identity(b: _Builder, node, ins):
    """A design's identity node in ConvCanvas files; elsewhere (and for helpers of
    another node, ``name/Identity``) the value passes on."""
    v = b.env.get(ins[0])
    if isinstance(v, _P) or not b.convcanvas or "/" in (node.name or ""):
        return v if isinstance(v, _P) else _T(b.tensor(ins[0], node))
    return b.add("identity", {}, node, [b.tensor(ins[0], node)])


def _alpha(t: str, param: str, default: float):
    def rule(b: _Builder, node, ins):
        value = float(np.float32(attrs(node).get("alpha", default)))
        value = round(value, 6) if abs(value - round(value, 6)) < 1e-7 else value
        return b.add(t, {param: value}, node, [b.tensor(ins[0], node)])

    return rule


def _prelu(b: _Builder, node, ins):
    src = b.tensor(ins[0], node)
    slope = b.const(ins[1])
    if slope is None or "prelu" not in NODE_TYPES:
        raise _Refuse("PRelu with a computed slope")
    n = int(slope.size)
    if slope.shape not in ((n,), (n, 1, 1), (1, n, 1, 1), ()) or (n > 1 and slope.ndim == 1):
        raise _Refuse(f"PRelu with a slope of shape {list(slope.shape)}")
    weights = {"weight": np.asarray(slope, np.float32).reshape(-1)}
    return b.add("prelu", {"num_parameters": n}, node, [src], weights)


def _gelu(b: _Builder, node, ins):
    approx = attrs(node).get("approximate", b"none")
    approx = approx.decode() if isinstance(approx, bytes) else approx
    return b.add("gelu", {"approximate": approx}, node, [b.tensor(ins[0], node)])


def _slice(b: _Builder, node, ins):
    src = b.tensor(ins[0], node)
    shape = b.shape(src)
    starts, ends = b.const(ins[1]), b.const(ins[2]) if len(ins) > 2 else None
    axes = b.const(ins[3]) if len(ins) > 3 and ins[3] else np.arange(len(shape))
    steps = b.const(ins[4]) if len(ins) > 4 and ins[4] else np.ones(1, np.int64)
    if starts is None or ends is None or axes is None or steps is None:
        raise _Refuse("Slice with computed bounds")
    axes = [int(v) % len(shape) for v in axes.reshape(-1)]
    if axes != [1] or int(steps.reshape(-1)[0]) != 1 or len(shape) != 4:
        raise _Refuse(f"Slice along axes {axes} (only channels, step 1)")
    c = shape[1]
    start, stop = int(starts.reshape(-1)[0]), int(ends.reshape(-1)[0])
    start = max(0, min(c, start + c if start < 0 else start))
    stop = max(0, min(c, stop + c if stop < 0 else stop))
    return b.add(
        "channel_slice", {"start": start, "stop": None if stop >= c else stop}, node, [src]
    )


_OP_NAMES = {
    "Conv", "ConvTranspose", "BatchNormalization", "Relu", "Add", "Mul", "Div", "Sub", "Clip",
    "MaxPool", "AveragePool", "GlobalAveragePool", "Concat", "Reshape", "Flatten", "Gemm",
    "MatMul", "Sigmoid", "HardSigmoid", "HardSwish", "Resize", "Softmax", "Transpose",
    "Identity", "Dropout", "Pad", "Slice", "Squeeze", "ReduceMean", "Erf", "Tanh",
}  # fmt: skip

_FOLDABLE = {"Constant", "Shape", "Cast", "CastLike", "Gather", "Slice", "Unsqueeze", "Sub"}

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
    "Clip": _clip,
    "Add": _binary,
    "Mul": _binary,
    "Div": _binary,
    "MatMul": _matmul,
    "Gemm": _gemm,
    "Flatten": _flatten,
    "Reshape": _reshape,
    "Squeeze": _squeeze,
    "ReduceMean": _reduce_mean,
    "Concat": _concat,
    "Identity": _identity,
    "Transpose": _transpose,
    "LayerNormalization": _layer_norm,
    "Erf": _erf,
    "Gelu": _gelu,
    "PRelu": _prelu,
    "Elu": _alpha("elu", "alpha", 1.0),
    "LeakyRelu": _alpha("leaky_relu", "negative_slope", 0.01),
    "Mish": _simple("mish"),
    "Tanh": _simple("tanh"),
    "Slice": _slice,
    "Sub": _binary,
    "Dropout": _dropout,
    "Pad": _pad,
    "Softmax": _softmax,
    "Resize": _resize,
}


# --------------------------------------------------------------------------- import
def _constant(f: OnnxFile, node: onnx.NodeProto, folder) -> np.ndarray:
    for a in node.attribute:
        if a.type == onnx.AttributeProto.TENSOR:
            return to_array(a.t, folder)
        if a.name in ("value_float", "value_floats"):
            return np.asarray(onnx.helper.get_attribute_value(a), dtype=np.float32)
        if a.name in ("value_int", "value_ints"):
            return np.asarray(onnx.helper.get_attribute_value(a), dtype=np.int64)
    raise _Refuse("Constant of a kind other than a tensor or numbers")


def _input_size(f: OnnxFile, vi: onnx.ValueInfoProto, given) -> tuple[int, int, int]:
    t = vi.type.tensor_type
    dims = [
        d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None for d in t.shape.dim
    ]
    if len(dims) != 4:
        raise OnnxImportError(
            f"input '{vi.name}' has {len(dims)} dimensions; ConvCanvas inputs are N×C×H×W"
        )
    if given is not None:
        return tuple(int(v) for v in given)
    if any(d is None for d in dims[1:]):
        shown = "×".join("?" if d is None else str(d) for d in dims[1:])
        raise OnnxImportError(
            f"input '{vi.name}' is {shown} with open sizes: give the input size with "
            "--input CxHxW (e.g. --input 3x224x224)"
        )
    return int(dims[1]), int(dims[2]), int(dims[3])


def _live(g: onnx.GraphProto) -> list[onnx.NodeProto]:
    producer = {o: n for n in g.node for o in n.output}
    seen: set[int] = set()
    stack = [producer[o.name] for o in g.output if o.name in producer]
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        stack.extend(producer[i] for i in n.input if i in producer)
    return [n for n in g.node if id(n) in seen]


def import_onnx(
    path, input_size: tuple[int, int, int] | None = None, name: str = ""
) -> ImportedOnnx:
    """Read an ONNX file and convert it into a design with its weights.

    Parameters
    ----------
    path : str or PathLike
        The ``.onnx`` file.
    input_size : (C, H, W), optional
        The size of every input; required when the file leaves C, H or W open.
    name : str
        The design's name (default: the graph's name, else the file name).

    Returns
    -------
    ImportedOnnx

    Raises
    ------
    OnnxReadError
        The file cannot be read safely (exit 2).
    OnnxUnsupported
        Operations without a node type, one line per distinct operation.
    OnnxImportError
        The graph cannot be a design (open input sizes without ``input_size``, sizes
        that do not fit, outputs that are not the last layers).
    """
    from pathlib import Path

    f = read_model(path)
    g = f.graph
    b = _Builder(f, input_size, name or g.name or Path(path).stem)
    folder = b.folder
    if f.model.functions:
        raise OnnxUnsupported([f"unsupported: model-local functions ({len(f.model.functions)})"])
    nodes = _live(g)
    for n in nodes:
        for i in n.input:
            b.users[i] = b.users.get(i, 0) + 1
    for o in g.output:
        b.users[o.name] = b.users.get(o.name, 0) + 1
    for vi in g.input:
        if vi.name in f.tensors:
            continue
        c, h, w = _input_size(f, vi, input_size)
        nid = b.m.unique_id(re.sub(r"\W", "_", vi.name) or "input")
        b.m.add_node("input", {"channels": c, "height": h, "width": w}, nid)
        b.env[vi.name] = _T(nid)
    problems: dict[str, list[str]] = {}
    for node in nodes:
        label = node.name or (node.output[0] if node.output else node.op_type)
        try:
            if node.domain not in ("", "ai.onnx"):
                raise _Refuse(f"{node.op_type} (domain {node.domain})")
            if any(
                a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)
                for a in node.attribute
            ):
                raise _Refuse(f"{node.op_type} with a subgraph")
            values = [b.env.get(i) if i else None for i in node.input]
            if any(v is _BAD for v in values):
                if node.op_type not in RULES and node.op_type not in _FOLDABLE:
                    raise _Refuse(node.op_type)
                raise _Skip
            if node.op_type == "Constant":
                outs = [_constant(f, node, folder)]
            elif node.op_type == "Shape" and isinstance(values[0], (_T, _P)):
                shape = np.array(b.shape(b.tensor(node.input[0], node)), dtype=np.int64)
                a = attrs(node)
                outs = [shape[a.get("start", 0) : a.get("end", None)]]
            elif node.input and all(v is None or isinstance(v, np.ndarray) for v in values):
                outs = fold(node, values)
            elif node.op_type in RULES:
                r = RULES[node.op_type](b, node, list(node.input))
                if isinstance(r, str):
                    b.out_value[r] = node.output[0]
                    r = _T(r)
                outs = [r]
            else:
                raise _Refuse(node.op_type)
        except _Refuse as exc:
            problems.setdefault(str(exc), []).append(label)
            outs = [_BAD] * len(node.output)
        except NotFoldable as exc:
            problems.setdefault(f"{node.op_type} (cannot fold {exc})", []).append(label)
            outs = [_BAD] * len(node.output)
        except _Skip:
            outs = [_BAD] * len(node.output)
        for o, v in zip(node.output, outs):
            if o:
                b.env[o] = v
    if problems:
        items = []
        for op, where in problems.items():
            more = f" and {len(where) - 1} more place(s)" if len(where) > 1 else ""
            items.append(f"unsupported: {op} in node '{where[0]}'{more}")
        raise OnnxUnsupported(items)
    return _finish(b, g)


def _finish(b: _Builder, g: onnx.GraphProto) -> ImportedOnnx:
    from engine.blocks.hierarchy import blocks_from_scopes
    from engine.blocks.layout import apply_block_layout
    from engine.codegen.targets import module_targets
    from engine.core.layout import layered_layout

    out_ids = []
    for o in g.output:
        v = b.env.get(o.name)
        if isinstance(v, _P):
            try:
                v = _T(b.settle(v, onnx.helper.make_node("X", [], [], name=v.onnx_name)))
            except _Refuse as exc:
                raise OnnxUnsupported([f"unsupported: {exc} at output '{o.name}'"]) from None
        if not isinstance(v, _T):
            raise OnnxImportError(f"output '{o.name}' is a constant, not computed from the input")
        out_ids.append(v.node)
    m = b.m
    sinks = [v for v in m.nodes if not m.graph.out_degree(v)]
    if len(set(out_ids)) != len(out_ids) or set(out_ids) != set(sinks):
        extra = [v for v in out_ids if m.graph.out_degree(v)]
        raise OnnxImportError(
            "the file returns "
            + (f"'{extra[0]}', which also feeds other layers" if extra else "the same value twice")
            + ": a design returns exactly its last layers (the nodes nothing else reads)"
        )
    a = analyze(m)
    if not a.ok:
        lines = "\n".join(f"  - {msg}" for _, msg in a.errors[:20])
        raise OnnxImportError(
            "the imported design does not fit its input size (give the size the model was "
            f"made for with --input CxHxW):\n{lines}"
        )
    for nid, w in b.weights.items():
        _check_weights(m, a, nid, w)
    targets = module_targets(m)
    state = {}
    for nid, w in b.weights.items():
        for k, v in w.items():
            v = np.array(v, order="C")  # 0-d stays 0-d (num_batches_tracked)
            if v.dtype != np.int64:
                v = v.astype(np.float32, copy=False)
            state[f"{targets[nid]}.{k}"] = v
    m.set_positions(layered_layout(m))
    if blocks_from_scopes(m):
        apply_block_layout(m)
    return ImportedOnnx(m, state, b.f.opset, b.f.model.producer_name)


def _check_weights(m: GraphModel, a, nid: str, w: dict) -> None:
    t = m.node_type(nid)
    src = a.inputs[nid][0]
    have = a[src].shape[0]
    p = m.params(nid)
    if t in ("conv", "conv1x1"):
        need = w["weight"].shape[1] * p["groups"]
    elif t == "conv_transpose":
        need = w["weight"].shape[0]
    elif t == "linear":
        need = w["weight"].shape[1]
    elif t == "batchnorm":
        need = w["running_mean"].shape[0]
    else:
        return
    if need != have:
        raise OnnxImportError(
            f"'{nid}' expects {need} input channels or features but gets {have} with this "
            "input size; give the size the model was made for (--input CxHxW)"
        )
