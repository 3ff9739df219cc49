"""Nodes that do not reach the network's output: dimmed, with a badge saying so.

:func:`mark_detached` is called by the scene after every analysis with the nodes
:func:`engine.analysis.reach.not_reaching_output` reports; it only changes items whose
state changed.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem

DETACHED_TEXT = "not connected to the output"
DIM = 0.45


class DetachedBadge(QGraphicsItem):
    """A small label over a node's top edge: ``not connected to the output`` (not dimmed)."""

    def __init__(self, parent: QGraphicsItem, theme) -> None:
        super().__init__(parent)
        self.theme = theme
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresParentOpacity)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        fm = theme.body_metrics
        self._rect = QRectF(0, 0, fm.horizontalAdvance(DETACHED_TEXT) + 12, fm.height() + 4)
        self.setPos(QPointF(4, -self._rect.height() - 2))
        self.setZValue(5.0)

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt's name
        return self._rect.adjusted(-1, -1, 1, 1)

    def paint(self, painter: QPainter, option, widget=None) -> None:
        t = self.theme
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(QPen(t.text_muted, 1.0))
        painter.setBrush(t.edge_label_bg)
        painter.drawRoundedRect(self._rect, 4, 4)
        painter.setPen(t.text)
        painter.setFont(t.body_font)
        painter.drawText(self._rect, Qt.AlignmentFlag.AlignCenter, DETACHED_TEXT)


def mark_detached(items: dict, detached: set[str]) -> None:
    """Dim the node items in ``detached`` and give them the badge; undo it for the rest."""
    for n, item in items.items():
        flag = n in detached
        if flag == item.detached:
            continue
        item.detached = flag
        if flag:
            item.detached_badge = DetachedBadge(item, item.theme)
        else:
            badge = getattr(item, "detached_badge", None)
            if badge is not None and badge.scene() is not None:
                badge.scene().removeItem(badge)
            item.detached_badge = None
        item.refresh_opacity()
        item.node_tip = item._tooltip()
        if item.hover_port is None:
            item.setToolTip(item.node_tip)
