"""The item that shows one edge: a cubic curve labelled with the tensor shape it carries.

An edge carries its label at its middle; when a node feeds several nodes, only the
flattest of its edges shows the (shared) label, so that fan-outs are not cluttered with
copies. (``LABEL_SOURCE`` puts a label just after the output port instead.)
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QPainter, QPainterPath, QPainterPathStroker, QPen, QStaticText
from PySide6.QtWidgets import QGraphicsItem, QStyle, QStyleOptionGraphicsItem

from designer.theme import Theme

LABEL_NONE, LABEL_MID, LABEL_SOURCE = 0, 1, 2
_PLAIN = Qt.TextFormat.PlainText
X_WRAP = 400.0  # a wire going this far back and down joins two rows of a wrapped layout
PORT_CLEARANCE = 12.0  # room a label on the line leaves to a port (radius 5) on either side


def curve(p0: QPointF, p1: QPointF) -> QPainterPath:
    """The S-curve from an output port at ``p0`` to an input port at ``p1``."""
    dx = max(abs(p1.x() - p0.x()) * 0.5, 40.0)
    path = QPainterPath(p0)
    path.cubicTo(QPointF(p0.x() + dx, p0.y()), QPointF(p1.x() - dx, p1.y()), p1)
    return path


def wrap_path(p0: QPointF, p1: QPointF) -> QPainterPath:
    """A wire from the end of one row to the start of the next (the layout wraps long
    chains): out, down the gap between the rows, back along it, and in."""
    mid = p0.y() + (p1.y() - p0.y()) * 0.5 if p1.y() > p0.y() else p0.y() - 80.0
    path = QPainterPath(p0)
    r = 24.0
    path.cubicTo(
        QPointF(p0.x() + 2 * r, p0.y()), QPointF(p0.x() + 2 * r, mid), QPointF(p0.x(), mid)
    )
    path.lineTo(QPointF(p1.x(), mid))
    path.cubicTo(QPointF(p1.x() - 2 * r, mid), QPointF(p1.x() - 2 * r, p1.y()), p1)
    return path


def _hits(path: QPainterPath, rects: list[QRectF], samples: int = 32) -> bool:
    for i in range(1, samples):
        p = path.pointAtPercent(i / samples)
        if any(r.contains(p) for r in rects):
            return True
    return False


def route(p0: QPointF, p1: QPointF, obstacles: list[QRectF]) -> QPainterPath:
    """The S-curve, or, when it would pass behind other nodes, a path that bends into a
    free horizontal lane right after the source and out of it just before the target."""
    span = p1.x() - p0.x()
    if span < -X_WRAP and p1.y() - p0.y() > 60:  # into the next row: along the gap
        return wrap_path(p0, p1)
    plain = curve(p0, p1)
    if span < 160 or not obstacles:
        return plain
    pad = 10.0
    boxes = [r.adjusted(-pad, -pad, pad, pad) for r in obstacles]
    if not _hits(plain, boxes):
        return plain
    bend = min(64.0, span / 4)
    xa, xb = p0.x() + bend, p1.x() - bend
    lanes = {p0.y(), p1.y()}
    for r in boxes:
        lanes.add(r.top() - 4)
        lanes.add(r.bottom() + 4)

    def free(y: float) -> bool:
        return not any(r.top() < y < r.bottom() and r.left() < xb and r.right() > xa for r in boxes)

    best = None
    for y in sorted(lanes, key=lambda y: (abs(y - p0.y()) + abs(y - p1.y()), abs(y - p0.y()), y)):
        if free(y):
            best = y
            break
    if best is None:
        return plain
    path = QPainterPath(p0)
    h = bend / 2
    path.cubicTo(QPointF(p0.x() + h, p0.y()), QPointF(xa - h, best), QPointF(xa, best))
    path.lineTo(QPointF(xb, best))
    path.cubicTo(QPointF(xb + h, best), QPointF(p1.x() - h, p1.y()), p1)
    return path


class EdgeItem(QGraphicsItem):
    """Edge ``src → dst`` at input ``port``; lives in scene coordinates (pos is 0, 0)."""

    def __init__(self, src_item, dst_item, port: int, theme: Theme) -> None:
        super().__init__()
        self.src_item = src_item
        self.dst_item = dst_item
        self.port = port
        self.theme = theme
        self.label = ""
        self.label_mode = LABEL_MID
        self._static: QStaticText | None = None  # made on the first paint of a label
        self._label_w = 0.0
        self._path = QPainterPath()
        self._shape = QPainterPath()
        self._bounds = QRectF()
        self._label_rect = QRectF()
        self.p0 = QPointF()
        self.p1 = QPointF()
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setZValue(0.0)
        self.hovered = False
        self.setAcceptHoverEvents(True)

    @property
    def key(self) -> tuple[str, str, int]:
        """``(src, dst, port)`` as in the model."""
        return (self.src_item.node_id, self.dst_item.node_id, self.port)

    def set_label(self, text: str, mode: int) -> None:
        """Show ``text`` in the middle (LABEL_MID), after the source (LABEL_SOURCE) or not."""
        if text == self.label and mode == self.label_mode:
            return
        width = self.theme.small_width(text)
        same_box = (
            mode == self.label_mode and width == self._label_w and bool(text) == bool(self.label)
        )
        self.label = text
        self.label_mode = mode
        self._static = None  # laid out when painted (most edges of a big design are off screen)
        if same_box:
            # Same size (e.g. 64×40×40 → 64×32×32, digits are equally wide): the label box
            # and the bounds stay; only the text is drawn anew.
            if not self._label_rect.isNull():  # (a hidden label has nothing to repaint)
                self.update(self._label_rect)
            return
        self._label_w = width
        self.prepareGeometryChange()
        self._place_label()

    def set_theme(self, theme: Theme) -> None:
        """Repaint with another theme."""
        self.theme = theme
        self._static = None
        self._label_w = theme.small_width(self.label)
        self.prepareGeometryChange()
        self._place_label()

    def update_path(self) -> None:
        """Re-route after an end moved."""
        self.prepareGeometryChange()
        self.p0 = self.src_item.output_anchor()
        self.p1 = self.dst_item.input_anchor(self.port)
        self._path = route(self.p0, self.p1, self._obstacles())
        stroker = QPainterPathStroker()
        stroker.setWidth(10.0)
        self._shape = stroker.createStroke(self._path)
        self._place_label()

    def _place_label(self) -> None:
        bounds = self._path.controlPointRect().adjusted(-3, -3, 3, 3)
        self._label_rect = QRectF()
        if self.label and self.label_mode != LABEL_NONE:
            m = self.theme.small_metrics
            w, h = self._label_w + 6, m.height() + 2
            if self.label_mode == LABEL_MID:
                c = self._path.pointAtPercent(0.5)
                cy = c.y() - h / 2
                span = self.p1.x() - self.p0.x()
                short = span < w + 2 * PORT_CLEARANCE and abs(self.p1.y() - self.p0.y()) < 12
                if short:
                    cy = c.y() - h - 4  # a short straight edge: above it, clear of the ports
                if short and 0 <= span < w + 2:
                    pass  # no room between the nodes: the source node shows the shape anyway
                else:
                    self._label_rect = QRectF(c.x() - w / 2, cy, w, h)
            else:
                self._label_rect = QRectF(self.p0.x() + 12, self.p0.y() - h - 3, w, h)
            bounds = bounds.united(self._label_rect.adjusted(-1, -1, 1, 1))
        self._bounds = bounds
        self.update()

    def _obstacles(self) -> list[QRectF]:
        scene = self.scene()
        if scene is None or self.p1.x() - self.p0.x() < 160 or getattr(scene, "building", True):
            return []
        corridor = QRectF(self.p0, self.p1).normalized().adjusted(20, -400, -20, 400)
        return scene.node_rects_in(corridor, (self.src_item, self.dst_item))

    @property
    def routed(self) -> bool:
        """Whether the edge takes a lane around other nodes (not the plain S-curve)."""
        return self._path.elementCount() > 4

    def path(self) -> QPainterPath:
        """The curve in scene coordinates."""
        return self._path

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt's name
        return self._bounds

    def shape(self) -> QPainterPath:
        return self._shape

    def near_input_end(self, pos: QPointF, radius: float = 26.0) -> bool:
        """Whether ``pos`` (scene) is close to the input end, where a drag detaches it."""
        d = pos - self.p1
        return d.x() ** 2 + d.y() ** 2 <= radius * radius

    def hoverEnterEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self.hovered = True
        self.update()
        super().hoverEnterEvent(event)

    def hoverMoveEvent(self, event) -> None:  # noqa: N802 - Qt's name
        # Near its input end an edge can be picked up and dragged off (or elsewhere).
        if self.near_input_end(event.scenePos()):
            self.setCursor(Qt.CursorShape.OpenHandCursor)
        else:
            self.unsetCursor()
        super().hoverMoveEvent(event)

    def hoverLeaveEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self.hovered = False
        self.unsetCursor()
        self.update()
        super().hoverLeaveEvent(event)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget=None) -> None:
        t = self.theme
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        bad = self.dst_item.in_error or self.dst_item.waiting
        pen = QPen(
            t.highlight if selected else t.edge, 2.6 if selected else (2.4 if self.hovered else 1.6)
        )
        if bad and not selected:
            pen.setStyle(Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self._path)
        if self._label_rect.isNull():
            return
        lod = QStyleOptionGraphicsItem.levelOfDetailFromTransform(painter.worldTransform())
        if lod < 0.55:
            return
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(t.edge_label_bg)
        painter.drawRoundedRect(self._label_rect, 4, 4)
        painter.setPen(t.text_muted)
        painter.setFont(t.small_font)
        if self._static is None:
            self._static = QStaticText(self.label)
            self._static.setTextFormat(_PLAIN)
        painter.drawStaticText(
            QPointF(self._label_rect.x() + 3, self._label_rect.y() + 1), self._static
        )
