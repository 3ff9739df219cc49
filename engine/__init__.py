"""ConvCanvas engine: the network graph, its analysis, file format, torch model and code.

Importing :mod:`engine` loads no Qt and no torch; the torch parts (``engine.runtime.build``,
``engine.runtime.features``, ``engine.codegen.emit``) import torch only when they are imported.
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
