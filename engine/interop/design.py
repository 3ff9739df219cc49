"""The design of a mapped fx graph: node ids and scopes, wiring, checks, weights, layout.

:func:`build_design` adds one design node per mapped fx node: ids from ConvCanvas's own
exported ``forward`` lines, module paths or names inside their module (so instances of a
module class get the same names); ``a + b + c`` becomes one ``add`` of three inputs (and
``*`` one ``mul``). It checks the outputs and the sizes, keys the weights by the nodes'
targets (:mod:`engine.codegen.targets`) and lays the design out in blocks following the
module hierarchy.
"""

from __future__ import annotations

import linecache
import re
from ast import literal_eval
from dataclasses import dataclass, field

import torch
from torch import fx, nn

from engine.analysis.analyzer import analyze
from engine.analysis.outputs import outputs_problem
from engine.blocks.hierarchy import blocks_from_scopes
from engine.blocks.layout import apply_block_layout
from engine.codegen.targets import module_targets
from engine.core.graph import GraphModel
from engine.core.layout import layered_layout
from engine.interop.errors import ImportFailed, UnsupportedError
from engine.interop.functional import WEIGHTED, layer_owners, owner, relocate
from engine.interop.more_rules import softmax_on_last
from engine.interop.patterns import ALIAS
from engine.interop.trace import Where


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


def _inputs_of(n: fx.Node) -> list[fx.Node]:
    if n.op == "call_function" and n.target in WEIGHTED:
        return [n.args[0]]
    if n.op == "call_function" and n.target in (torch.cat, torch.concat):
        seq = n.args[0] if n.args else n.kwargs.get("tensors")
        return list(seq)
    return [a for a in n.args if isinstance(a, fx.Node)][: (2 if n.op != "call_module" else 1)]


def build_design(
    model: nn.Module,
    plan: dict,
    modules: dict,
    out_node: fx.Node,
    input_size: tuple[int, int, int],
    name: str,
    root_code,
    weights: dict,
    fused,
) -> Imported:
    """The design of the mapped fx nodes, checked, with its weights, laid out.

    Parameters
    ----------
    model : torch.nn.Module
        The traced model.
    plan : dict
        fx node → ``(node type, params)``, in graph order.
    modules : dict
        The model's ``named_modules()``.
    out_node : torch.fx.Node
        The graph's output node.
    input_size : (C, H, W)
        The size of every input node.
    name : str
        The design's name (default: the model's class name).
    root_code : code or None
        The code of the model's ``forward`` (ids of ConvCanvas's own exports).
    weights : dict
        fx node → ``{key: (target, tensor)}`` of the functional layers.
    fused : Fused
        The patterns of several fx nodes (:func:`engine.interop.patterns.fuse`).

    Returns
    -------
    Imported

    Raises
    ------
    ImportFailed
        Outputs that are not the last layers, or sizes that do not fit.
    UnsupportedError
        A softmax over the last dimension of an image tensor.
    """
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
    problem = outputs_problem(m, out_ids, "the model")
    if problem:
        raise ImportFailed(problem)
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
