"""The live torch model of a graph: the default export, compiled.

:func:`build_module` compiles the readable export
(:func:`engine.codegen.emit_blocks.export_blocks`: our own text built from sanitised
names and checked numbers, never user text) and instantiates its class, so what runs is
what is exported: the same classes, the same ``state_dict`` keys (the targets of
:func:`engine.codegen.targets.module_targets`), the same initial weights for the same
seed. With ``capture``, a subclass adds the flat printing's ``forward``
(:func:`engine.codegen.emit.flat_forward`): one line per node over the same modules,
returning every node's value.
"""

from __future__ import annotations

import linecache

import torch
from torch import nn

from engine.analysis.analyzer import Analysis
from engine.codegen.emit import InvalidGraphError, Plan, flat_forward, make_plan
from engine.codegen.emit_blocks import export_blocks
from engine.core.graph import GraphLike
from engine.runtime.weights import WeightsError, load_weights, save_weights

__all__ = [
    "build_module",
    "build_with_plan",
    "model_source",
    "InvalidGraphError",
    "WeightsError",
    "load_weights",
    "save_weights",
]

CAPTURE_CLASS = "ConvCanvasCapture"


def model_source(graph: GraphLike, plan: Plan, capture: bool = False) -> str:
    """The source the live model is compiled from: the default export (no ``__main__``).

    With ``capture``, a subclass :data:`CAPTURE_CLASS` of the model's class follows whose
    ``forward`` returns ``{node id: value}`` (``__node_ids__`` must be a global).
    """
    source = export_blocks(graph, main=False, plan=plan)
    if capture:
        args = ", ".join(plan.names[n] for n in plan.input_nodes)
        lines = [
            "",
            "",
            f"class {CAPTURE_CLASS}({plan.class_name}):",
            f"    def forward(self, {args}):",
            "        module = self.get_submodule",
            *flat_forward(plan, lambda n: f"module({plan.targets[n]!r})", capture=True),
        ]
        source += "\n".join(lines) + "\n"
    return source


def _compile(graph: GraphLike, plan: Plan, capture: bool) -> type:
    source = model_source(graph, plan, capture)
    filename = f"<convcanvas {plan.class_name}{' capture' if capture else ''}>"
    # Tracebacks show the generated lines; one entry per class name, so it stays small.
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = {
        "__name__": "convcanvas_generated",
        "torch": torch,
        "nn": nn,
        "__node_ids__": tuple(plan.order),
    }
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - our generated code
    return namespace[CAPTURE_CLASS if capture else plan.class_name]


def build_with_plan(
    graph: GraphLike, seed: int = 0, capture: bool = False, analysis: Analysis | None = None
) -> tuple[nn.Module, Plan]:
    """Like :func:`build_module`, also returning the :class:`~engine.codegen.emit.Plan` used."""
    plan = make_plan(graph, analysis)
    cls = _compile(graph, plan, capture)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        module = cls()
    module.eval()
    return module, plan


def build_module(
    graph: GraphLike, seed: int = 0, capture: bool = False, analysis: Analysis | None = None
) -> nn.Module:
    """Build the torch model of a graph.

    Parameters
    ----------
    graph : GraphModel or networkx.MultiDiGraph
        A graph without analysis errors.
    seed : int
        Seeds torch's default initialisation (submodules are created as the exported
        class creates them); the global random state is left as it was.
    capture : bool
        If true, ``forward`` returns ``{node_id: tensor}`` with every node's output
        (inputs included) instead of the graph's output.
    analysis : Analysis, optional
        A current analysis of ``graph`` (saves analysing it again).

    Returns
    -------
    torch.nn.Module
        In eval mode. ``forward(x)`` takes one tensor per input node (topological
        order) and returns the output of the graph's sink, or a tuple of the sinks'
        outputs in topological order when there are several. Its ``state_dict`` keys
        are ``target + "." + name`` (:func:`engine.codegen.targets.module_targets`).

    Raises
    ------
    InvalidGraphError
        If the graph is empty or has analysis errors (all listed in the message).
    """
    return build_with_plan(graph, seed, capture, analysis)[0]
