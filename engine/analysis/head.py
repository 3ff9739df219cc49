"""Whether a graph is a classifier for N classes, and the head that would make it one (no torch).

A trainable design has one output (sink), a linear layer with one output per class.
:func:`head_problem` says what is wrong in words; :func:`head_plan` lists the nodes that
turn a graph ending in a feature map into a classifier: global avg pool → flatten →
linear (a graph already ending in a vector only needs the linear layer).
"""

from __future__ import annotations

from engine.analysis.analyzer import Analysis


def sinks(analysis: Analysis) -> list[str]:
    """The nodes without successors, in topological order."""
    g = analysis.graph
    return [n for n in analysis.order if g.out_degree(n) == 0]


def head_problem(analysis: Analysis, n_classes: int) -> str | None:
    """Why the graph is not a classifier for ``n_classes`` classes, or ``None`` if it is."""
    g = analysis.graph
    out = sinks(analysis)
    if len(out) != 1:
        names = ", ".join(f"'{s}'" for s in out)
        return (
            f"the graph has {len(out)} outputs ({names}); a classifier has one: "
            f"a linear layer with {n_classes} outputs"
        )
    last = out[0]
    if g.nodes[last]["type"] != "linear":
        shape = analysis.nodes[last].shape
        what = "global avg pool → flatten → " if shape is not None and len(shape) == 3 else ""
        return (
            f"the graph must end in a classifier head: a linear layer with one output per "
            f"class ({n_classes}); it ends in '{last}' ({g.nodes[last]['type']}). Add "
            f"{what}linear (out_features={n_classes}) after '{last}'"
        )
    n_out = analysis.nodes[last].shape[-1]
    if n_out != n_classes:
        return (
            f"the last layer '{last}' has {n_out} outputs but the data has {n_classes} "
            f"classes; set its out_features to {n_classes}"
        )
    return None


def head_plan(analysis: Analysis, n_classes: int) -> tuple[str, list[tuple[str, dict]]] | None:
    """``(after, [(type, params), ...])``: the head to add after the single sink.

    ``None`` when the graph has not exactly one sink or already ends in a linear layer
    (then only its ``out_features`` may need changing).
    """
    out = sinks(analysis)
    if len(out) != 1:
        return None
    last = out[0]
    if analysis.graph.nodes[last]["type"] == "linear":
        return None
    shape = analysis.nodes[last].shape
    nodes: list[tuple[str, dict]] = []
    if shape is not None and len(shape) == 3:
        nodes += [("global_avgpool", {}), ("flatten", {})]
    nodes.append(("linear", {"out_features": int(n_classes)}))
    return last, nodes
