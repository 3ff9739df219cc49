"""The program of a graph and its flat printing (one standalone file importing only torch).

:func:`make_plan` checks and names a graph: each node's value gets a *name* (a Python
identifier, :mod:`engine.codegen.naming`), each module node a *target* (its module
path, the key of its weights, :mod:`engine.codegen.targets`), and the constructor of
each module comes from one per-type table (:func:`engine.codegen.layer_text.layer_ctor`).
Two printers read that plan: the readable export (:mod:`engine.codegen.emit_blocks`, the
default, which :mod:`engine.runtime.build` compiles into the live model) and the flat
printing here (:func:`export_code`, ``export --flat``): one class whose modules sit at
their targets in ``nn.ModuleDict`` containers and whose ``forward`` has one line per
node. Both give the same ``state_dict`` keys. No user text reaches the code except
through :func:`comment_text` / :func:`doc_text` (ASCII, escaped, one line).
No torch import here.
"""

from __future__ import annotations

import keyword
from dataclasses import dataclass

import networkx as nx

from engine.analysis.analyzer import Analysis, Totals, analyze
from engine.codegen import node_code
from engine.codegen.layer_text import _same_pads, layer_ctor
from engine.codegen.naming import block_class_names, design_class_name, module_names
from engine.core.errors import EngineError
from engine.core.graph import GraphLike

# Node types built from an ``nn`` submodule (the others are expressions in ``forward``);
# a hardsigmoid with its own alpha/beta is an expression: :func:`is_module` decides per node.
MODULE_TYPES = frozenset(
    {
        "conv",
        "conv1x1",
        "maxpool",
        "avgpool",
        "global_avgpool",
        "relu",
        "batchnorm",
        "linear",
        "dropout",
        "relu6",
        "hardswish",
        "silu",
        "sigmoid",
        "identity",
        "adaptive_avgpool",
    }
    | node_code.MODULES
)


class InvalidGraphError(EngineError):
    """The graph has analysis errors and cannot become a model.

    Attributes
    ----------
    errors : list of (node, message)
        The analysis errors, in topological order.
    """

    def __init__(self, message: str, errors: list[tuple[str, str]]):
        super().__init__(message, errors[0][0] if errors else None)
        self.errors = errors


@dataclass
class Plan:
    """Everything the code generator needs, checked and named."""

    model_name: str
    class_name: str
    order: list[str]
    names: dict[str, str]
    types: dict[str, str]
    params: dict[str, dict]
    inputs: dict[str, list[str]]
    shapes: dict[str, tuple]
    input_nodes: list[str]
    sinks: list[str]
    totals: Totals
    targets: dict[str, str]  # module node → its target (module path, key of its weights)


def _nx(graph: GraphLike) -> tuple[nx.MultiDiGraph, str]:
    if isinstance(graph, nx.Graph):
        return graph, str(graph.graph.get("name", "") or "")
    return graph.graph, str(getattr(graph, "name", "") or "")


def make_plan(graph: GraphLike, analysis: Analysis | None = None) -> Plan:
    """Analyse ``graph`` and name its nodes.

    Parameters
    ----------
    graph : GraphModel or networkx.MultiDiGraph
        The network.
    analysis : Analysis, optional
        A current analysis of ``graph`` to use instead of analysing it again.

    Returns
    -------
    Plan

    Raises
    ------
    InvalidGraphError
        If the graph is empty or any node has an analysis error; the message lists them.
    """
    g, model_name = _nx(graph)
    if g.number_of_nodes() == 0:
        raise InvalidGraphError("the graph has no nodes: add an input and some layers", [])
    a = analysis if analysis is not None else analyze(g)
    if not a.ok:
        errors = a.errors
        lines = [f"  - {msg}" for _, msg in errors] or [
            f"  - '{n}' has no output" for n in a.order if a.nodes[n].shape is None
        ]
        raise InvalidGraphError(
            f"the graph cannot be built: {len(lines)} problem(s):\n" + "\n".join(lines), errors
        )
    from engine.codegen.targets import module_targets  # it imports this module

    cls = design_class_name(model_name, block_class_names(g.graph))
    names = module_names(g, reserved={cls})
    order = list(a.order)
    return Plan(
        model_name=model_name,
        class_name=cls,
        order=order,
        names=names,
        types={n: g.nodes[n]["type"] for n in order},
        params={n: g.nodes[n]["params"] for n in order},
        inputs={n: list(a.inputs[n]) for n in order},
        shapes={n: a.nodes[n].shape for n in order},
        input_nodes=[n for n in order if g.nodes[n]["type"] == "input"],
        sinks=[n for n in order if not g.out_degree(n)],
        totals=a.totals,
        targets=module_targets(g),
    )


# --------------------------------------------------------------------------- safe text
def comment_text(text: str, limit: int = 60) -> str:
    """User text for a ``#`` comment: its ``repr``, cut to ``limit`` characters.

    ``repr`` escapes every non-printable character (newlines, ``\\r``, NUL, Unicode line
    and paragraph separators, format characters), so the result is one printable line.
    """
    s = str(text)
    if len(s) > limit:
        s = s[:limit] + "..."
    r = repr(s)
    assert r.isprintable()
    return r


def doc_text(text: str, limit: int = 80) -> str:
    """User text for a docstring: like :func:`comment_text`, with every ``\\`` doubled.

    A docstring interprets escapes, so the ``\\x1b`` or ``\\ud800`` that ``repr`` wrote
    would become the control character or lone surrogate again (which then breaks
    ``help()`` or the class definition): each backslash is doubled, and each ``"`` becomes
    ``\\"``, so no ``\"\"\"`` can end the docstring.
    """
    return comment_text(text, limit).replace("\\", "\\\\").replace('"', '\\"')


def _shape(shape: tuple) -> str:
    return "x".join(str(d) for d in shape)


# --------------------------------------------------------------------------- layers
def node_is_module(ntype: str, params: dict) -> bool:
    """Whether a node is an ``nn`` submodule (else an expression in ``forward``)."""
    if ntype in node_code.TYPES:
        return node_code.is_module(ntype, params)
    return ntype in MODULE_TYPES


def is_module(plan: Plan, n: str) -> bool:
    """Whether node ``n`` is an ``nn`` submodule (else an expression in ``forward``)."""
    return node_is_module(plan.types[n], plan.params[n])


def forward_expr(plan: Plan, n: str, module: str) -> str:
    """The right-hand side computing node ``n`` in ``forward``; ``module`` is its module."""
    t = plan.types[n]
    ins = [plan.names[u] for u in plan.inputs[n]]
    if t in node_code.TYPES:
        return node_code.forward_text(t, plan.params[n], ins, module)
    if t in MODULE_TYPES:
        arg = ins[0]
        pads = _same_pads(plan.params[n]) if t == "conv" else None
        if pads and plan.params[n]["padding"] == "same":
            # What torch does for an even "same" kernel, without its performance warning.
            arg = f"nn.functional.pad({arg}, {pads})"
        return f"{module}({arg})"
    if t == "concat":
        return f"torch.cat([{', '.join(ins)}], dim=1)"
    if t == "add":
        return " + ".join(ins)
    if t == "mul":
        return " * ".join(ins)
    if t == "flatten":
        return f"torch.flatten({ins[0]}, 1)"
    raise AssertionError(t)  # pragma: no cover


def _where(plan: Plan, n: str) -> str:
    """A comment naming the node when its value's name differs from its id."""
    return "" if plan.names[n] == n else f"node {comment_text(n)}"


def example_inputs(plan: Plan) -> str:
    """``torch.randn(1, C, H, W)`` for each input node, comma-separated (for ``__main__``)."""
    return ", ".join(
        "torch.randn(1, " + ", ".join(str(d) for d in plan.shapes[n]) + ")"
        for n in plan.input_nodes
    )


def flat_forward(plan: Plan, module_of, capture: bool = False) -> list[str]:
    """The body of the flat ``forward``: one line per node, each value freed after its last use.

    ``module_of(node)`` gives the expression of the node's module (``self.layer1["0"]``…).
    With ``capture``, ``forward`` returns ``dict(zip(__node_ids__, values))`` of every node.
    """
    names = plan.names
    out: list[str] = []
    # Free each value after its last use (as hand-written code does by reassigning x):
    # holding every activation until forward returns costs ~40% on ResNet-50.
    frees: dict[str, list[str]] = {}
    if not capture:
        last: dict[str, str] = {}
        for n in plan.order:
            for u in plan.inputs[n]:
                last[u] = n
        sinks = set(plan.sinks)
        for u, n in last.items():
            if u not in sinks:
                frees.setdefault(n, []).append(names[u])
    for n in plan.order:
        if plan.types[n] == "input":
            out.append(
                f"        # {names[n]}: {_shape(plan.shapes[n])}  {_where(plan, n)}".rstrip()
            )
            continue
        module = module_of(n) if is_module(plan, n) else ""
        out.append(
            f"        {names[n]} = {forward_expr(plan, n, module)}  # "
            f"{_shape(plan.shapes[n])}  {_where(plan, n)}".rstrip()
        )
        if frees.get(n):
            out.append(f"        del {', '.join(frees[n])}")
    if capture:
        values = "".join(f"{names[n]}, " for n in plan.order)
        out.append(f"        return dict(zip(__node_ids__, ({values.rstrip()})))")
    elif len(plan.sinks) == 1:
        out.append(f"        return {names[plan.sinks[0]]}")
    else:
        out.append(f"        return ({', '.join(names[n] for n in plan.sinks)})")
    return out


def _tree(plan: Plan) -> dict:
    """The module tree of the targets: ``{part: node | subtree}`` in topological order."""
    tree: dict = {}
    for n in plan.order:
        if n not in plan.targets:
            continue
        *parents, last = plan.targets[n].split(".")
        where = tree
        for part in parents:
            where = where.setdefault(part, {})
        where[last] = n
    return tree


def _tree_lines(plan: Plan, tree: dict, indent: int) -> list[str]:
    pad = " " * indent
    out = []
    for part, item in tree.items():
        if isinstance(item, dict):
            out.append(f'{pad}"{part}": nn.ModuleDict({{')
            out += _tree_lines(plan, item, indent + 4)
            out.append(f"{pad}}}),")
        else:
            out.append(f'{pad}"{part}": {_ctor(plan, item)},{_note(plan, item)}')
    return out


def _ctor(plan: Plan, n: str) -> str:
    return layer_ctor(plan.types[n], plan.params[n], str(plan.shapes[plan.inputs[n][0]][0]))


def _note(plan: Plan, n: str) -> str:
    where = _where(plan, n)
    if (
        plan.types[n] == "conv"
        and plan.params[n]["padding"] == "same"
        and _same_pads(plan.params[n])
    ):
        where = ("padding 'same' (uneven, done in forward)  " + where).rstrip()
    return f"  # {where}" if where else ""


def _attribute(name: str) -> bool:
    return name.isidentifier() and not keyword.iskeyword(name)


def flat_access(base: str, target: str) -> str:
    """The expression of the module at ``target`` in the flat printing (``ModuleDict`` tree)."""
    head, *rest = target.split(".")
    expr = f"{base}.{head}" if _attribute(head) else f"getattr({base}, {head!r})"
    return expr + "".join(f'["{p}"]' for p in rest)


def render(plan: Plan, main: bool = True) -> str:
    """The flat printing: one class, one ``forward`` line per node.

    Parameters
    ----------
    plan : Plan
        From :func:`make_plan`.
    main : bool
        Whether to add the ``if __name__ == "__main__":`` smoke run.

    Notes
    -----
    The modules sit at their targets (:mod:`engine.codegen.targets`), nested in
    ``nn.ModuleDict`` containers, so the ``state_dict`` keys are those of the readable
    export (:mod:`engine.codegen.emit_blocks`) and of the live model: the same program,
    printed flat.
    """
    cls = plan.class_name
    names = plan.names
    t = plan.totals
    title = doc_text(plan.model_name) if plan.model_name else "(unnamed)"
    ins_text = ", ".join(_shape(plan.shapes[n]) for n in plan.input_nodes)
    outs_text = ", ".join(_shape(plan.shapes[n]) for n in plan.sinks)
    out: list[str] = [
        f'"""PyTorch model {title}, exported by ConvCanvas (flat: one line per node).',
        "",
        f"Run ``python <this file>`` to build {cls} and pass a random input through it.",
        "Its state_dict keys are the module paths of ConvCanvas's model (layer1.0.conv1.weight):",
        "a weights file saved by ConvCanvas loads into it with strict=True.",
        '"""',
        "import torch",
        "from torch import nn",
        "",
        "",
        *node_code.helper_lines(set(plan.types.values())),
        f"class {cls}(nn.Module):",
        f'    """Design {title}: {len(plan.order)} nodes.',
        "",
        f"    Input shape: {ins_text} (batch first: N x C x H x W)",
        f"    Output shape: {outs_text}",
        f"    Parameters: {t.params:,} (weights {t.weights:,}, biases {t.biases:,}, "
        f"batch-norm {t.other:,})",
        f"    Multiply-accumulates (MACs) per image: {t.macs:,}",
        '    """',
        "",
        "    def __init__(self):",
        "        super().__init__()",
    ]
    for part, item in _tree(plan).items():
        target = f"self.{part}" if _attribute(part) else None
        if isinstance(item, dict):
            body = ["nn.ModuleDict({", *_tree_lines(plan, item, 12), "        })"]
            note = ""
        else:
            body, note = [_ctor(plan, item)], _note(plan, item)
        first = f"{target} = {body[0]}" if target else f"self.add_module({part!r}, {body[0]}"
        close = "" if target else ")"
        if len(body) == 1:
            out.append(f"        {first}{close}{note}")
        else:
            out += [f"        {first}", *body[1:-1], f"{body[-1]}{close}"]
    args = ", ".join(names[n] for n in plan.input_nodes)
    out += ["", f"    def forward(self, {args}):"]
    out += flat_forward(plan, lambda n: flat_access("self", plan.targets[n]))
    if main:
        shapes = example_inputs(plan)
        out += [
            "",
            "",
            'if __name__ == "__main__":',
            "    torch.manual_seed(0)",
            f"    model = {cls}().eval()",
            f"    inputs = [{shapes}]",
            "    with torch.inference_mode():",
            "        result = model(*inputs)",
            "    for tensor in (result if isinstance(result, tuple) else (result,)):",
            '        print("output shape:", tuple(tensor.shape))',
            '    print("parameters:", sum(p.numel() for p in model.parameters()))',
        ]
    return "\n".join(out) + "\n"


def export_code(graph: GraphLike) -> str:
    """A standalone Python file (imports only torch) defining the graph as an ``nn.Module``.

    Parameters
    ----------
    graph : GraphModel or networkx.MultiDiGraph
        The network.

    Returns
    -------
    str
        The source text.

    Raises
    ------
    InvalidGraphError
        If the graph has analysis errors.
    """
    return render(make_plan(graph))
