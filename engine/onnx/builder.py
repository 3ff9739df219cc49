"""The design an ONNX import builds, and the values its graph walk passes along.

Every ONNX value the walk has seen is a numpy array (a constant or a folded shape), a
:class:`Computed` tensor (the value of a design node), a :class:`Pending` step of a pattern
(several ONNX nodes that make one node type, see :mod:`engine.onnx.patterns`) or
:data:`BAD` (the value of a refused node). :class:`Builder` adds the design nodes: ids and
scopes come from the ONNX node names (``layer1.0.conv1`` → ``layer1_0_conv1`` in scope
``layer1.0``; ``/layer1/layer1.0/conv1/Conv`` likewise). Also the small number helpers the
rules share. No torch import.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import onnx

from engine.analysis.analyzer import analyze
from engine.core.errors import EngineError
from engine.core.graph import GraphModel
from engine.onnx.errors import OnnxImportError
from engine.onnx.reader import OnnxFile


class Refuse(Exception):
    """This node's operation has no node type (the text names it)."""


class Skip(Exception):
    """An input comes from a refused node (that node is already reported)."""


BAD = object()  # the value of a refused node


@dataclass
class Computed:
    """A tensor computed by design node ``node``."""

    node: str


@dataclass
class Pending:
    """A step of a pattern: ``kind`` over design node ``node`` (not a design node yet)."""

    kind: str  # plus3, relu6p3, x_relu6p3, matmul, pad
    node: str
    data: object = None
    onnx_name: str = ""


# ONNX operator names: "p2o.Conv.12" is an exporter's counter, not a module hierarchy.
OP_NAMES = {
    "Conv", "ConvTranspose", "BatchNormalization", "Relu", "Add", "Mul", "Div", "Sub", "Clip",
    "MaxPool", "AveragePool", "GlobalAveragePool", "Concat", "Reshape", "Flatten", "Gemm",
    "MatMul", "Sigmoid", "HardSigmoid", "HardSwish", "Resize", "Softmax", "Transpose",
    "Identity", "Dropout", "Pad", "Slice", "Squeeze", "ReduceMean", "Erf", "Tanh",
}  # fmt: skip


def path_of(node: onnx.NodeProto) -> str:
    """A module path from a node name: ``/a/a.0/conv/Conv`` → ``a.0.conv``."""
    name = node.name or (node.output[0] if node.output else "")
    comps = [c for c in name.split("/") if c]
    if len(comps) > 1 and re.fullmatch(rf"{re.escape(node.op_type)}(_\d+)?", comps[-1]):
        comps = comps[:-1]
    path = ""
    for c in comps:
        path = c if not path or c.startswith(path + ".") else f"{path}.{c}"
    return path


def path_of_text(name: str) -> str:
    """:func:`path_of` of a node name alone (its last part taken as the operator)."""
    comps = [c for c in name.split("/") if c]
    return path_of(onnx.helper.make_node(comps[-1] if comps else "X", [], [], name=name))


def named(op_type: str, name: str) -> onnx.NodeProto:
    """An empty node of ``op_type`` named ``name``: the name a design node takes."""
    return onnx.helper.make_node(op_type, [], [], name=name)


class Builder:
    """The design being built, the ONNX values known so far and the weights by node."""

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
        self.notes: list[str] = []
        props = {p.key for p in f.model.metadata_props}
        self.convcanvas = "convcanvas.design" in props  # a file ConvCanvas exported
        self._analysis = None
        self.problems: dict[str, list[str]] = {}

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

    def changed(self) -> None:
        """The design was edited in place: shapes are analysed again when next asked."""
        self._analysis = None

    def add(self, t: str, params: dict, node: onnx.NodeProto, srcs, weights=None) -> str:
        """Add a node of type ``t`` named after ``node``, reading ``srcs``; its id."""
        path = path_of(node)
        nid = self.m.unique_id(path.replace(".", "_") or t)
        scope = path.rpartition(".")[0] or None if "." in path else None
        if scope is not None and not all(p.isidentifier() or p.isdigit() for p in scope.split(".")):
            scope = None
        parts = path.split(".")
        if len(parts) >= 2 and parts[-1].isdigit() and parts[-2] in OP_NAMES:
            scope = None  # "p2o.Conv.12": an exporter's counter, not a module hierarchy
        try:
            self.m.add_node(t, params, nid, scope=scope)
        except EngineError as exc:
            raise Refuse(f"{node.op_type} ({exc.message})") from None
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
        """The constant array of ONNX value ``name`` (``None``: computed or absent)."""
        if name == "":
            return None
        v = self.env.get(name)
        return v if isinstance(v, np.ndarray) else None

    def tensor(self, name: str, node: onnx.NodeProto) -> str:
        """The design node holding ONNX value ``name``, read by ``node``."""
        return self.tensor_of(self.env.get(name), node, name)

    def tensor_of(self, v, node: onnx.NodeProto, name: str = "?") -> str:
        """The design node holding value ``v`` (a pending pattern settled alone)."""
        if isinstance(v, Computed):
            return v.node
        if isinstance(v, Pending):
            return self.settle(v, node)
        if isinstance(v, np.ndarray):
            raise Refuse(f"{node.op_type} of a constant tensor")
        if v is BAD:
            raise Skip
        raise OnnxImportError(f"node '{node.name}' reads '{name}', which nothing computes")

    def settle(self, p: Pending, node: onnx.NodeProto) -> str:
        """Turn a pending pattern into design nodes where it stands alone."""
        if p.kind == "matmul":
            w = p.data
            params = {"out_features": int(w.shape[0]), "bias": False}
            return self.add("linear", params, named("MatMul", p.onnx_name), [p.node], {"weight": w})
        if p.kind == "affine":
            scale, shift = p.data
            if scale == 1 and shift == 0:
                return p.node
            params = {"scale": scale, "shift": shift}
            return self.add("scale_shift", params, named("Mul", p.onnx_name), [p.node])
        if p.kind == "pad":
            top, left, bottom, right, mode, value, _out = p.data
            params = {"left": left, "right": right, "top": top, "bottom": bottom}
            params |= {"mode": mode, "value": value}
            return self.add("pad", params, named("Pad", p.onnx_name), [p.node])
        what = "GELU" if "erf" in p.kind else "GRN" if p.kind.startswith("grn") else "hardswish"
        raise Refuse(f"part of a {what} pattern used elsewhere")


# --------------------------------------------------------------------------- numbers
def scalar(a: np.ndarray | None) -> float | None:
    """The one number of ``a`` (``None``: absent or not a single element)."""
    if a is None or a.size != 1:
        return None
    return float(a.reshape(()))


def close(a: float | None, b: float) -> bool:
    """Whether ``a`` is ``b`` up to float32 rounding."""
    return a is not None and math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-7)


def pair(v) -> int | list[int]:
    """An int-or-pair parameter from two numbers: an int when both agree."""
    h, w = int(v[0]), int(v[1])
    return h if h == w else [h, w]


def tidy(x: float) -> float:
    """A float32 attribute as the decimal it was written as (1e-05, not 9.99999974e-06)."""
    for digits in range(1, 10):
        r = float(f"{x:.{digits}g}")
        if np.float32(r) == np.float32(x):
            return r
    return float(x)


def decoded(v):
    """A string attribute as ``str`` (ONNX gives ``bytes``); other values as they are."""
    return v.decode() if isinstance(v, bytes) else v
