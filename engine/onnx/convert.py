"""ONNX graph → design: the graph walk, the outputs, the weights by target.

:func:`import_onnx` walks the graph in order. A node whose inputs are all known arrays is
folded (:mod:`engine.onnx.fold`; ``Shape`` of a tensor gives the concrete shape for the
``--input`` size), so shape arithmetic and constant subgraphs disappear. Every other node
maps to a design node by a rule of :mod:`engine.onnx.layers` (one operation, one node
type) or is a step of a pattern that other frameworks write (:mod:`engine.onnx.patterns`);
ids and scopes come from the node names (:mod:`engine.onnx.builder`).

Anything else is refused, one line per distinct operation with the node names. No torch
import.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import onnx

from engine.analysis.analyzer import analyze
from engine.analysis.outputs import outputs_problem
from engine.core.graph import GraphModel
from engine.onnx import layers, patterns
from engine.onnx.builder import BAD, Builder, Computed, Pending, Refuse, Skip, named
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
    producer : str
        The program that wrote the file.
    notes : list of str
        What the user should know about the import (an input size that differs from
        the one the file declares).
    """

    model: GraphModel
    state: dict
    opset: int
    producer: str = ""
    notes: list = field(default_factory=list)


_FOLDABLE = {"Constant", "Shape", "Cast", "CastLike", "Gather", "Slice", "Unsqueeze", "Sub"}

RULES = layers.RULES | patterns.RULES


def _constant(f: OnnxFile, node: onnx.NodeProto, folder) -> np.ndarray:
    for a in node.attribute:
        if a.type == onnx.AttributeProto.TENSOR:
            return to_array(a.t, folder)
        if a.name in ("value_float", "value_floats"):
            return np.asarray(onnx.helper.get_attribute_value(a), dtype=np.float32)
        if a.name in ("value_int", "value_ints"):
            return np.asarray(onnx.helper.get_attribute_value(a), dtype=np.int64)
    raise Refuse("Constant of a kind other than a tensor or numbers")


def _dims(vi: onnx.ValueInfoProto) -> list[int | None]:
    """The sizes an input declares (``None`` where open)."""
    return [
        d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None
        for d in vi.type.tensor_type.shape.dim
    ]


def _input_size(f: OnnxFile, vi: onnx.ValueInfoProto, given) -> tuple[int, int, int]:
    dims = _dims(vi)
    if len(dims) != 4:
        raise OnnxImportError(
            f"input '{vi.name}' has {len(dims)} dimensions; ConvCanvas inputs are N×C×H×W"
        )
    if given is not None:
        return tuple(int(v) for v in given)  # (a size that differs is noted by the caller)
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
    b = Builder(f, input_size, name or g.name or Path(path).stem)
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
        declared = tuple(_dims(vi)[1:4])  # the C, H, W the file declares
        if input_size is not None and None not in declared and declared != (c, h, w):
            b.notes.append(
                f"input '{vi.name}' is declared {'×'.join(map(str, declared))} in the file; "
                f"imported at the given {c}×{h}×{w}"
            )
        nid = b.m.unique_id(re.sub(r"\W", "_", vi.name) or "input")
        b.m.add_node("input", {"channels": c, "height": h, "width": w}, nid)
        b.env[vi.name] = Computed(nid)
    problems: dict[str, list[str]] = {}
    for node in nodes:
        label = node.name or (node.output[0] if node.output else node.op_type)
        try:
            if node.domain not in ("", "ai.onnx"):
                raise Refuse(f"{node.op_type} (domain {node.domain})")
            if any(
                a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS)
                for a in node.attribute
            ):
                raise Refuse(f"{node.op_type} with a subgraph")
            values = [b.env.get(i) if i else None for i in node.input]
            if any(v is BAD for v in values):
                if node.op_type not in RULES and node.op_type not in _FOLDABLE:
                    raise Refuse(node.op_type)
                raise Skip
            if node.op_type == "Constant":
                outs = [_constant(f, node, folder)]
            elif node.op_type == "Shape" and isinstance(values[0], (Computed, Pending)):
                shape = np.array(b.shape(b.tensor(node.input[0], node)), dtype=np.int64)
                a = attrs(node)
                outs = [shape[a.get("start", 0) : a.get("end", None)]]
            elif node.input and all(v is None or isinstance(v, np.ndarray) for v in values):
                outs = fold(node, values)
            elif node.op_type in RULES:
                r = RULES[node.op_type](b, node, list(node.input))
                if isinstance(r, str):
                    b.out_value[r] = node.output[0]
                    r = Computed(r)
                outs = [r]
            else:
                raise Refuse(node.op_type)
        except Refuse as exc:
            problems.setdefault(str(exc), []).append(label)
            outs = [BAD] * len(node.output)
        except NotFoldable as exc:
            problems.setdefault(f"{node.op_type} (cannot fold {exc})", []).append(label)
            outs = [BAD] * len(node.output)
        except Skip:
            outs = [BAD] * len(node.output)
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


def _finish(b: Builder, g: onnx.GraphProto) -> ImportedOnnx:
    from engine.blocks.hierarchy import blocks_from_scopes
    from engine.blocks.layout import apply_block_layout
    from engine.codegen.targets import module_targets
    from engine.core.layout import layered_layout

    out_ids = []
    for o in g.output:
        v = b.env.get(o.name)
        if isinstance(v, Pending):
            try:
                v = Computed(b.settle(v, named("X", v.onnx_name)))
            except Refuse as exc:
                raise OnnxUnsupported([f"unsupported: {exc} at output '{o.name}'"]) from None
        if not isinstance(v, Computed):
            raise OnnxImportError(f"output '{o.name}' is a constant, not computed from the input")
        out_ids.append(v.node)
    m = b.m
    problem = outputs_problem(m, out_ids, "the file")
    if problem:
        raise OnnxImportError(problem)
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
    return ImportedOnnx(m, state, b.f.opset, b.f.model.producer_name, list(b.notes))


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
