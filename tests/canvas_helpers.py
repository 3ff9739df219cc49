"""Helpers for the canvas tests: small documents and real mouse events on a view."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from designer.actions import CanvasActions
from designer.document import Document
from designer.scene import GraphScene
from designer.view import GraphView
from engine.core.graph import GraphModel

LEFT = Qt.MouseButton.LeftButton
NONE = Qt.MouseButton.NoButton


def chain_model() -> GraphModel:
    """input 3×8×8 → conv (3×3, 4, p1) → relu, laid out left to right."""
    m = GraphModel("chain")
    m.add_node("input", {"channels": 3, "height": 8, "width": 8}, "input", (0, 0))
    m.add_node("conv", {"out_channels": 4, "kernel_size": 3, "padding": 1}, "conv", (260, 0))
    m.add_node("relu", {}, "relu", (520, 0))
    m.connect("input", "conv")
    m.connect("conv", "relu")
    return m


class Canvas:
    """A document with its scene, view and actions, shown at 100 % zoom."""

    def __init__(self, qtbot, model: GraphModel | None = None) -> None:
        self.doc = Document(model)
        self.scene = GraphScene(self.doc)
        self.view = GraphView(self.scene)
        self.actions = CanvasActions(self.doc, self.scene, self.view)
        qtbot.addWidget(self.view)
        self.view.resize(1000, 600)
        self.view.show()
        qtbot.waitExposed(self.view)
        self.view.centerOn(self.scene.items_bounding_rect().center())
        QApplication.processEvents()

    @property
    def model(self) -> GraphModel:
        return self.doc.model

    def item(self, node: str):
        return self.scene.node_item(node)

    def out_port(self, node: str) -> QPointF:
        return self.item(node).output_anchor()

    def in_slot(self, node: str, slot: int = 0) -> QPointF:
        item = self.item(node)
        return item.mapToScene(item.slot_pos(slot))

    def body(self, node: str) -> QPointF:
        item = self.item(node)
        return item.mapToScene(item.rect().center() + QPointF(0, 8))

    # --------------------------------------------------------------- mouse
    def _send(self, kind: QEvent.Type, scene_pt, button, buttons, mods) -> None:
        vp = self.view.viewport()
        local = scene_pt if isinstance(scene_pt, QPoint) else self.view.mapFromScene(scene_pt)
        ev = QMouseEvent(
            kind, QPointF(local), QPointF(vp.mapToGlobal(local)), button, buttons, mods
        )
        QApplication.sendEvent(vp, ev)

    def press(self, pt: QPointF, button=LEFT, mods=Qt.KeyboardModifier.NoModifier) -> None:
        self._send(QEvent.Type.MouseButtonPress, pt, button, button, mods)

    def move(self, pt: QPointF, buttons=LEFT, mods=Qt.KeyboardModifier.NoModifier) -> None:
        self._send(QEvent.Type.MouseMove, pt, NONE, buttons, mods)

    def release(self, pt: QPointF, button=LEFT, mods=Qt.KeyboardModifier.NoModifier) -> None:
        self._send(QEvent.Type.MouseButtonRelease, pt, button, NONE, mods)

    def drag(self, a: QPointF, b: QPointF, button=LEFT, steps: int = 6) -> None:
        """Press at ``a``, move in steps to ``b``, release there.

        Scene coordinates (QPointF), or viewport pixels (QPoint) for gestures that scroll.
        """
        self.press(a, button)
        for i in range(1, steps + 1):
            t = i / steps
            p = a + (b - a) * t
            self.move(p, button)
        self.release(b, button)
        QApplication.processEvents()

    def view_point(self, pt: QPointF) -> QPoint:
        return self.view.mapFromScene(pt)
