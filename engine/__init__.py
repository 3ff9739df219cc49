"""ConvCanvas engine: the network graph, its analysis, file format, torch model and code.

Importing :mod:`engine` loads no Qt and no torch. Only :mod:`engine.runtime` (the live model,
its weights and feature capture) imports torch, and only when those modules are imported;
code generation (:mod:`engine.codegen`) writes text and needs no torch. See
docs/architecture.md for the map of the sub-packages.
"""

from engine.analysis.analyzer import (
    Analysis,
    Analyzer,
    NodeResult,
    Totals,
    analyze,
    receptive_field,
)
from engine.core.errors import (
    CycleError,
    DuplicateIdError,
    EngineError,
    FormatError,
    GraphError,
    ParamError,
    PortError,
    UnknownNodeError,
)
from engine.core.graph import GraphEvent, GraphModel, inputs_of
from engine.nodes import CATEGORIES, NODE_TYPES, fmt_shape

__all__ = [
    "Analysis",
    "Analyzer",
    "NodeResult",
    "Totals",
    "analyze",
    "receptive_field",
    "CycleError",
    "DuplicateIdError",
    "EngineError",
    "FormatError",
    "GraphError",
    "ParamError",
    "PortError",
    "UnknownNodeError",
    "GraphEvent",
    "GraphModel",
    "inputs_of",
    "CATEGORIES",
    "NODE_TYPES",
    "fmt_shape",
]
