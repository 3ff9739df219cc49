"""Constant folding for ONNX graphs: shape arithmetic and constant subgraphs, in numpy.

:func:`fold` computes one node whose inputs are all known arrays. It covers the
operations exporters use to compute shapes and constants (``Shape → Gather/Slice →
Concat → Reshape``, casts, arithmetic, ``ConstantOfShape``…). Results larger than
:data:`MAX_FOLD_ELEMENTS` are refused, so a file cannot make the import allocate much.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

MAX_FOLD_ELEMENTS = 1 << 24


class NotFoldable(Exception):
    """The operation is not one the folder computes (the text says why)."""


def attrs(node: onnx.NodeProto) -> dict:
    """The node's attributes as Python values (tensors as numpy arrays)."""
    out = {}
    for a in node.attribute:
        if a.type == onnx.AttributeProto.TENSOR:
            out[a.name] = a.t  # read through reader.to_array (checked) by the caller
        else:
            out[a.name] = helper.get_attribute_value(a)
    return out


def _dtype(to: int) -> np.dtype:
    try:
        return np.dtype(helper.tensor_dtype_to_np_dtype(to))
    except (KeyError, TypeError, ValueError):
        raise NotFoldable(f"Cast to type {to}") from None


def _check(a: np.ndarray) -> np.ndarray:
    if a.size > MAX_FOLD_ELEMENTS:
        raise NotFoldable(f"a constant of {a.size:,} elements (limit {MAX_FOLD_ELEMENTS:,})")
    return a


def _axes(node_attrs: dict, inputs: list, index: int) -> list[int] | None:
    if len(inputs) > index and inputs[index] is not None:
        return [int(v) for v in np.asarray(inputs[index]).reshape(-1)]
    if "axes" in node_attrs:
        return [int(v) for v in node_attrs["axes"]]
    return None


def _slice(x, inputs, a):
    if len(inputs) > 1:
        starts = np.asarray(inputs[1]).reshape(-1)
        ends = np.asarray(inputs[2]).reshape(-1)
        axes = inputs[3] if len(inputs) > 3 and inputs[3] is not None else range(len(starts))
        steps = inputs[4] if len(inputs) > 4 and inputs[4] is not None else [1] * len(starts)
    else:
        starts, ends = a["starts"], a["ends"]
        axes = a.get("axes", range(len(starts)))
        steps = [1] * len(starts)
    index = [slice(None)] * x.ndim
    for s, e, ax, st in zip(starts, ends, np.asarray(axes).reshape(-1), np.asarray(steps)):
        big = 1 << 62
        s, e = int(max(min(s, big), -big)), int(max(min(e, big), -big))
        index[int(ax)] = slice(s, e, int(st))
    return x[tuple(index)]


def fold(node: onnx.NodeProto, inputs: list, shape_of=None) -> list[np.ndarray]:
    """Compute ``node`` on known inputs.

    Parameters
    ----------
    node : onnx.NodeProto
    inputs : list
        One numpy array per input (``None`` for an omitted optional input).
    shape_of : callable, optional
        Unused here; ``Shape`` of a non-constant tensor is the caller's business.

    Returns
    -------
    list of numpy.ndarray
        One per output.

    Raises
    ------
    NotFoldable
        If the operation is not covered or its result is too large.
    """
    op = node.op_type
    a = attrs(node)
    x = inputs[0] if inputs else None
    if op == "Identity":
        return [x]
    if op == "Cast":
        return [np.asarray(x).astype(_dtype(int(a["to"])))]
    if op == "CastLike":
        return [np.asarray(x).astype(np.asarray(inputs[1]).dtype)]
    if op == "Shape":
        shape = np.array(np.asarray(x).shape, dtype=np.int64)
        return [shape[a.get("start", 0) : a.get("end", None)]]
    if op == "Size":
        return [np.array(np.asarray(x).size, dtype=np.int64)]
    if op == "Gather":
        return [np.take(x, np.asarray(inputs[1]).astype(np.int64), axis=int(a.get("axis", 0)))]
    if op == "Slice":
        return [_slice(np.asarray(x), inputs, a)]
    if op == "Concat":
        return [np.concatenate([np.asarray(v) for v in inputs], axis=int(a["axis"]))]
    if op == "Unsqueeze":
        out = np.asarray(x)
        axes = _axes(a, inputs, 1) or []
        rank = out.ndim + len(axes)
        for ax in sorted(v % rank for v in axes):
            out = np.expand_dims(out, ax)
        return [out]
    if op == "Squeeze":
        axes = _axes(a, inputs, 1)
        return [np.squeeze(x, axis=None if axes is None else tuple(axes))]
    if op == "Reshape":
        shape = [int(v) for v in np.asarray(inputs[1]).reshape(-1)]
        shape = [x.shape[i] if v == 0 else v for i, v in enumerate(shape)]
        return [np.reshape(x, shape)]
    if op == "Transpose":
        return [np.transpose(x, a.get("perm"))]
    if op == "Expand":
        shape = tuple(int(v) for v in np.asarray(inputs[1]).reshape(-1))
        return [_check(np.broadcast_to(x, np.broadcast_shapes(np.shape(x), shape)).copy())]
    if op == "ConstantOfShape":
        shape = [int(v) for v in np.asarray(x).reshape(-1)]
        if any(v < 0 for v in shape) or int(np.prod(shape, dtype=object)) > MAX_FOLD_ELEMENTS:
            raise NotFoldable(f"ConstantOfShape of {shape}")
        value = numpy_helper.to_array(a["value"]) if "value" in a else np.zeros(1, np.float32)
        return [np.full(shape, value.reshape(-1)[0], dtype=value.dtype)]
    if op == "Range":
        start, limit, delta = (np.asarray(v).reshape(()) for v in inputs[:3])
        if delta == 0 or abs((limit - start) / delta) > MAX_FOLD_ELEMENTS:
            raise NotFoldable("Range with too many elements")
        return [np.arange(start, limit, delta, dtype=np.asarray(start).dtype)]
    binary = {
        "Add": np.add,
        "Sub": np.subtract,
        "Mul": np.multiply,
        "Max": np.maximum,
        "Min": np.minimum,
        "Equal": np.equal,
        "Less": np.less,
        "Greater": np.greater,
        "Pow": np.power,
    }
    if op in binary:
        out = np.asarray(inputs[0])
        for v in inputs[1:]:
            out = binary[op](out, np.asarray(v))
        return [_check(np.asarray(out, dtype=out.dtype))]
    if op == "Div":
        n, d = np.asarray(inputs[0]), np.asarray(inputs[1])
        if np.issubdtype(n.dtype, np.integer):
            return [np.asarray(np.trunc(n / d), dtype=n.dtype)]  # ONNX truncates
        return [np.asarray(n / d, dtype=n.dtype)]
    unary = {
        "Neg": np.negative,
        "Abs": np.abs,
        "Floor": np.floor,
        "Ceil": np.ceil,
        "Sqrt": np.sqrt,
        "Sign": np.sign,
        "Not": np.logical_not,
        "Reciprocal": np.reciprocal,
        "Relu": lambda v: np.maximum(v, 0),
    }
    if op in unary:
        return [np.asarray(unary[op](np.asarray(x)), dtype=np.asarray(x).dtype)]
    if op == "Where":
        return [np.where(inputs[0], inputs[1], inputs[2])]
    if op in ("ReduceProd", "ReduceSum", "ReduceMax", "ReduceMin"):
        axes = _axes(a, inputs, 1)
        fn = {"ReduceProd": np.prod, "ReduceSum": np.sum, "ReduceMax": np.max}.get(op, np.min)
        keep = bool(a.get("keepdims", 1))
        return [np.asarray(fn(x, axis=None if not axes else tuple(axes), keepdims=keep))]
    raise NotFoldable(op)
