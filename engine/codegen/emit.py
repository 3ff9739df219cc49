"""Runnable PyTorch code for a graph: one standalone file that imports only torch.

:func:`export_code` writes an ``nn.Module`` subclass whose ``__init__`` creates one
submodule per layer node (in topological order, names from :mod:`engine.codegen.naming`) and
whose ``forward`` has one line per node. :mod:`engine.runtime.build` compiles the very
same text to build the live model, so the exported file and the editor's model agree
by construction. No user text reaches the code except through :func:`comment_text` /
:func:`doc_text` (ASCII, escaped, one line, no quotes that could end a string).
No torch import here.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx

from engine.analysis.analyzer import Analysis, Totals, analyze
from engine.codegen import node_code
from engine.codegen.naming import class_name, module_names
from engine.core.errors import EngineError
from engine.core.graph import GraphLike
from engine.nodes import pair

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

# Activations and the identity: parameterless ``nn`` modules.
_SIMPLE_MODULES = {
    "relu6": "nn.ReLU6()",
    "hardswish": "nn.Hardswish()",
    "silu": "nn.SiLU()",
    "sigmoid": "nn.Sigmoid()",
    "identity": "nn.Identity()",
}


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
    cls = class_name(model_name)
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


def _lit(v) -> str:
    """An int-or-pair parameter as a literal: ``3`` or ``(3, 5)``."""
    h, w = pair(v)
    return str(h) if h == w else f"({h}, {w})"


# --------------------------------------------------------------------------- layers
def _same_pads(p: dict) -> tuple[int, int, int, int] | None:
    """``(left, right, top, bottom)`` of an uneven ``"same"`` padding, ``None`` if even."""
    kh, kw = pair(p["kernel_size"])
    dh, dw = pair(p["dilation"])
    th, tw = dh * (kh - 1), dw * (kw - 1)
    if th % 2 == 0 and tw % 2 == 0:
        return None
    return tw // 2, tw - tw // 2, th // 2, th - th // 2


def is_module(plan: Plan, n: str) -> bool:
    """Whether node ``n`` is an ``nn`` submodule (else an expression in ``forward``)."""
    t = plan.types[n]
    if t in node_code.TYPES:
        return node_code.is_module(t, plan.params[n])
    return t in MODULE_TYPES


def layer_expr(plan: Plan, n: str) -> str:
    """The ``nn`` constructor call for node ``n`` (a module type)."""
    t = plan.types[n]
    p = plan.params[n]
    src = plan.inputs[n][0]
    in_shape = plan.shapes[src]
    if t in node_code.TYPES:
        return node_code.module_ctor(t, p, str(in_shape[0]))
    if t in ("conv", "conv1x1"):
        args = [str(in_shape[0]), str(p["out_channels"])]
        if t == "conv":
            args.append(f"kernel_size={_lit(p['kernel_size'])}")
        else:
            args.append("kernel_size=1")
        if pair(p["stride"]) != (1, 1):
            args.append(f"stride={_lit(p['stride'])}")
        if t == "conv":
            if p["padding"] == "same":
                if _same_pads(p) is None:
                    args.append("padding='same'")
                # else: uneven "same" padding is done in forward (torch warns on it)
            elif pair(p["padding"]) != (0, 0):
                args.append(f"padding={_lit(p['padding'])}")
            if pair(p["dilation"]) != (1, 1):
                args.append(f"dilation={_lit(p['dilation'])}")
        if p["groups"] != 1:
            args.append(f"groups={int(p['groups'])}")
        if not p["bias"]:
            args.append("bias=False")
        return f"nn.Conv2d({', '.join(args)})"
    if t in ("maxpool", "avgpool"):
        args = [f"kernel_size={_lit(p['kernel_size'])}"]
        if p["stride"] is not None:
            args.append(f"stride={_lit(p['stride'])}")
        if pair(p["padding"]) != (0, 0):
            args.append(f"padding={_lit(p['padding'])}")
        if p["ceil_mode"]:
            args.append("ceil_mode=True")
        if t == "avgpool" and not p["count_include_pad"]:
            args.append("count_include_pad=False")
        if t == "avgpool" and p["divisor_override"] is not None:
            args.append(f"divisor_override={int(p['divisor_override'])}")
        cls = "MaxPool2d" if t == "maxpool" else "AvgPool2d"
        return f"nn.{cls}({', '.join(args)})"
    if t == "global_avgpool":
        return "nn.AdaptiveAvgPool2d(1)"
    if t == "relu":
        return "nn.ReLU()"
    if t == "batchnorm":
        args = [str(in_shape[0]), f"eps={float(p['eps'])!r}", f"momentum={float(p['momentum'])!r}"]
        if not p["affine"]:
            args.append("affine=False")
        return f"nn.BatchNorm2d({', '.join(args)})"
    if t == "linear":
        args = [str(in_shape[0]), str(int(p["out_features"]))]
        if not p["bias"]:
            args.append("bias=False")
        return f"nn.Linear({', '.join(args)})"
    if t == "dropout":
        return f"nn.Dropout(p={float(p['p'])!r})"
    if t in _SIMPLE_MODULES:
        return _SIMPLE_MODULES[t]
    if t == "adaptive_avgpool":
        h, w = pair(p["output_size"])
        return f"nn.AdaptiveAvgPool2d(({h}, {w}))"
    raise AssertionError(t)  # pragma: no cover


def forward_expr(plan: Plan, n: str) -> str:
    """The right-hand side computing node ``n`` in ``forward``."""
    t = plan.types[n]
    ins = [plan.names[u] for u in plan.inputs[n]]
    if t == "conv" and plan.params[n]["padding"] == "same" and _same_pads(plan.params[n]):
        # What torch does for an even "same" kernel, without its performance warning.
        left, right, top, bottom = _same_pads(plan.params[n])
        return (
            f"self.{plan.names[n]}(nn.functional.pad({ins[0]}, ({left}, {right}, {top}, {bottom})))"
        )
    if t in node_code.TYPES:
        return node_code.forward_text(t, plan.params[n], ins, f"self.{plan.names[n]}")
    if t in MODULE_TYPES:
        return f"self.{plan.names[n]}({ins[0]})"
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
    """A comment naming the node when its attribute name differs from its id."""
    return "" if plan.names[n] == n else f"node {comment_text(n)}"


# --------------------------------------------------------------------------- source
def example_inputs(plan: Plan) -> str:
    """``torch.randn(1, C, H, W)`` for each input node, comma-separated (for ``__main__``)."""
    return ", ".join(
        "torch.randn(1, " + ", ".join(str(d) for d in plan.shapes[n]) + ")"
        for n in plan.input_nodes
    )


def render(plan: Plan, capture: bool = False, main: bool = True) -> str:
    """The Python source of the model class.

    Parameters
    ----------
    plan : Plan
        From :func:`make_plan`.
    capture : bool
        If true, ``forward`` returns ``dict(zip(__node_ids__, values))`` of every node's
        output; ``__node_ids__`` must then be a global of the namespace the code runs in.
    main : bool
        Whether to add the ``if __name__ == "__main__":`` smoke run.
    """
    cls = plan.class_name
    names = plan.names
    t = plan.totals
    title = doc_text(plan.model_name) if plan.model_name else "(unnamed)"
    ins_text = ", ".join(_shape(plan.shapes[n]) for n in plan.input_nodes)
    outs_text = ", ".join(_shape(plan.shapes[n]) for n in plan.sinks)
    out: list[str] = [
        f'"""PyTorch model {title}, exported by ConvCanvas.',
        "",
        f"Run ``python <this file>`` to build {cls} and pass a random input through it.",
        "Built after ``torch.manual_seed(s)``, the class starts from the same weights as",
        "ConvCanvas's model with seed ``s``; a state dict saved by ConvCanvas loads into it.",
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
    for n in plan.order:
        if is_module(plan, n):
            where = _where(plan, n)
            if (
                plan.types[n] == "conv"
                and plan.params[n]["padding"] == "same"
                and _same_pads(plan.params[n])
            ):
                where = ("padding 'same' (uneven, done in forward)  " + where).rstrip()
            out.append(
                f"        self.{names[n]} = {layer_expr(plan, n)}"
                + (f"  # {where}" if where else "")
            )
    args = ", ".join(names[n] for n in plan.input_nodes)
    out += ["", f"    def forward(self, {args}):"]
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
        out.append(
            f"        {names[n]} = {forward_expr(plan, n)}  # "
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
