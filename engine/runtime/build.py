"""The live torch model of a graph.

:func:`build_module` compiles the code that :func:`engine.codegen.emit.export_code` writes
(our own text built from sanitised names and checked numbers, never user text) into a
class and instantiates it, so ``forward`` is ordinary Python with one line per node: no
per-node interpretation, and the exported file gives the same model (same
``state_dict`` keys, same initial weights for the same seed).
"""

from __future__ import annotations

import linecache

import torch
from torch import nn

from engine.analysis.analyzer import Analysis
from engine.codegen.emit import InvalidGraphError, Plan, make_plan, render
from engine.core.graph import GraphLike
from engine.runtime.weights import WeightsError, load_weights, save_weights

__all__ = [
    "build_module",
    "build_with_plan",
    "InvalidGraphError",
    "WeightsError",
    "load_weights",
    "save_weights",
]


def _compile(plan: Plan, capture: bool) -> type:
    source = render(plan, capture=capture, main=False)
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
    return namespace[plan.class_name]


def build_with_plan(
    graph: GraphLike, seed: int = 0, capture: bool = False, analysis: Analysis | None = None
) -> tuple[nn.Module, Plan]:
    """Like :func:`build_module`, also returning the :class:`~engine.codegen.emit.Plan` used."""
    plan = make_plan(graph, analysis)
    cls = _compile(plan, capture)
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
        Seeds torch's default initialisation (submodules are created in topological
        order); the global random state is left as it was.
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
        outputs in topological order when there are several. Submodule names are
        :func:`engine.codegen.naming.module_names`.

    Raises
    ------
    InvalidGraphError
        If the graph is empty or has analysis errors (all listed in the message).
    """
    return build_with_plan(graph, seed, capture, analysis)[0]
