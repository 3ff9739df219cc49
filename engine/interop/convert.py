"""fx graph → design: one node type per operation, ids from fx, weights keyed for export.

:func:`import_module` traces a model (:mod:`engine.interop.trace`), fuses the patterns of
several fx nodes (:mod:`engine.interop.patterns`), maps every other fx node to a node type
(module calls, their functional forms on parameters, ``Tensor`` methods and operators:
:mod:`engine.interop.rules`, :mod:`engine.interop.functional`), refuses the whole model if
any operation has no node type (listing each with its module path and source line), and
builds the design (:mod:`engine.interop.design`): laid out, with the ``state_dict``
keyed by the nodes' targets (:mod:`engine.codegen.targets`), the original module paths,
as in the model's own ``state_dict``.
"""

from __future__ import annotations

import linecache

from torch import fx, nn

from engine.interop.design import Imported, build_design
from engine.interop.errors import UnsupportedError
from engine.interop.functional import WEIGHTED, Refused, weight_inputs
from engine.interop.more_rules import Unsupported
from engine.interop.patterns import fuse
from engine.interop.refusal import operation_words, refusal_lines
from engine.interop.rules import FUNCTIONS, METHODS, module_rule
from engine.interop.trace import trace

__all__ = ["Imported", "import_module"]


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
                plan[n] = module_rule(modules[n.target])
            elif n.op == "call_function" and n.target in FUNCTIONS:
                plan[n] = FUNCTIONS[n.target](n)
            elif n.op == "call_method" and n.target in METHODS:
                plan[n] = METHODS[n.target](n)
            else:
                raise Unsupported(operation_words(n))
        except Unsupported as exc:
            refused.append((str(exc), n))
    if refused:
        order = {n: i for i, n in enumerate(nodes)}
        refused.sort(key=lambda item: order[item[1]])
        raise UnsupportedError(refusal_lines(refused, modules))
    plan = {n: plan[n] for n in nodes if n in plan}  # graph order
    return build_design(model, plan, modules, out_node, input_size, name, root_code, weights, fused)
