"""Tracing a model with torch.fx, recording each node's module path and source line.

:class:`ScopeTracer` is ``torch.fx.Tracer`` plus two facts per created node, stored in
``node.meta``: ``"cc_scope"``, the dotted path of the module whose ``forward`` made the
node (``"layer1.0"``), and ``"cc_where"``, the user source location (file name and line,
the first frame outside torch). :func:`trace` turns fx's failures into a
:class:`~engine.interop.errors.TraceError` naming the line.
"""

from __future__ import annotations

import linecache
import os
import sys
import traceback
from dataclasses import dataclass

import torch
from torch import fx, nn

from engine.interop.errors import TraceError

_TORCH_DIR = os.path.dirname(torch.__file__) + os.sep

# Modules outside torch.nn that are leaves: their inference behaviour is one node type.
LEAF_CLASS_NAMES = frozenset({"StochasticDepth"})


@dataclass(frozen=True)
class Where:
    """A user source location: file, line and the line's text."""

    filename: str
    lineno: int

    @property
    def short(self) -> str:
        """``resnet.py:92``."""
        return f"{os.path.basename(self.filename)}:{self.lineno}"

    @property
    def text(self) -> str:
        """The source line, stripped (empty when unknown)."""
        return linecache.getline(self.filename, self.lineno).strip()


def _user_frame() -> Where | None:
    f = sys._getframe(2)
    while f is not None:
        name = f.f_code.co_filename
        if not name.startswith(_TORCH_DIR) and name != __file__:
            return Where(name, f.f_lineno)
        f = f.f_back
    return None


class ScopeTracer(fx.Tracer):
    """fx's tracer that keeps each node's module path and source location."""

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        """torch.nn's layers, and the modules of :data:`LEAF_CLASS_NAMES`."""
        if type(m).__name__ in LEAF_CLASS_NAMES:
            return True
        return super().is_leaf_module(m, module_qualified_name)

    def create_node(self, kind, target, args, kwargs, name=None, type_expr=None):  # noqa: D102
        node = super().create_node(kind, target, args, kwargs, name, type_expr)
        node.meta["cc_scope"] = self.scope.module_path
        node.meta["cc_where"] = _user_frame()
        return node


def _failure_where(exc: BaseException) -> Where | None:
    where = None
    for fr in traceback.extract_tb(exc.__traceback__):
        if not fr.filename.startswith(_TORCH_DIR) and fr.filename != __file__:
            where = Where(fr.filename, fr.lineno or 0)
    return where


def trace(model: nn.Module) -> fx.Graph:
    """Trace ``model`` (in eval mode) into an fx graph with scopes and source locations.

    Raises
    ------
    TraceError
        If torch.fx cannot trace the model; the message names the user's line.
    """
    tracer = ScopeTracer()
    try:
        graph = tracer.trace(model)
    except Exception as exc:  # noqa: BLE001 - fx raises many kinds; all are reported
        where = _failure_where(exc)
        at = f" at {where.short}" if where else ""
        line = f" (`{where.text}`)" if where and where.text else ""
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if "control flow" in msg or "iterated" in msg or "bool" in msg.lower():
            why = (
                "the model's control flow depends on the input tensor's values, which "
                "torch.fx cannot follow; only code that runs the same operations for every "
                "input can be imported"
            )
        else:
            why = f"{type(exc).__name__}: {msg}"
        raise TraceError(f"cannot trace the model{at}{line}: {why}") from None
    return graph
