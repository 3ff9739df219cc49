"""fx graph → design: one node type per operation, ids from fx, weights keyed for export.

:func:`import_module` traces a model (:mod:`engine.interop.trace`), maps every fx node to
a design node (module calls, their functional forms, ``Tensor`` methods and operators, see
``_FUNCTIONS`` and ``_METHODS``), refuses the whole model if any operation has no node
type (listing each with its module path and source line), lays the design out, and
returns the ``state_dict`` keyed by the nodes' targets (:mod:`engine.codegen.targets`):
the original module paths, as in the model's own ``state_dict``.

Canonical forms: a ``Conv2d`` with a 1×1 kernel, no padding and no dilation is a
``conv1x1``; an adaptive average pool to 1×1 (``x.mean((2, 3), keepdim=True)`` too) is a
``global_avgpool``; a pool's stride equal to its kernel is the default (``None``);
``a + b + c`` is one ``add`` of three inputs (and ``*`` one ``mul``).
"""

from __future__ import annotations

import linecache
import operator
import re
from ast import literal_eval
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import fx, nn

from engine.analysis.analyzer import analyze
from engine.blocks.hierarchy import blocks_from_scopes
from engine.blocks.layout import apply_block_layout
from engine.codegen.targets import module_targets
from engine.core.graph import GraphModel
from engine.core.layout import layered_layout
from engine.interop.errors import ImportFailed, UnsupportedError
from engine.interop.functional import (
    WEIGHTED,
    Refused,
    layer_owners,
    owner,
    relocate,
    weight_inputs,
)
from engine.interop.more_rules import FUNCTIONS as MORE_FUNCTIONS
from engine.interop.more_rules import METHODS as MORE_METHODS
from engine.interop.more_rules import MODULES as MORE_MODULES
from engine.interop.more_rules import Unsupported, softmax_on_last
from engine.interop.patterns import ALIAS, fuse
from engine.interop.refusal import operation_words, refusal_lines
from engine.interop.trace import Where, is_grn, torch_base, trace


@dataclass
class Imported:
    """The result of an import.

    Attributes
    ----------
    model : GraphModel
        The design, laid out; each node's ``scope`` is its module path.
    state : dict
        ``{key: tensor}`` keyed by the nodes' targets (the original module paths).
    sources : dict
        Design node → the original module's qualified name (for module nodes).
    """

    model: GraphModel
    state: dict
    sources: dict = field(default_factory=dict)


_Unsupported = Unsupported  # raised by a mapping rule: the operation has no node type


def _p(v) -> int | list[int]:
    """An int-or-pair parameter: an int when both sides agree."""
    if isinstance(v, (tuple, list)):
        if len(v) == 1:
            return int(v[0])
        h, w = int(v[0]), int(v[1])
        return h if h == w else [h, w]
    return int(v)


def _const(v, what: str):
    if isinstance(v, fx.Node):
        raise _Unsupported(f"{what} computed from a tensor")
    return v


# --------------------------------------------------------------------------- modules
def _conv(m: nn.Conv2d) -> tuple[str, dict]:
    if m.padding_mode != "zeros":
        raise _Unsupported(f"nn.Conv2d with padding_mode='{m.padding_mode}'")
    pad = m.padding
    if pad == "valid":
        pad = 0
    p = {"out_channels": m.out_channels, "stride": _p(m.stride), "groups": m.groups}
    p["bias"] = m.bias is not None
    if tuple(m.kernel_size) == (1, 1) and pad in (0, (0, 0)) and tuple(m.dilation) == (1, 1):
        return "conv1x1", p
    p["kernel_size"] = _p(m.kernel_size)
    p["padding"] = "same" if pad == "same" else _p(pad)
    p["dilation"] = _p(m.dilation)
    return "conv", p


def _bn(m: nn.BatchNorm2d) -> tuple[str, dict]:
    if not m.track_running_stats or m.momentum is None:
        raise _Unsupported("nn.BatchNorm2d without running statistics")
    return "batchnorm", {"eps": float(m.eps), "momentum": float(m.momentum), "affine": m.affine}


def _pool_args(kind: str, k, s, pad, dil=1, ceil=False, ret=False, cip=True, div=None):
    if ret:
        raise _Unsupported(f"{kind} with return_indices")
    if _p(dil) != 1:
        raise _Unsupported(f"{kind} with dilation")
    s = None if s is None or (isinstance(s, (list, tuple)) and len(s) == 0) else _p(s)
    if s == _p(k):
        s = None  # torch stores a default stride as the kernel size: canonically None
    p = {"kernel_size": _p(k), "stride": s, "padding": _p(pad), "ceil_mode": bool(ceil)}
    if kind.endswith(("AvgPool2d", "avg_pool2d")):
        # Without padding every window is whole: count_include_pad changes nothing.
        p["count_include_pad"] = bool(cip) or _p(pad) == 0
        p["divisor_override"] = None if div is None else int(div)
    return p


def _adaptive(size) -> tuple[str, dict]:
    size = _const(size, "adaptive pooling size")
    if isinstance(size, (tuple, list)) and any(v is None for v in size) or size is None:
        raise _Unsupported("adaptive pooling that keeps an input size (None)")
    if _p(size) == 1:
        return "global_avgpool", {}
    return "adaptive_avgpool", {"output_size": _p(size)}


def _module_rule(m: nn.Module) -> tuple[str, dict]:
    t = torch_base(type(m)) or type(m)  # a subclass keeping its base's forward is the base
    if t is nn.Conv2d:
        return _conv(m)
    if t is nn.BatchNorm2d:
        return _bn(m)
    if t is nn.Linear:
        return "linear", {"out_features": m.out_features, "bias": m.bias is not None}
    if t is nn.MaxPool2d:
        return "maxpool", _pool_args(
            "nn.MaxPool2d",
            m.kernel_size,
            m.stride,
            m.padding,
            m.dilation,
            m.ceil_mode,
            m.return_indices,
        )
    if t is nn.AvgPool2d:
        return "avgpool", _pool_args(
            "nn.AvgPool2d",
            m.kernel_size,
            m.stride,
            m.padding,
            ceil=m.ceil_mode,
            cip=m.count_include_pad,
            div=m.divisor_override,
        )
    if t is nn.AdaptiveAvgPool2d:
        return _adaptive(m.output_size)
    if t is nn.Flatten:
        if (m.start_dim, m.end_dim) != (1, -1):
            raise _Unsupported(f"nn.Flatten({m.start_dim}, {m.end_dim})")
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
    raise _Unsupported(f"nn.{t.__name__}" if t.__module__.startswith("torch.") else t.__name__)


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
def _arg(node: fx.Node, i: int, name: str, default=None):
    if len(node.args) > i:
        return node.args[i]
    return node.kwargs.get(name, default)


def _fn_pool(kind: str, t: str):
    def rule(n: fx.Node):
        a = [_const(_arg(n, i, nm, d), f"{kind} {nm}") for i, nm, d in _POOL_ARGS[t]]
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
    start = _const(_arg(n, 1, "start_dim", 0), "flatten start_dim")
    end = _const(_arg(n, 2, "end_dim", -1), "flatten end_dim")
    if start != 1 or end not in (-1, 3):
        raise _Unsupported(f"flatten({start}, {end}) (only flatten(x, 1) keeps the batch)")
    return "flatten", {}


def _fn_cat(n: fx.Node):
    dim = _const(_arg(n, 1, "dim", 0), "cat dim")
    if dim not in (1, -3):
        raise _Unsupported(f"torch.cat along dim {dim} (the design concatenates channels)")
    seq = n.args[0] if n.args else n.kwargs.get("tensors")
    if not isinstance(seq, (list, tuple)) or not all(isinstance(v, fx.Node) for v in seq):
        raise _Unsupported("torch.cat of something else than a list of tensors")
    # The concatenation of one tensor is that tensor (DenseNet's first layer).
    return ("concat" if len(seq) > 1 else "identity"), {}


def _fn_mean(n: fx.Node):
    dims = _const(_arg(n, 1, "dim", None), "mean dims")
    keep = _const(_arg(n, 2, "keepdim", False), "mean keepdim")
    if dims is None or not isinstance(dims, (tuple, list)) or {d % 4 for d in dims} != {2, 3}:
        raise _Unsupported(f"Tensor.mean over {dims} (only the mean over H and W, dims (2, 3))")
    return ("global_avgpool" if keep else "mean_flat"), {}


def _fn_dropout(n: fx.Node):
    return "dropout", {"p": float(_const(_arg(n, 1, "p", 0.5), "dropout p"))}


def _fn_binary(t: str):
    def rule(n: fx.Node):
        if any(k != "alpha" for k in n.kwargs) or n.kwargs.get("alpha", 1) != 1:
            raise _Unsupported(f"torch.{t} with alpha")
        if len(n.args) != 2 or not all(isinstance(a, fx.Node) for a in n.args):
            raise _Unsupported(f"{'+' if t == 'add' else '*'} with a constant")
        return t, {}

    return rule


def _simple(t: str):
    return lambda n: (t, {})


_FUNCTIONS: dict = {
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
    F.adaptive_avg_pool2d: lambda n: _adaptive(_arg(n, 1, "output_size")),
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
_METHODS: dict = {
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
_FUNCTIONS.update(MORE_FUNCTIONS)
_METHODS.update(MORE_METHODS)
# --------------------------------------------------------------------------- names
# A line of ConvCanvas's own exported forward: ``name = expr  # 64x56x56  node 'id'``.
_EXPORTED = re.compile(r"^\s*(\w+) = .*  # [0-9x]+(?:  node ('.*'))?$")


def _exported_id(where: Where | None, root_code) -> str | None:
    """The node id written in a ConvCanvas export's forward line, if this is one."""
    if where is None or root_code is None or where.filename != root_code.co_filename:
        return None
    m = _EXPORTED.match(linecache.getline(where.filename, where.lineno).rstrip("\n"))
    if not m:
        return None
    if m.group(2) and not m.group(2).endswith("...'"):
        try:
            value = literal_eval(m.group(2))  # a string literal only, never code
        except (ValueError, SyntaxError):
            return m.group(1)
        return value if isinstance(value, str) and value else m.group(1)
    return m.group(1)


# --------------------------------------------------------------------------- import
def _where_text(n: fx.Node) -> tuple[str, str]:
    scope = n.meta.get("cc_scope") or ""
    if n.op == "call_module":
        scope = str(n.target)
    where = n.meta.get("cc_where")
    return (scope or "the model's forward"), (where.short if where else "?")


def import_module(
    model: nn.Module, input_size: tuple[int, int, int] = (3, 224, 224), name: str = ""
) -> Imported:
    """Trace ``model`` and convert it into a design with its weights.

    Parameters
    ----------
    model : torch.nn.Module
        The model; it is put in eval mode.
    input_size : (C, H, W)
        The size of every input node.
    name : str
        The design's name (default: the model's class name).

    Returns
    -------
    Imported

    Raises
    ------
    TraceError
        If torch.fx cannot trace the model.
    UnsupportedError
        If any operation has no node type (every one is listed).
    ImportFailed
        If the traced graph cannot be a design (outputs that are not sinks, input
        sizes that do not fit the layers).
    """
    model.eval()
    graph = trace(model, input_size)
    root_code = getattr(type(model).forward, "__code__", None)
    if root_code is not None:
        linecache.checkcache(root_code.co_filename)  # the file may have changed since
    modules = dict(model.named_modules())
    nodes = list(graph.nodes)
    out_node = next(n for n in nodes if n.op == "output")
    # Only what reaches the output matters (fx keeps unused values such as x.size()).
    live: set = set()
    stack = [out_node]
    while stack:
        n = stack.pop()
        if n in live:
            continue
        live.add(n)
        stack.extend(n.all_input_nodes)

    fused = fuse(graph, model)  # patterns of several fx nodes (slices, LayerNorm2d, …)
    plan: dict[fx.Node, tuple[str, dict]] = {n: v for n, v in fused.plan.items() if n in live}
    weights: dict[fx.Node, dict] = {n: w for n, w in fused.weights.items() if n in plan}
    refused: list[tuple[str, fx.Node]] = []
    for n in nodes:
        if n not in live or n.op != "call_function" or n.target not in WEIGHTED:
            continue
        if n in plan or n in fused.absorbed:
            continue
        try:
            t, params, w = WEIGHTED[n.target](n, model)
        except Refused as exc:
            refused.append((str(exc), n))
            continue
        plan[n] = (t, params)
        weights[n] = w
    # A parameter read only by the calls above is one of their weights, not a node (nor
    # a second refusal when the call itself is refused).
    calls = set(weights) | {n for _, n in refused} | fused.absorbed
    consumed = {a for n in calls for a in weight_inputs(n)}
    consumed = {a for a in consumed if all(u in calls for u in a.users)}
    consumed |= fused.absorbed
    for n in nodes:
        if n not in live or n.op in ("output",) or n in plan or n in consumed:
            continue
        if n.op == "call_function" and n.target in WEIGHTED:
            continue  # refused above
        try:
            if n.op == "placeholder":
                plan[n] = ("input", {})
            elif n.op == "call_module":
                plan[n] = _module_rule(modules[n.target])
            elif n.op == "call_function" and n.target in _FUNCTIONS:
                plan[n] = _FUNCTIONS[n.target](n)
            elif n.op == "call_method" and n.target in _METHODS:
                plan[n] = _METHODS[n.target](n)
            else:
                raise _Unsupported(operation_words(n))
        except _Unsupported as exc:
            refused.append((str(exc), n))
    if refused:
        order = {n: i for i, n in enumerate(nodes)}
        refused.sort(key=lambda item: order[item[1]])
        raise UnsupportedError(refusal_lines(refused, modules))
    plan = {n: plan[n] for n in nodes if n in plan}  # graph order
    return _build(
        model, graph, plan, modules, out_node, input_size, name, root_code, weights, fused
    )


def _inputs_of(n: fx.Node) -> list[fx.Node]:
    if n.op == "call_function" and n.target in WEIGHTED:
        return [n.args[0]]
    if n.op == "call_function" and n.target in (torch.cat, torch.concat):
        seq = n.args[0] if n.args else n.kwargs.get("tensors")
        return list(seq)
    return [a for a in n.args if isinstance(a, fx.Node)][: (2 if n.op != "call_module" else 1)]


def _build(
    model, graph, plan, modules, out_node, input_size, name, root_code, weights, fused
) -> Imported:
    m = GraphModel(name or type(model).__name__)
    ids: dict[fx.Node, str] = {}  # fx node → the design node holding its value
    sources: dict[str, str] = {}
    tensors: dict[str, dict] = {}  # functional layers: {key: (target, tensor)}
    users = {n: len(n.users) for n in plan}
    merged: dict[fx.Node, list] = {}  # add/mul folded into a later one: its inputs
    owners = layer_owners(weights, modules)  # modules imported as one layer
    owned = set(owners.values())
    c, h, w = input_size
    for n, (t, params) in plan.items():
        nid = _exported_id(n.meta.get("cc_where"), root_code) or n.name
        if n.op == "call_module" and nid == n.name:
            # The module's path with "_" (fx lower-cases it): its target is that path.
            nid = str(n.target).replace(".", "_")
        if n.op == "placeholder":
            nid = str(n.target).lstrip("*")  # the argument's name (fx renames 'input')
        scope = n.meta.get("cc_scope") or None
        if n.op == "call_module":
            scope = str(n.target).rpartition(".")[0] or None
        elif n.op in ("call_function", "call_method") and nid == n.name and scope:
            # Named inside its module (layer1_0_relu, not fx's relu_4): the same in every
            # instance of the module's class, so the export can share that class.
            nid = scope.replace(".", "_") + "_" + re.sub(r"_\d+\Z", "", n.name)
        nid, scope = relocate(n, nid, scope, owners, owned)
        if t == ALIAS:  # x.contiguous(): the same value
            ids[n] = ids[fused.inputs[n][0]]
            continue
        if t == "input":
            nid = m.unique_id(nid) if nid in m else nid
            m.add_node("input", {"channels": c, "height": h, "width": w}, nid)
            ids[n] = nid
            continue
        srcs = fused.inputs.get(n) or _inputs_of(n)
        if t in ("add", "mul"):
            flat = []
            for s in srcs:
                if s in merged and plan[s][0] == t and users[s] == 1:
                    flat.extend(merged.pop(s))
                    m.remove_node(ids[s])
                else:
                    flat.append(s)
            srcs = flat
            merged[n] = srcs
        if nid in m:  # after folding: a folded add/mul leaves its id to the chain's end
            nid = m.unique_id(nid)
        if t == "mean_flat":
            gap = m.add_node("global_avgpool", {}, nid, scope=scope)
            m.connect(ids[srcs[0]], gap)
            nid = m.unique_id(f"{nid}_flatten")
            m.add_node("flatten", {}, nid, scope=scope)
            m.connect(gap, nid)
            ids[n] = nid
            continue
        m.add_node(t, params, nid, scope=scope)
        for port, s in enumerate(srcs):
            m.connect(ids[s], nid, port)
        ids[n] = nid
        if n in fused.modules:
            sources[nid] = fused.modules[n]
        elif n in weights:  # before modules: a Linear over channels has reshaped weights
            sources[nid] = owner(weights[n]) or ""
            tensors[nid] = weights[n]
        elif n.op == "call_module":
            sources[nid] = str(n.target)
    outs = out_node.args[0]
    outs = list(outs) if isinstance(outs, (tuple, list)) else [outs]
    if not outs or not all(isinstance(o, fx.Node) for o in outs):
        raise ImportFailed(
            "the model's forward must return a tensor or a tuple of tensors, "
            f"it returns {type(out_node.args[0]).__name__}"
        )
    out_ids = [ids[o] for o in outs]
    sinks = [v for v in m.nodes if not m.graph.out_degree(v)]
    if len(set(out_ids)) != len(out_ids) or set(out_ids) != set(sinks):
        extra = [v for v in out_ids if m.graph.out_degree(v)]
        raise ImportFailed(
            "the model returns "
            + (f"'{extra[0]}', which also feeds other layers" if extra else "the same value twice")
            + ": a design returns exactly its last layers (the nodes nothing else reads)"
        )
    a = analyze(m)
    if not a.ok:
        errs = [f"  - {msg}" for _, msg in a.errors]
        if len(errs) > 28:  # the whole message stays within 30 lines
            errs = errs[:27] + [f"  ... and {len(errs) - 27} more"]
        lines = "\n".join(errs)
        raise ImportFailed(
            f"the imported design does not fit the input size {c}×{h}×{w} "
            f"(give the size the model was made for with --input CxHxW):\n{lines}"
        )
    for n, (t, _) in plan.items():
        last = t == "softmax" and (
            softmax_on_last(n) or n.op == "call_module" and modules[n.target].dim == -1
        )
        if last and len(a[a.inputs[ids[n]][0]].shape) != 1:
            raise UnsupportedError(
                [
                    f"softmax over the last dimension of an image tensor: {ids[n]}; the Softmax "
                    f"node is over channels (dim 1)"
                ]
            )
    order = [v for v in a.order if v in set(out_ids)]
    if out_ids != order:
        raise ImportFailed(
            "the model returns its outputs in another order than the design would "
            f"({', '.join(out_ids)}); return them as ({', '.join(order)})"
        )
    state = _state(m, a, modules, sources, input_size, tensors)
    # Nested blocks follow the module hierarchy (layer1 → layer1.0), collapsed and laid out.
    added = blocks_from_scopes(m)
    for path in added:  # the module's class, so the export can share one class per kind
        if path in modules:
            m.graph.graph["blocks"][path]["class"] = type(modules[path]).__name__
    if added:
        apply_block_layout(m)  # places every node
    else:
        m.set_positions(layered_layout(m))
    return Imported(m, state, sources)


def _state(
    m: GraphModel, a, modules: dict, sources: dict, input_size: tuple, tensors: dict
) -> dict:
    """The weights under the nodes' targets, checked against the analysis shapes."""
    targets = module_targets(m)
    state: dict = {}
    for nid, qual in sources.items():
        if nid in tensors:
            _check_functional(nid, tensors[nid], a[a.inputs[nid][0]].shape, m, input_size)
            for k, (_, v) in tensors[nid].items():
                state[f"{targets[nid]}.{k}"] = v
            continue
        mod = modules[qual]
        shape = a[a.inputs[nid][0]].shape
        need = None
        for attr in ("in_channels", "num_features", "in_features"):
            need = need or getattr(mod, attr, None)
        if need is not None and shape[0] != need:
            what = "features" if isinstance(mod, nn.Linear) else "channels"
            size = "×".join(map(str, input_size))
            raise ImportFailed(
                f"{qual} expects {need} input {what} but gets {shape[0]} with the input "
                f"size {size}; give the size the model was made for (--input CxHxW)"
            )
        for k, v in mod.state_dict().items():
            state[f"{targets[nid]}.{k}"] = v.detach()  # shares storage: no copy
    return state


def _check_functional(nid: str, weights: dict, shape: tuple, m: GraphModel, input_size) -> None:
    """A functional layer's weights fit its input's channels (else: the wrong input size)."""
    if m.node_type(nid) == "prelu" and weights["weight"][1].numel() == 1:
        return  # one slope shared by every channel
    if "running_mean" in weights:
        need = weights["running_mean"][1].shape[0]
    elif m.node_type(nid) == "conv_transpose":
        need = weights["weight"][1].shape[0]
    elif weights["weight"][1].dim() == 4:
        need = weights["weight"][1].shape[1] * m.params(nid)["groups"]
    elif weights["weight"][1].dim() == 1:  # a norm's weight: one value per channel
        need = weights["weight"][1].shape[0]
    else:
        need = weights["weight"][1].shape[1]
    if shape[0] != need:
        target = weights["weight" if "weight" in weights else "running_mean"][0]
        size = "×".join(map(str, input_size))
        raise ImportFailed(
            f"{target} expects {need} input channels or features but gets {shape[0]} with the "
            f"input size {size}; give the size the model was made for (--input CxHxW)"
        )
