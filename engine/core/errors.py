"""Typed errors raised by the engine.

Every error names the node (and, where it applies, the field) it is about, so that
the editor can turn it into a badge on the offending node.
"""

from __future__ import annotations


class EngineError(Exception):
    """Base class of every error the engine raises on purpose."""

    def __init__(self, message: str, node: str | None = None, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.node = node
        self.field = field

    def __str__(self) -> str:  # pragma: no cover - trivial
        return self.message


class ParamError(EngineError):
    """A parameter is missing, unknown, ill-typed or out of range."""


class GraphError(EngineError):
    """An edit would break a structural rule of the graph."""


class CycleError(GraphError):
    """A connection would close a cycle."""


class PortError(GraphError):
    """A port is taken, out of range, or refers to an unknown node."""


class UnknownNodeError(GraphError):
    """A node id that the graph does not hold."""


class DuplicateIdError(GraphError):
    """A node id that the graph already holds."""


class FormatError(EngineError):
    """A graph file cannot be read: not JSON, wrong format, or invalid content."""

    def __init__(
        self,
        message: str,
        node: str | None = None,
        field: str | None = None,
        path: str | None = None,
    ):
        super().__init__(message, node, field)
        self.path = path


class FeatureError(EngineError):
    """A feature run is refused: invalid graph, no single input, or too much memory."""
