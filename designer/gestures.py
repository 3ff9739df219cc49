"""Mouse gestures on the canvas that make connections: one class per gesture.

* :class:`ConnectDrag` — drag from an output port to an input port or a node body (or
  from a free input slot to a node) → :class:`~designer.commands.ConnectCommand`.
* :class:`RewireDrag` — drag an edge's input end: drop on empty canvas →
  :class:`~designer.commands.DisconnectCommand`; on another node → disconnect + connect.
* :class:`PendingDetach` — a press on a wire's input end: a ring shows how far the cursor
  must go before the wire comes off (:data:`DETACH_PX`); released inside it, the press was
  a click and selects the wire. Only a drag out of the ring becomes a :class:`RewireDrag`.

A gesture checks the connection with the engine while hovering (the target turns green or
red) and, when the engine refuses, makes nothing and shows the engine's reason at the
cursor. Gestures only push commands: they never touch the model.
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, QRectF, Qt, QTimer
from PySide6.QtGui import QPainter, QPen
from PySide6.QtWidgets import QGraphicsEllipseItem, QGraphicsItem, QGraphicsPathItem, QToolTip

from designer.commands import ConnectCommand, DisconnectCommand
from designer.edge_item import EdgeItem, curve
from designer.node_item import IN, OUT, NodeItem
from engine.core.errors import EngineError


class MessageItem(QGraphicsItem):
    """A small transient note at the cursor (a refused connection's reason)."""

    MAX_WIDTH = 320

    def __init__(self, scene) -> None:
        super().__init__()
        self._scene = scene
        self.text = ""
        self._rect = QRectF()
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
        self.setZValue(100.0)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.hide()
        self._timer = QTimer(scene)  # dies with the scene, never fires on a deleted item
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.hide)

    def show_text(self, text: str, pos: QPointF, msec: int = 3500) -> None:
        """Show ``text`` just below-right of ``pos`` (scene) for ``msec`` ms."""
        self.prepareGeometryChange()
        self.text = text
        m = self._scene.theme.body_metrics
        r = m.boundingRect(QRectF(0, 0, self.MAX_WIDTH, 1000), Qt.TextFlag.TextWordWrap, text)
        self._rect = QRectF(0, 0, r.width() + 16, r.height() + 10)
        self.setPos(pos + QPointF(14, 14))
        self.show()
        self.update()
        self._timer.start(msec)

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt's name
        return self._rect.adjusted(-1, -1, 1, 1)

    def paint(self, painter: QPainter, option, widget=None) -> None:
        t = self._scene.theme
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(QPen(t.error, 1.0))
        painter.setBrush(t.message_bg)
        painter.drawRoundedRect(self._rect, 5, 5)
        painter.setPen(t.message_text)
        painter.setFont(t.body_font)
        painter.drawText(self._rect.adjusted(8, 5, -8, -5), Qt.TextFlag.TextWordWrap, self.text)


def node_target(scene, pos: QPointF, exclude=None) -> tuple[NodeItem | None, tuple | None]:
    """The node under ``pos`` (scene) and the port hit on it, if any."""
    for item in scene.items(pos):
        if isinstance(item, NodeItem) and item is not exclude:
            return item, item.port_at(item.mapFromScene(pos))
    return None, None


class _DragLine:
    """The dashed curve that follows the cursor while a connection is dragged."""

    def __init__(self, scene, anchor: QPointF, from_output: bool) -> None:
        self.anchor = anchor
        self.from_output = from_output
        self.item = QGraphicsPathItem()
        pen = QPen(scene.theme.highlight, 2.0, Qt.PenStyle.DashLine)
        self.item.setPen(pen)
        self.item.setZValue(50.0)
        scene.addItem(self.item)

    def follow(self, pos: QPointF) -> None:
        self.item.setPath(curve(self.anchor, pos) if self.from_output else curve(pos, self.anchor))

    def remove(self) -> None:
        scene = self.item.scene()
        if scene is not None:
            scene.removeItem(self.item)


class _Drag:
    """Shared hovering logic: check the connection the drop would make."""

    def __init__(self, scene) -> None:
        self.scene = scene
        self.target: NodeItem | None = None
        self.plan: tuple | None = None  # (src, dst, port) the engine accepted
        self.reason: str | None = None  # why the engine refuses the drop
        self._hinted: str | None = None  # the reason already shown while hovering

    def _plan_for(self, node: NodeItem, hit) -> tuple[str, str, int | None]:
        raise NotImplementedError

    def _same(self, node: NodeItem, hit) -> bool:
        return False

    def _hover(self, pos: QPointF) -> None:
        node, hit = node_target(self.scene, pos)
        if self.target is not None and self.target is not node:
            self.target.set_drop_state(None)
        self.target = node
        self.plan = self.reason = None
        if node is None or self._same(node, hit):
            if node is not None:
                node.set_drop_state(None)
            self._unhint()
            return
        src, dst, port = self._plan_for(node, hit)
        try:
            port = self.scene.doc.model.check_connect(src, dst, port)
            self.plan = (src, dst, port)
            node.set_drop_state("ok")
            self._unhint()
        except EngineError as exc:
            if exc.message != self._hinted:  # say why as soon as the target turns red
                self.scene.message.show_text(exc.message, pos)
                self._hinted = exc.message
            self.reason = exc.message
            node.set_drop_state("bad")

    def _unhint(self) -> None:
        """The cursor left a refusing target: take its reason away."""
        if self._hinted is not None:
            self._hinted = None
            self.scene.message.hide()

    def _clear(self) -> None:
        if self.target is not None:
            self.target.set_drop_state(None)
            self.target = None

    def _refuse(self, pos: QPointF, screen: QPoint | None) -> None:
        self.scene.show_message(self.reason, pos, screen)


class ConnectDrag(_Drag):
    """From an output port (``slot is None``) or a free input slot of ``node``."""

    def __init__(self, scene, node: NodeItem, slot: int | None = None) -> None:
        super().__init__(scene)
        self.node = node
        self.slot = slot
        from_output = slot is None
        anchor = node.output_anchor() if from_output else node.mapToScene(node.slot_pos(slot))
        self.line = _DragLine(scene, anchor, from_output)
        self.line.follow(anchor)

    def _plan_for(self, node: NodeItem, hit) -> tuple[str, str, int | None]:
        if self.slot is None:  # output → node
            port = node.port_of_slot(hit[1]) if hit is not None and hit[0] == IN else None
            return self.node.node_id, node.node_id, port
        return node.node_id, self.node.node_id, self.node.port_of_slot(self.slot)

    def _same(self, node: NodeItem, hit) -> bool:
        # Releasing on the port it started from is a cancelled drag, not a self-loop.
        if node is not self.node:
            return False
        return hit == ((OUT, None) if self.slot is None else (IN, self.slot))

    def move(self, pos: QPointF) -> None:
        self.line.follow(pos)
        self._hover(pos)

    def finish(self, pos: QPointF, screen: QPoint | None = None) -> None:
        self._hover(pos)
        self.line.remove()
        self._clear()
        if self.plan is not None:
            src, dst, port = self.plan
            self.scene.doc.undo_stack.push(ConnectCommand(self.scene.doc, src, dst, port))
        elif self.reason is not None:
            self._refuse(pos, screen)
        elif self.target is None:
            # Released on empty canvas: offer to add a node there, wired to this port.
            port = None if self.slot is None else self.node.port_of_slot(self.slot)
            self.scene.link_dropped.emit(
                self.node.node_id, self.slot is None, -1 if port is None else port, pos
            )

    def cancel(self) -> None:
        self.line.remove()
        self._clear()


class RewireDrag(_Drag):
    """Drag the input end of ``edge`` away from its port."""

    def __init__(self, scene, edge: EdgeItem) -> None:
        super().__init__(scene)
        self.edge = edge
        self.src, self.dst, self.port = edge.key
        self.line = _DragLine(scene, edge.src_item.output_anchor(), True)
        self.line.follow(edge.p1)
        edge.hide()

    def _plan_for(self, node: NodeItem, hit) -> tuple[str, str, int | None]:
        port = node.port_of_slot(hit[1]) if hit is not None and hit[0] == IN else None
        return self.src, node.node_id, port

    def _same(self, node: NodeItem, hit) -> bool:
        # Back onto its own node changes nothing, except onto a merge node's free slot:
        # that moves this input to the end of the order (concat order matters).
        if node.node_id != self.dst:
            return False
        return not (
            node.multi_input
            and hit is not None
            and hit[0] == IN
            and node.port_of_slot(hit[1]) is None
        )

    def move(self, pos: QPointF) -> None:
        self.line.follow(pos)
        self._hover(pos)

    def finish(self, pos: QPointF, screen: QPoint | None = None) -> None:
        self._hover(pos)
        target = self.target
        self.line.remove()
        self._clear()
        self.edge.show()
        doc = self.scene.doc
        if target is None:
            doc.undo_stack.push(DisconnectCommand(doc, self.dst, self.port))
        elif self.plan is not None:
            src, dst, port = self.plan
            stack = doc.undo_stack
            what = "Move input" if dst == self.dst else "Reconnect"
            stack.beginMacro(f"{what} '{src}' → '{dst}'")
            try:
                stack.push(DisconnectCommand(doc, self.dst, self.port))
                stack.push(ConnectCommand(doc, src, dst, port))
            finally:
                stack.endMacro()
        elif self.reason is not None:
            self._refuse(pos, screen)

    def cancel(self) -> None:
        self.line.remove()
        self._clear()
        self.edge.show()


#: How far (screen pixels) a press on a wire's input end must move before the wire detaches.
DETACH_PX = 14.0


class PendingDetach:
    """A press on ``edge``'s input end, not yet a drag: a click selects the wire, a drag
    beyond ``radius`` (scene units, :data:`DETACH_PX` on screen) detaches it."""

    def __init__(self, scene, edge: EdgeItem, press: QPointF, radius: float) -> None:
        self.scene = scene
        self.edge = edge
        self.press = QPointF(press)
        self.radius = radius
        self.ring = QGraphicsEllipseItem(
            QRectF(edge.p1.x() - radius, edge.p1.y() - radius, 2 * radius, 2 * radius)
        )
        pen = QPen(scene.theme.highlight, 0, Qt.PenStyle.DotLine)  # cosmetic: 1 px at any zoom
        self.ring.setPen(pen)
        self.ring.setZValue(50.0)
        self.ring.setToolTip("Drag out of the ring to detach the wire")
        scene.addItem(self.ring)

    def beyond(self, pos: QPointF) -> bool:
        """Whether the cursor has left the ring (the press becomes a detach drag)."""
        d = pos - self.press
        return d.x() ** 2 + d.y() ** 2 > self.radius * self.radius

    def move(self, pos: QPointF) -> RewireDrag | None:
        """The detach drag once the cursor leaves the ring, else ``None``."""
        if not self.beyond(pos):
            return None
        self._remove_ring()
        drag = RewireDrag(self.scene, self.edge)
        drag.move(pos)
        return drag

    def finish(self, pos: QPointF, screen: QPoint | None = None) -> None:
        """A click: the wire is selected, nothing is disconnected."""
        self._remove_ring()
        self.scene.clearSelection()
        self.edge.setSelected(True)

    def cancel(self) -> None:
        self._remove_ring()

    def _remove_ring(self) -> None:
        if self.ring.scene() is not None:
            self.ring.scene().removeItem(self.ring)


def show_tooltip(screen: QPoint | None, text: str) -> None:
    """Also show the reason as a tooltip where the cursor is (when there is a screen)."""
    if screen is not None:
        QToolTip.showText(screen, text)
