"""A minimal stand-in for the designer canvas, used only if ``designer`` has none.

It offers the same names (``GraphScene``, ``GraphView``, ``CanvasActions``) with
selection and add-at-centre, so the panels and window work while the canvas is built.
"""
from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QGraphicsScene, QGraphicsView

from designer.commands import AddNodeCommand
from designer.defaults import starter_params


class GraphScene(QGraphicsScene):
    """Selection only: no items are drawn."""

    selection_changed_nodes = Signal(list)
    node_activated = Signal(str)

    def __init__(self, doc, parent=None) -> None:
        super().__init__(parent)
        self.doc = doc
        self._selected: list[str] = []
        doc.node_removed.connect(lambda n: self.select_nodes(
            [m for m in self._selected if m != n]) if n in self._selected else None)
        doc.graph_reset.connect(lambda: self.select_nodes([]))

    def selected_nodes(self) -> list[str]:
        return list(self._selected)

    def select_nodes(self, ids) -> None:
        self._selected = [n for n in ids if n in self.doc.model]
        self.selection_changed_nodes.emit(list(self._selected))

    def set_node_tint(self, *args) -> None:
        pass


class GraphView(QGraphicsView):
    """Adds nodes at the centre; accepts nothing else."""

    def __init__(self, scene: GraphScene, parent=None) -> None:
        super().__init__(scene, parent)
        self.graph_scene = scene

    def add_node_at_center(self, type_name: str) -> str:
        doc = self.graph_scene.doc
        cmd = AddNodeCommand(doc, type_name, starter_params(type_name), (0.0, 0.0))
        doc.undo_stack.push(cmd)
        self.graph_scene.select_nodes([cmd.node_id])
        return cmd.node_id


class CanvasActions(QObject):
    """No canvas actions."""

    def __init__(self, doc, scene, view, parent=None) -> None:
        super().__init__(parent)
