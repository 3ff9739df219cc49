"""The "first steps" card on an empty canvas: the five gestures a newcomer needs.

:class:`FirstSteps` floats at the top of the :class:`designer.view.GraphView` while the
design holds at most one node (a new design has just its input), and goes away by
itself once there is something to wire, or when closed (until the next new design).
"""

from __future__ import annotations

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QVBoxLayout

STEPS = (
    ("Add", "drag a node type from the <b>Nodes</b> panel onto the canvas"),
    ("Wire", "drag from a node's output port (right) to another's input port (left)"),
    ("Quick-add", "press <b>Tab</b> (or right-click) on the canvas and type a name"),
    ("Delete", "select and press <b>Delete</b>; <b>Ctrl+Z</b> undoes anything"),
    ("Look", "<b>F</b> fits the network; Help → Keyboard shortcuts lists every key"),
)


def steps_html() -> str:
    """The card's text as rich text."""
    rows = "".join(f"<tr><td><b>{k}</b>&nbsp;&nbsp;</td><td>{v}</td></tr>" for k, v in STEPS)
    return f"<b>First steps</b><table cellspacing='2'>{rows}</table>"


class FirstSteps(QFrame):
    """The card; :meth:`refresh` shows or hides it for the document's node count."""

    def __init__(self, view) -> None:
        super().__init__(view)
        self.view = view
        self.dismissed = False
        self.setObjectName("first_steps")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        self.setBackgroundRole(QPalette.ColorRole.ToolTipBase)
        self.label = QLabel(steps_html(), self)
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.setWordWrap(True)
        self.label.setForegroundRole(QPalette.ColorRole.ToolTipText)
        self.close_button = QToolButton(self)
        self.close_button.setText("✕")
        self.close_button.setAutoRaise(True)
        self.close_button.setToolTip("Hide the first steps")
        self.close_button.clicked.connect(self.dismiss)
        side = QVBoxLayout()
        side.addWidget(self.close_button)
        side.addStretch(1)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(12, 8, 6, 8)
        lay.addWidget(self.label, 1)
        lay.addLayout(side)
        doc = view.graph_scene.doc
        doc.node_added.connect(self.refresh)
        doc.node_removed.connect(self.refresh)
        doc.graph_reset.connect(self._on_reset)
        self.refresh()

    def wanted(self) -> bool:
        """Whether the card should show: at most one node, and not closed."""
        return not self.dismissed and len(self.view.graph_scene.doc.model) <= 1

    def refresh(self, *_args) -> None:
        """Show or hide the card, and place it at the top centre of the view."""
        on = self.wanted()
        if on:
            self.place()
        self.setVisible(on)

    def place(self) -> None:
        """Top centre of the view, at most 520 px wide; at the bottom instead when it
        would hide the design's node there (a short canvas, the input in the middle)."""
        vp = self.view.viewport().geometry()
        w = min(520, max(200, vp.width() - 40))
        h = self.layout().heightForWidth(w)
        self.setFixedWidth(w)
        self.setFixedHeight(h)
        x = vp.left() + (vp.width() - w) // 2
        top = QRect(x, vp.top() + 16, w, h)
        bottom = QRect(x, vp.bottom() - 16 - h, w, h)
        nodes = self._node_rects()
        if any(top.intersects(r) for r in nodes) and not any(bottom.intersects(r) for r in nodes):
            top = bottom
        self.move(top.topLeft())
        self.raise_()

    def _node_rects(self) -> list[QRect]:
        """Where the design's nodes are, in the view's coordinates."""
        view = self.view
        vp = view.viewport().geometry()
        out = []
        for item in view.graph_scene.nodes.values():
            r = view.mapFromScene(item.sceneBoundingRect()).boundingRect()
            out.append(r.translated(vp.topLeft()))
        return out

    def dismiss(self) -> None:
        """Hide the card until the next new design."""
        self.dismissed = True
        self.hide()

    def _on_reset(self) -> None:
        self.dismissed = False
        self.refresh()
