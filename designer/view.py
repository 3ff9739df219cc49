"""The canvas view: zoom, pan, grid, rubber-band selection, drops and quick-add.

Zoom with the wheel (at the cursor), Ctrl+plus/minus or fit; pan with the middle button
or space+drag; drop a palette entry (mime type :data:`NODE_MIME`) to add a node there;
Tab or a right-click on empty canvas opens the quick-add popup; the arrow keys nudge the
selection (Shift: farther); ``F`` fits the network, ``Shift+F`` the selection.

The wheel zooms about the point under the cursor, also when zoomed far out: the view's
scene rectangle reaches far beyond the nodes, so the view can always keep that point
where it is. A corner shows the zoom level and an overview (:mod:`designer.minimap`);
an empty design shows the first steps (:mod:`designer.first_steps`). A fit never goes
below :data:`READABLE_SCALE`: a network too big to read whole is fitted by its start,
and the overview shows the rest.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QEvent, QLineF, QPoint, QPointF, QRectF, Qt
from PySide6.QtGui import QCursor, QPainter, QPen
from PySide6.QtWidgets import QGraphicsView, QMenu, QToolButton

from designer import theme as th
from designer.commands import AddNodeCommand, ConnectCommand
from designer.defaults import starter_params
from designer.edge_item import EdgeItem
from designer.first_steps import FirstSteps
from designer.minimap import Minimap
from designer.node_item import NodeItem
from designer.nudge import NUDGE_BIG_STEP, NUDGE_STEP, nudge
from designer.placement import free_offset, node_rect
from designer.quick_add import QuickAddPopup
from designer.scene import GraphScene
from engine.core.errors import EngineError
from engine.nodes import NODE_TYPES

NODE_MIME = "application/x-convcanvas-node-type"
FIT_MAX_SCALE = 1.2
MIN_SCALE, MAX_SCALE = 0.04, 4.0  # 4 %: fit to view shows all of GoogLeNet
GRID = 24.0
READABLE_SCALE = 0.35  # short labels read from here up; fits never go below it
WHEEL_STEP = 1.2  # zoom factor of one wheel notch (120 units)
VIEW_REACH = 200_000.0  # the view's scene rect reaches this far: zoom anchors everywhere
CORNER = 10  # px between the overlays and the view's edge


def nodes_rect(scene) -> QRectF:
    """The rectangle holding every node of ``scene`` (edges left out: a long edge's
    detour must not make a fit or the overview tiny)."""
    rect = QRectF()
    for item in scene.nodes.values():
        rect = rect.united(item.sceneBoundingRect())
    return rect


class GraphView(QGraphicsView):
    """The node editor's view of a :class:`GraphScene`."""

    def __init__(self, scene: GraphScene, parent=None) -> None:
        super().__init__(scene, parent)
        self.graph_scene = scene
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
        self.setRubberBandSelectionMode(Qt.ItemSelectionMode.IntersectsItemShape)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setCacheMode(QGraphicsView.CacheModeFlag.CacheBackground)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)
        self.quick_add = QuickAddPopup(self)
        self.quick_add.chosen.connect(self._quick_add_chosen)
        self._quick_add_pos = QPointF()
        self._pan_from: QPoint | None = None
        self._space = False
        self.context_actions: list = []
        scene.tint_changed.connect(self.viewport().update)
        scene.connection_refused.connect(self._keep_message_visible)
        scene.link_dropped.connect(self._on_link_dropped)
        self._pending_link: tuple[str, bool, int] | None = None
        self.setMinimumSize(200, 150)
        r = VIEW_REACH
        self.setSceneRect(QRectF(-r, -r, 2 * r, 2 * r))
        self.zoom_button = QToolButton(self)
        self.zoom_button.setObjectName("zoom_level")
        self.zoom_button.setAutoRaise(False)
        self.zoom_button.setToolTip("Zoom level: click for 100 %")
        self.zoom_button.clicked.connect(self.zoom_actual)
        self.minimap = Minimap(self)
        self.minimap.resized.connect(self._place_overlays)
        self.first_steps = FirstSteps(self)
        self._update_zoom_label()

    # ------------------------------------------------------------------ zoom
    def zoom(self) -> float:
        """The current scale (1 = 100 %)."""
        return self.transform().m11()

    def zoom_by(
        self, factor: float, anchor_under_mouse: bool = True, at: QPointF | None = None
    ) -> None:
        """Scale by ``factor``, clamped to 4 %–400 %.

        The scene point under viewport point ``at`` stays there (default: the mouse
        cursor, or the view centre when ``anchor_under_mouse`` is false or the cursor is
        outside the view).
        """
        current = self.zoom()
        factor = min(max(factor, MIN_SCALE / current), MAX_SCALE / current)
        if abs(factor - 1.0) < 1e-9:
            return
        if at is None:
            vp = self.viewport()
            cursor = vp.mapFromGlobal(QCursor.pos())
            inside = anchor_under_mouse and vp.rect().contains(cursor)
            at = QPointF(cursor) if inside else QPointF(vp.rect().center())
        fixed = self.viewportTransform().inverted()[0].map(at)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.scale(factor, factor)
        moved = self.viewportTransform().map(fixed) - at
        self.pan_by(-moved.x(), -moved.y())
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self._update_zoom_label()

    def zoom_actual(self) -> None:
        """Zoom to 100 % about the view centre."""
        self.zoom_by(1.0 / self.zoom(), anchor_under_mouse=False)

    def zoom_in(self) -> None:
        """Zoom in around the view centre."""
        self.zoom_by(1.25, anchor_under_mouse=False)

    def zoom_out(self) -> None:
        """Zoom out around the view centre."""
        self.zoom_by(1 / 1.25, anchor_under_mouse=False)

    def fit_to_view(self) -> None:
        """Show every node, centred, if that is readable; else the start of the network.

        At most 120 % (a small design is not blown up); at least :data:`READABLE_SCALE`:
        a bigger network shows its inputs and what follows them, and the overview (and
        the zoom-level button) tells where the rest is.
        """
        scene = self.graph_scene
        rect = nodes_rect(scene)
        if rect.isNull():
            self.resetTransform()
            self.centerOn(0, 0)
            self._update_zoom_label()
            return
        starts = [
            scene.node_item(n)
            for n in scene.doc.model.nodes
            if not scene.doc.model.graph.in_degree(n) and scene.node_item(n) is not None
        ]
        self.fit_rect(rect, starts)

    def fit_selection(self) -> None:
        """Fit the selected nodes (nothing selected: the whole network)."""
        scene = self.graph_scene
        items = [scene.node_item(n) for n in scene.selected_nodes()]
        items = [i for i in items if i is not None]
        if not items:
            self.fit_to_view()
            return
        rect = QRectF()
        for i in items:
            rect = rect.united(i.sceneBoundingRect())
        self.fit_rect(rect, items[:1])

    def fit_rect(self, rect: QRectF, starts=()) -> None:
        """Show ``rect`` at 120 % at most; below a readable zoom, its start (``starts``)."""
        vp = self.viewport().rect()
        card = self.first_steps
        reserve = 0  # the first-steps card's band at the top is not room for the design
        if card.wanted():
            card.place()
            reserve = card.height() + 24
            vp = vp.adjusted(0, reserve, 0, 0)
        padded = rect.adjusted(-30, -30, 30, 30)
        fit = min(vp.width() / padded.width(), max(vp.height(), 1) / padded.height())
        scale = min(max(fit, READABLE_SCALE), FIT_MAX_SCALE)
        self.zoom_by(scale / self.zoom(), anchor_under_mouse=False)
        if fit >= READABLE_SCALE or not starts:
            self.centerOn(rect.center() - QPointF(0, reserve / 2 / scale))
        else:
            # Too big to read whole: its left end (where the inputs are), at a readable
            # zoom; vertically the start's middle, or the whole height if it fits.
            start = QRectF()
            for item in starts:
                start = start.united(item.sceneBoundingRect())
            half_w = vp.width() / scale / 2
            half_h = vp.height() / scale / 2
            y = rect.center().y() if rect.height() + 60 <= 2 * half_h else start.center().y()
            x = min(rect.left(), start.left()) - 30 + half_w
            self.centerOn(QPointF(x, y))
        self._update_zoom_label()

    def wheelEvent(self, event) -> None:  # noqa: N802 - Qt's name
        delta = event.angleDelta().y() or event.pixelDelta().y()
        if delta:
            self.zoom_by(math.pow(WHEEL_STEP, delta / 120.0), at=event.position())
        event.accept()

    # ------------------------------------------------------------------ overlays
    def _update_zoom_label(self) -> None:
        self.zoom_button.setText(f"{round(100 * self.zoom())} %")
        self.zoom_button.adjustSize()
        self._place_overlays()
        self.minimap.update()

    def _place_overlays(self) -> None:
        vp = self.viewport().geometry()
        b = self.zoom_button
        b.move(vp.right() - b.width() - CORNER, vp.bottom() - b.height() - CORNER)
        m = self.minimap
        # At most a fifth of the width and a third of the height: it must not hide nodes.
        m.set_max_size(min(220, vp.width() // 5), min(130, vp.height() // 3))
        m.move(vp.right() - m.width() - CORNER, b.y() - m.height() - 6)
        small = vp.width() < 400 or vp.height() < 200
        m.setVisible(not small and self.overview_wanted())
        self.first_steps.refresh()

    def overview_wanted(self) -> bool:
        """Whether the overview shows: some of the network is outside the view."""
        rect = nodes_rect(self.graph_scene)
        if rect.isNull():
            return False
        seen = self.mapToScene(self.viewport().rect()).boundingRect()
        return not seen.contains(rect)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._place_overlays()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        # Qt re-centres a view being shown on the scene point the mouse last moved over
        # (its transformation anchor): switching back to a tab would undo a fit or a pan.
        anchor = self.transformationAnchor()
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        super().showEvent(event)
        self.setTransformationAnchor(anchor)

    # ------------------------------------------------------------------ adding nodes
    def visible_area(self, margin: float = 24.0) -> QRectF:
        """The visible part of the canvas in scene units, ``margin`` pixels in from its edges."""
        vp = QRectF(self.viewport().rect()).adjusted(margin, margin, -margin, -margin)
        return self.viewportTransform().inverted()[0].mapRect(vp)

    def free_spot(self, x: float, y: float) -> tuple[float, float]:
        """The nearest top-left to ``(x, y)`` where a new node is in view and on no other."""
        dx, dy = free_offset(self.graph_scene, [node_rect(x, y)], self.visible_area())
        return x + dx, y + dy

    def reveal(self, nodes) -> None:
        """Scroll so that the items of ``nodes`` are in view (centred if they were not)."""
        scene = self.graph_scene
        rect = QRectF()
        for n in nodes:
            item = scene.node_item(n)
            if item is not None:
                rect = rect.united(item.sceneBoundingRect())
        if rect.isNull() or self.visible_area(8).contains(rect):
            return
        self.centerOn(rect.center())

    def add_node_at(self, type_name: str, scene_pos: QPointF) -> str:
        """Add a ``type_name`` node near ``scene_pos`` in free, visible space; select it.

        Returns its id.
        """
        doc = self.graph_scene.doc
        pos = self.free_spot(
            scene_pos.x() - th.NODE_WIDTH / 2, scene_pos.y() - th.HEADER_HEIGHT / 2
        )
        cmd = AddNodeCommand(doc, type_name, starter_params(type_name), pos)
        doc.undo_stack.push(cmd)
        self.graph_scene.select_nodes([cmd.node_id])
        self.reveal([cmd.node_id])
        return cmd.node_id

    def add_node_at_center(self, type_name: str) -> str:
        """Add a node in the middle of the visible canvas (palette double-click)."""
        c = self.mapToScene(self.viewport().rect().center())
        return self.add_node_at(type_name, c)

    def cursor_scene_pos(self) -> QPointF | None:
        """Where the mouse is on the canvas, or ``None`` when it is outside the view."""
        p = self.viewport().mapFromGlobal(QCursor.pos())
        return self.mapToScene(p) if self.viewport().rect().contains(p) else None

    def open_quick_add(
        self, view_pos: QPoint | None = None, link: tuple[str, bool, int] | None = None
    ) -> QuickAddPopup:
        """Open the quick-add popup; the node goes where ``view_pos`` (viewport) points.

        With ``link = (node, from_output, port)`` the new node is also wired to ``node``:
        after its output, or into its input ``port`` (-1: the next free one).
        """
        at = None
        if link is None and view_pos is None:
            # Tab with one node selected: the new node is wired after it, to its right.
            selected = self.graph_scene.selected_nodes()
            item = self.graph_scene.node_item(selected[0]) if len(selected) == 1 else None
            if item is not None:
                link = (selected[0], True, -1)
                at = item.output_anchor() + QPointF(th.NODE_WIDTH * 0.35, 0)
        self._pending_link = link
        if view_pos is None:
            p = self.viewport().mapFromGlobal(QCursor.pos())
            view_pos = p if self.viewport().rect().contains(p) else self.viewport().rect().center()
        self._quick_add_pos = at if at is not None else self.mapToScene(view_pos)
        # After a node's output only types that take an input make sense (no Input first).
        exclude = (
            [n for n, t in NODE_TYPES.items() if t.max_inputs == 0]
            if link is not None and link[1]
            else []
        )
        self.quick_add.open_at(self.viewport().mapToGlobal(view_pos), exclude)
        return self.quick_add

    def _quick_add_chosen(self, type_name: str) -> None:
        link, self._pending_link = self._pending_link, None
        if link is None or link[0] not in self.graph_scene.doc.model:
            self.add_node_at(type_name, self._quick_add_pos)
        else:
            self._add_linked(type_name, *link)
        self.setFocus()

    def _on_link_dropped(self, node: str, from_output: bool, port: int, at: QPointF) -> None:
        self.open_quick_add(self.mapFromScene(at), (node, from_output, port))

    def _add_linked(self, type_name: str, node: str, from_output: bool, port: int) -> None:
        """Add ``type_name`` at the quick-add point and wire it to ``node`` (one undo step)."""
        doc = self.graph_scene.doc
        at = self._quick_add_pos
        port_y = th.HEADER_HEIGHT + (th.NODE_MIN_HEIGHT - th.HEADER_HEIGHT) / 2
        if from_output:  # the new node's input port sits under the drop point
            pos = (at.x(), at.y() - port_y)
            what = f"Add {type_name} after '{node}'"
        else:  # the new node's output port sits under the drop point
            pos = (at.x() - th.NODE_WIDTH, at.y() - port_y)
            what = f"Add {type_name} before '{node}'"
        pos = self.free_spot(*pos)  # in view (not under a dock) and on no other node
        add = AddNodeCommand(doc, type_name, starter_params(type_name), pos)
        stack = doc.undo_stack
        stack.beginMacro(what)
        try:
            stack.push(add)
            src, dst = (node, add.node_id) if from_output else (add.node_id, node)
            try:
                stack.push(ConnectCommand(doc, src, dst, None if port < 0 else port))
            except EngineError as exc:
                self.graph_scene.show_message(exc.message, at)
        finally:
            stack.endMacro()
        self.graph_scene.select_nodes([add.node_id])
        self.reveal([add.node_id])

    def show_message(self, text: str) -> None:
        """A transient note in the middle of the view (e.g. nothing to paste)."""
        c = self.mapToScene(self.viewport().rect().center())
        self.graph_scene.show_message(text, c)

    def _keep_message_visible(self, _text: str = "") -> None:
        """Shift the transient note so that it is inside the viewport."""
        item = self.graph_scene.message
        r = item.boundingRect()
        p = self.mapFromScene(item.pos())
        vp = self.viewport().rect()
        x = min(max(p.x(), 8), max(vp.width() - r.width() - 8, 8))
        y = min(max(p.y(), 8), max(vp.height() - r.height() - 8, 8))
        if (x, y) != (p.x(), p.y()):
            item.setPos(self.mapToScene(QPoint(round(x), round(y))))

    # ------------------------------------------------------------------ drag and drop
    def _drop_type(self, event) -> str | None:
        mime = event.mimeData()
        if not mime.hasFormat(NODE_MIME):
            return None
        name = bytes(mime.data(NODE_MIME)).decode("utf-8", "replace").strip()
        return name if name in NODE_TYPES else None

    def dragEnterEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if self._drop_type(event) is not None:
            event.acceptProposedAction()
        else:
            super().dragEnterEvent(event)

    def dragMoveEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if self._drop_type(event) is not None:
            event.acceptProposedAction()
        else:
            super().dragMoveEvent(event)

    def dropEvent(self, event) -> None:  # noqa: N802 - Qt's name
        name = self._drop_type(event)
        if name is None:
            super().dropEvent(event)
            return
        self.add_node_at(name, self.mapToScene(event.position().toPoint()))
        event.acceptProposedAction()
        self.setFocus()

    # ------------------------------------------------------------------ keys and mouse
    def focusNextPrevChild(self, forward: bool) -> bool:  # noqa: N802 - Qt's name
        return False  # Tab opens the quick-add popup instead of moving the focus

    def keyPressEvent(self, event) -> None:  # noqa: N802 - Qt's name
        key = event.key()
        if key == Qt.Key.Key_Tab and not event.modifiers():
            self.open_quick_add()
            event.accept()
            return
        if key == Qt.Key.Key_F and not event.isAutoRepeat():
            mods = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
            if mods == Qt.KeyboardModifier.NoModifier:
                self.fit_to_view()
                event.accept()
                return
            if mods == Qt.KeyboardModifier.ShiftModifier:
                self.fit_selection()
                event.accept()
                return
        arrows = {
            Qt.Key.Key_Left: (-1, 0),
            Qt.Key.Key_Right: (1, 0),
            Qt.Key.Key_Up: (0, -1),
            Qt.Key.Key_Down: (0, 1),
        }
        mods = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        if key in arrows and mods in (
            Qt.KeyboardModifier.NoModifier,
            Qt.KeyboardModifier.ShiftModifier,
        ):
            selected = self.graph_scene.selected_nodes()
            if selected:
                step = NUDGE_BIG_STEP if mods & Qt.KeyboardModifier.ShiftModifier else NUDGE_STEP
                items = [self.graph_scene.node_item(n) for n in selected]
                nudge(
                    self.graph_scene.doc,
                    {i.node_id: (i.pos().x(), i.pos().y()) for i in items},
                    arrows[key][0] * step,
                    arrows[key][1] * step,
                )
                event.accept()
                return
        if key == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = True
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            event.accept()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
            if self._pan_from is None:
                self.viewport().unsetCursor()
            event.accept()
            return
        super().keyReleaseEvent(event)

    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt's name
        b = event.button()
        if b == Qt.MouseButton.MiddleButton or (b == Qt.MouseButton.LeftButton and self._space):
            self._pan_from = event.position().toPoint()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if self._pan_from is not None:
            p = event.position().toPoint()
            d = p - self._pan_from
            self._pan_from = p
            self.pan_by(d.x(), d.y())
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if self._pan_from is not None:
            self._pan_from = None
            if self._space:
                self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            else:
                self.viewport().unsetCursor()
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def pan_by(self, dx: float, dy: float) -> None:
        """Move the content by ``(dx, dy)`` viewport pixels (as a hand drag does)."""
        h, v = self.horizontalScrollBar(), self.verticalScrollBar()
        h.setValue(h.value() - round(dx))
        v.setValue(v.value() - round(dy))

    def scrollContentsBy(self, dx: int, dy: int) -> None:  # noqa: N802 - Qt's name
        super().scrollContentsBy(dx, dy)
        if self.graph_scene.tint_legend:
            self.viewport().update()  # the legend is pinned to the viewport
        self._place_overlays()
        self.minimap.update()

    def contextMenuEvent(self, event) -> None:  # noqa: N802 - Qt's name
        item = self.itemAt(event.pos())
        if not isinstance(item, (NodeItem, EdgeItem)):
            self.open_quick_add(event.pos())
            event.accept()
            return
        if isinstance(item, NodeItem) and not item.isSelected():
            self.graph_scene.select_nodes([item.node_id])
        if self.context_actions:
            menu = QMenu(self)
            menu.addActions(self.context_actions)
            menu.exec(event.globalPos())
        event.accept()

    def changeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if event.type() in (
            QEvent.Type.PaletteChange,
            QEvent.Type.ApplicationPaletteChange,
            QEvent.Type.StyleChange,
        ):
            self.graph_scene.refresh_theme()
            self.resetCachedContent()
        super().changeEvent(event)

    # ------------------------------------------------------------------ painting
    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:  # noqa: N802
        t = self.graph_scene.theme
        painter.fillRect(rect, t.canvas)
        step = GRID
        scale = self.zoom()
        while step * scale < 10:
            step *= 5
        major = step * 5
        left = math.floor(rect.left() / step) * step
        top = math.floor(rect.top() / step) * step
        minor_lines, major_lines = [], []
        x = left
        while x <= rect.right():
            (major_lines if abs(x / major - round(x / major)) < 1e-6 else minor_lines).append(
                QLineF(x, rect.top(), x, rect.bottom())
            )
            x += step
        y = top
        while y <= rect.bottom():
            (major_lines if abs(y / major - round(y / major)) < 1e-6 else minor_lines).append(
                QLineF(rect.left(), y, rect.right(), y)
            )
            y += step
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        pen = QPen(t.grid_minor, 0)
        painter.setPen(pen)
        painter.drawLines(minor_lines)
        pen.setColor(t.grid_major)
        painter.setPen(pen)
        painter.drawLines(major_lines)

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:  # noqa: N802
        legend = self.graph_scene.tint_legend
        if not legend:
            return
        t = self.graph_scene.theme
        painter.save()
        painter.resetTransform()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setFont(t.body_font)
        m = t.body_metrics
        w = m.horizontalAdvance(legend) + 20
        h = m.height() + 10
        box = QRectF(10, self.viewport().height() - h - 10, w, h)
        painter.setPen(QPen(t.node_border, 1))
        painter.setBrush(t.node_body)
        painter.drawRoundedRect(box, 5, 5)
        painter.setPen(t.text)
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, legend)
        painter.restore()
