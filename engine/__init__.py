"""ConvCanvas engine: the network graph, its analysis, file format, torch model and code.

Importing :mod:`engine` loads no Qt and no torch; the torch parts (``engine.torch_build``,
``engine.features``, ``engine.codegen``) import torch only when they are imported.
"""
from .analysis import Analysis, Analyzer, NodeResult, Totals, analyze, receptive_field
from .errors import (CycleError, DuplicateIdError, EngineError, FormatError, GraphError,
                     ParamError, PortError, UnknownNodeError)
from .graph import GraphEvent, GraphModel, inputs_of
from .layers import CATEGORIES, NODE_TYPES, fmt_shape

__all__ = [
    "Analysis", "Analyzer", "NodeResult", "Totals", "analyze", "receptive_field",
    "CycleError", "DuplicateIdError", "EngineError", "FormatError", "GraphError", "ParamError",
    "PortError", "UnknownNodeError", "GraphEvent", "GraphModel", "inputs_of", "CATEGORIES",
    "NODE_TYPES", "fmt_shape",
]
