"""The canvas overview: the whole graph in a small box, the visible part framed; click to jump.

:class:`Minimap` floats in a corner of the :class:`designer.view.GraphView`. It draws
every node as a small block in its header colour (no text: at this size only the shape
of the network matters) and the view's visible area as a frame. Pressing or dragging
centres the view on that point. It redraws its picture of the graph only after the
graph changed (debounced), and the frame on every scroll or zoom.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QWidget

SIZE = (220, 130)  # at most
MIN_HEIGHT = 36
PAD = 6.0
REDRAW_MS = 120


class Minimap(QWidget):
    """An overview of ``view``'s scene (a :class:`designer.view.GraphView`).

    Signals
    -------
    resized()   its height changed to follow the network's shape
    """

    resized = Signal()

    def __init__(self, view) -> None:
        super().__init__(view)
        self.view = view
        self.setFixedSize(*SIZE)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip("Overview of the whole network: click or drag to move the view there")
        self._pixmap: QPixmap | None = None
        self.max_size = SIZE
        self._scene_rect = QRectF()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REDRAW_MS)
        self._timer.timeout.connect(self.rebuild)
        doc = view.graph_scene.doc
        for sig in (doc.node_added, doc.node_removed, doc.nodes_moved, doc.graph_reset):
            sig.connect(self.schedule)
        view.graph_scene.tint_changed.connect(self.schedule)

    # ------------------------------------------------------------------ geometry
    def content_rect(self) -> QRectF:
        """The scene rectangle the minimap shows (every node, with a margin)."""
        return self._scene_rect

    def _scale(self) -> tuple[float, float, float]:
        """``(scale, dx, dy)``: minimap point = scene point · scale + (dx, dy)."""
        r = self._scene_rect
        if r.isEmpty():
            return 1.0, 0.0, 0.0
        s = min((self.width() - 2 * PAD) / r.width(), (self.height() - 2 * PAD) / r.height())
        dx = PAD + (self.width() - 2 * PAD - r.width() * s) / 2 - r.left() * s
        dy = PAD + (self.height() - 2 * PAD - r.height() * s) / 2 - r.top() * s
        return s, dx, dy

    def to_scene(self, p: QPointF) -> QPointF:
        """The scene point under minimap point ``p``."""
        s, dx, dy = self._scale()
        return QPointF((p.x() - dx) / s, (p.y() - dy) / s)

    def from_scene(self, p: QPointF) -> QPointF:
        """The minimap point of scene point ``p``."""
        s, dx, dy = self._scale()
        return QPointF(p.x() * s + dx, p.y() * s + dy)

    def visible_rect(self) -> QRectF:
        """The view's visible scene area, in minimap coordinates."""
        vp = self.view.viewport().rect()
        r = self.view.mapToScene(vp).boundingRect()
        return QRectF(self.from_scene(r.topLeft()), self.from_scene(r.bottomRight()))

    def set_max_size(self, width: int, height: int) -> None:
        """Fit the overview within ``width`` × ``height`` (the view sets it on resize)."""
        size = (max(60, width), max(MIN_HEIGHT, height))
        if size != self.max_size:
            self.max_size = size
            self.schedule()

    # ------------------------------------------------------------------ drawing
    def schedule(self, *_args) -> None:
        """Redraw the graph picture soon (after a burst of changes, once)."""
        self._timer.start()

    def rebuild(self) -> None:
        """Redraw the picture of the graph now."""
        scene = self.view.graph_scene
        rect = QRectF()
        layer = getattr(scene, "block_layer", None)
        shown = [i for i in scene.nodes.values() if i.isVisible()]  # not inside collapsed blocks
        shown += list(layer.cards.values()) if layer is not None else []
        for item in shown:  # nodes only: a long edge's detour is no content
            rect = rect.united(item.sceneBoundingRect())
        self._scene_rect = rect.adjusted(-40, -40, 40, 40) if not rect.isNull() else QRectF()
        if not self._scene_rect.isEmpty():
            # As tall as the network's shape needs (a long thin network: a low strip).
            aspect = self._scene_rect.height() / self._scene_rect.width()
            mw, mh = self.max_size
            w = round(min(mw, max((mh - 2 * PAD) / aspect + 2 * PAD, 2 * MIN_HEIGHT)))
            h = round(min(max((w - 2 * PAD) * aspect + 2 * PAD, MIN_HEIGHT), mh))
            if (w, h) != (self.width(), self.height()):
                self.setFixedSize(w, h)
                self.resized.emit()
        pix = QPixmap(self.size())
        pix.fill(Qt.GlobalColor.transparent)
        if not self._scene_rect.isEmpty():
            s, dx, dy = self._scale()
            p = QPainter(pix)
            p.setRenderHint(QPainter.RenderHint.Antialiasing, False)
            p.setPen(Qt.PenStyle.NoPen)
            theme = scene.theme
            for item in shown:
                r = item.mapRectToScene(item.rect())
                tint = getattr(item, "tint", None)
                ntype = getattr(item, "ntype", None)  # a collapsed block's card has none
                category = ntype.category if ntype is not None else "Merge"
                p.setBrush(QColor(tint) if tint is not None else theme.accent(category))
                p.drawRect(
                    QRectF(
                        r.left() * s + dx,
                        r.top() * s + dy,
                        max(2.0, r.width() * s),
                        max(2.0, r.height() * s),
                    )
                )
            p.end()
        self._pixmap = pix
        self.update()

    def paintEvent(self, _event) -> None:  # noqa: N802 - Qt's name
        if self._pixmap is None:
            self.rebuild()
        theme = self.view.graph_scene.theme
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        back = QColor(theme.node_body)
        back.setAlpha(225)
        p.setBrush(back)
        p.setPen(QPen(theme.node_border, 1))
        p.drawRoundedRect(QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5), 4, 4)
        p.drawPixmap(0, 0, self._pixmap)
        frame = self.visible_rect().intersected(QRectF(self.rect()).adjusted(1, 1, -1, -1))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.setPen(QPen(theme.highlight, 1.5))
        p.drawRect(frame)
        p.end()

    # ------------------------------------------------------------------ mouse
    def jump_to(self, p: QPointF) -> None:
        """Centre the view on the scene point under minimap point ``p``."""
        if self._scene_rect.isEmpty():
            return
        self.view.centerOn(self.to_scene(p))
        self.update()

    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if event.button() == Qt.MouseButton.LeftButton:
            self.jump_to(event.position())
            event.accept()

    def mouseMoveEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if event.buttons() & Qt.MouseButton.LeftButton:
            self.jump_to(event.position())
            event.accept()
