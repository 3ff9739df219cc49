"""The scene adapter: Document signals → node and edge items; canvas gestures → commands.

:class:`GraphScene` listens to a :class:`~designer.document.Document`, creates, updates
and removes :class:`NodeItem`/:class:`EdgeItem` s, and refreshes only the items whose
analysis changed (an edge's label follows its source node). Mouse gestures on ports and
edge ends become :mod:`designer.gestures`; a node drag becomes one ``MoveNodesCommand``
when the mouse is released. Nothing here edits the model (nodes without positions get
them when a design is loaded, in :class:`~designer.document.Document`). The document
signals a change once the analysis is current, so every item is filled in when it is
made or changed.
"""

from __future__ import annotations

import bisect

import shiboken6
from PySide6.QtCore import QPoint, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QTransform
from PySide6.QtWidgets import QGraphicsScene

from designer import theme as th
from designer.block_items import BlockLayer
from designer.commands import MoveNodesCommand
from designer.detached import mark_detached
from designer.document import Document
from designer.edge_item import LABEL_MID, LABEL_NONE, EdgeItem
from designer.gestures import (
    DETACH_PX,
    ConnectDrag,
    MessageItem,
    PendingDetach,
    show_tooltip,
)
from designer.node_item import OUT, NodeItem
from designer.theme import Theme
from engine.analysis.reach import not_reaching_output
from engine.nodes import fmt_shape

SCENE_MARGIN = 4000.0
BULK_DRAG = 24  # dragging more nodes than this skips edge lanes until the release


class GraphScene(QGraphicsScene):
    """The canvas content of one :class:`Document`."""

    selection_changed_nodes = Signal(list)  # node ids, in model order
    node_activated = Signal(str)  # double-click on a node
    connection_refused = Signal(str)  # the engine's reason
    tint_changed = Signal()
    link_dropped = Signal(str, bool, int, QPointF)  # node, from its output, port (-1: next), at

    def __init__(self, doc: Document, parent=None) -> None:
        super().__init__(parent)
        self.doc = doc
        self.theme = Theme.current()
        self.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.BspTreeIndex)
        self.nodes: dict[str, NodeItem] = {}
        self.detached: set[str] = set()  # nodes that do not reach the output
        self.edges: dict[tuple[str, str, int], EdgeItem] = {}
        self.tint_legend = ""
        self.last_message = ""
        self._gesture = None
        self._move_start: dict[str, QPointF] | None = None
        self._batch_selection = False
        self._renamed_selection = False  # tell the selection again once every view renamed
        self.building = False  # no edge routing while items are added in bulk
        self._rects: tuple[list, list] | None = None  # node rects sorted by left edge
        self.message = MessageItem(self)
        self.addItem(self.message)
        doc.node_added.connect(self._on_node_added)
        doc.node_removed.connect(self._on_node_removed)
        doc.edge_added.connect(self._on_edge_added)
        doc.edge_removed.connect(self._on_edge_removed)
        doc.params_changed.connect(self._on_params_changed)
        doc.nodes_moved.connect(self._on_nodes_moved)
        doc.graph_reset.connect(self._on_graph_reset)
        doc.node_renamed.connect(self._on_node_renamed)
        doc.analysis_changed.connect(self._on_analysis_changed)
        self.selectionChanged.connect(self._on_selection_changed)
        self._build()
        self._finish_reset()
        self.block_layer = BlockLayer(self)  # collapsed blocks' cards, frames and links

    # ------------------------------------------------------------------ public API
    def node_item(self, node_id: str) -> NodeItem | None:
        """The item of ``node_id`` (``None`` if there is none)."""
        return self.nodes.get(node_id)

    def edge_item(self, src: str, dst: str, port: int) -> EdgeItem | None:
        """The item of the edge ``src → dst`` at ``port``."""
        return self.edges.get((src, dst, port))

    def selected_nodes(self) -> list[str]:
        """Ids of the selected nodes, in model order."""
        chosen = {i.node_id for i in self.selectedItems() if isinstance(i, NodeItem)}
        layer = getattr(self, "block_layer", None)
        if layer is not None:  # a selected block card stands for its members
            chosen |= layer.selected_members()
        return [n for n in self.nodes if n in chosen] if chosen else []

    def selected_edges(self) -> list[tuple[str, str, int]]:
        """``(src, dst, port)`` of the selected edges."""
        return [i.key for i in self.selectedItems() if isinstance(i, EdgeItem)]

    def select_nodes(self, ids) -> None:
        """Select exactly ``ids`` (unknown ids are ignored); emits one selection signal."""
        self._batch_selection = True
        try:
            self.clearSelection()
            for n in ids:
                item = self.nodes.get(n)
                if item is not None:
                    item.setSelected(True)
        finally:
            self._batch_selection = False
        self.selection_changed_nodes.emit(self.selected_nodes())

    def set_node_tint(self, colors: dict[str, QColor] | None, legend: str = "") -> None:
        """Colour nodes by a metric (``None``: normal colours); ``legend`` says what it is."""
        colors = colors or {}
        for n, item in self.nodes.items():
            item.set_tint(colors.get(n))
        self.tint_legend = legend if colors else ""
        self.tint_changed.emit()

    def items_bounding_rect(self) -> QRectF:
        """The rectangle holding every node and edge (empty if there are none)."""
        layer = getattr(self, "block_layer", None)
        if layer is not None:
            layer.sync_if_pending()
        rect = QRectF()
        for item in self.nodes.values():
            if item.isVisible():  # members of a collapsed block are hidden
                rect = rect.united(item.sceneBoundingRect())
        for item in self.edges.values():
            if item.isVisible():
                rect = rect.united(item.sceneBoundingRect())
        if layer is not None:
            rect = rect.united(layer.bounding_rect())
        return rect

    def show_message(self, text: str, pos: QPointF, screen: QPoint | None = None) -> None:
        """Show a transient note (why something was refused) at ``pos``."""
        self.last_message = text
        self.message.show_text(text, pos)
        show_tooltip(screen, text)
        self.connection_refused.emit(text)

    def refresh_theme(self) -> None:
        """Rebuild colours and fonts from the application palette and repaint."""
        self.theme = Theme.current()
        for item in self.nodes.values():
            item.set_theme(self.theme)
        for e in self.edges.values():
            e.set_theme(self.theme)
        self.update()

    def invalidate_node_rects(self) -> None:
        """A node moved, appeared, vanished or changed size (for :meth:`node_rects_in`)."""
        self._rects = None

    def node_rects_in(self, rect: QRectF, exclude=()) -> list[QRectF]:
        """Scene rectangles of the node bodies meeting ``rect`` (edge routing obstacles)."""
        if self._rects is None:
            entries = sorted(
                ((i.mapRectToScene(i.rect()), i) for i in self.nodes.values()),
                key=lambda e: e[0].left(),
            )
            self._rects = ([r.left() for r, _ in entries], entries)
        lefts, entries = self._rects
        lo = bisect.bisect_left(lefts, rect.left() - th.NODE_WIDTH)
        hi = bisect.bisect_right(lefts, rect.right())
        return [r for r, i in entries[lo:hi] if i not in exclude and r.intersects(rect)]

    def free_position(self, pos: tuple[float, float]) -> tuple[float, float]:
        """``pos`` moved down-right until no node's top-left is within 20 units of it."""
        x, y = pos
        taken = [(i.pos().x(), i.pos().y()) for i in self.nodes.values()]
        while any(abs(x - a) < 20 and abs(y - b) < 20 for a, b in taken):
            x += 28
            y += 28
        return (x, y)

    # ------------------------------------------------------------------ building
    def _build(self) -> None:
        self._batch_selection = True  # no selection signals naming nodes of the old graph
        try:
            for e in list(self.edges.values()):
                self.removeItem(e)
            for item in list(self.nodes.values()):
                self.removeItem(item)
        finally:
            self._batch_selection = False
        self.nodes.clear()
        self.edges.clear()
        model = self.doc.model
        self.building = True
        try:
            for n in model.nodes:
                self._make_node(n)
            for u, v, k in model.edges():
                self._make_edge(u, v, k)
        finally:
            self.building = False

    def _finish_reset(self) -> None:
        self._refresh(self.nodes)
        self._mark_detached()
        self._reroute_long_edges()
        self._update_rect(reset=True)

    def _make_node(self, n: str) -> NodeItem:
        model = self.doc.model
        item = NodeItem(n, model.node_type(n), self.theme)
        pos = model.pos(n)
        if pos is None:  # a bulk build lays out every such node after
            pos = (0.0, 0.0) if self.building else self._spot_for_new()
        item.setPos(QPointF(*pos))
        if not self.building:  # a bulk build fills every item in from the analysis after
            item.set_content(model.graph.nodes[n]["params"], self.doc.analysis.nodes.get(n))
        self.addItem(item)
        self.nodes[n] = item
        self._rects = None
        return item

    def _spot_for_new(self) -> tuple[float, float]:
        if not self.nodes:
            return (0.0, 0.0)
        right = max(i.pos().x() for i in self.nodes.values())
        top = min(i.pos().y() for i in self.nodes.values())
        return self.free_position((right + 260.0, top))

    def _make_edge(self, u: str, v: str, k: int) -> EdgeItem:
        src, dst = self.nodes[u], self.nodes[v]
        e = EdgeItem(src, dst, k, self.theme)
        self.edges[(u, v, k)] = e
        dst.in_edges[k] = e
        src.out_edges.append(e)
        self.addItem(e)
        dst.set_ports(list(dst.in_edges))
        e.update_path()
        src.update()
        if not self.building:
            self._relabel(src)
        return e

    def _relabel(self, src: NodeItem) -> None:
        """Put the source's output shape on its edges (once for a fan-out)."""
        r = src.result
        text = fmt_shape(r.shape) if r is not None and r.shape is not None else ""
        out = src.out_edges
        if not out:
            return
        # A fan-out carries one tensor: label only its flattest edge, mid-way.
        owner = min(out, key=lambda e: abs(e.p1.y() - e.p0.y())) if len(out) > 1 else out[0]
        for e in out:
            e.set_label(text, LABEL_MID if e is owner else LABEL_NONE)

    def _mark_detached(self) -> None:
        """Dim and badge the nodes that do not reach the output (designer.detached)."""
        a = self.doc.analysis  # (a node in error is marked by its error, not dimmed)
        self.detached = {n for n in not_reaching_output(a) if a.nodes[n].shape is not None}
        mark_detached(self.nodes, self.detached)

    def _refresh(self, ids) -> None:
        graph = self.doc.model.graph
        results = self.doc.analysis.nodes
        for n in ids:
            item = self.nodes.get(n)
            if item is None:
                continue
            # Read-only use of the model's params dict (it is replaced, never mutated, on
            # edits), which spares a deep copy per node when a whole network changes.
            params, result = graph.nodes[n]["params"], results.get(n)
            if item.params is params and item.result is result:
                continue  # shown already (a node's own signal came first)
            was_bad = item.in_error or item.waiting
            item.set_content(params, result)
            self._relabel(item)
            if was_bad or item.in_error or item.waiting:  # its input wires are drawn dashed
                for e in item.in_edges.values():
                    e.update()

    def _update_rect(self, reset: bool = False) -> None:
        rect = self.items_bounding_rect()
        if rect.isNull():
            rect = QRectF(-400, -300, 800, 600)
        m = SCENE_MARGIN
        rect = rect.adjusted(-m, -m, m, m)
        self.setSceneRect(rect if reset else rect.united(self.sceneRect()))

    # ------------------------------------------------------------------ Document signals
    def _on_node_added(self, n: str) -> None:
        if n not in self.nodes:
            self._make_node(n)
            self._reroute_long_edges()
            self._update_rect()

    def _on_node_removed(self, n: str) -> None:
        item = self.nodes.pop(n, None)
        if item is None:
            return
        if self._gesture is not None:
            self._cancel_gesture()
        sources = set()
        for e in list(item.in_edges.values()) + list(item.out_edges):
            self._drop_edge(e)
            sources.add(e.src_item)
        sources.discard(item)
        for s in sources:
            self._relabel(s)
        self.removeItem(item)
        self._rects = None

    def _drop_edge(self, e: EdgeItem) -> None:
        key = e.key
        self.edges.pop(key, None)
        src, dst = e.src_item, e.dst_item
        if src.out_edges.count(e):
            src.out_edges.remove(e)
            src.update()
        if dst.in_edges.get(key[2]) is e:
            del dst.in_edges[key[2]]
            dst.set_ports(list(dst.in_edges))
        self.removeItem(e)

    def _on_edge_added(self, u: str, v: str, k: int) -> None:
        if (u, v, k) not in self.edges and u in self.nodes and v in self.nodes:
            self._make_edge(u, v, k)

    def _on_edge_removed(self, u: str, v: str, k: int) -> None:
        e = self.edges.get((u, v, k))
        if e is not None:
            if self._gesture is not None:
                self._cancel_gesture()
            self._drop_edge(e)
            self._relabel(e.src_item)

    def _on_node_renamed(self, old: str, new: str) -> None:
        item = self.nodes.get(old)
        if item is None:
            return
        if self._gesture is not None:
            self._cancel_gesture()

        def rekey(n: str) -> str:
            return new if n == old else n

        # Same items, new keys, same order (selected_nodes follows the model's order).
        self.nodes = {rekey(n): i for n, i in self.nodes.items()}
        self.edges = {(rekey(u), rekey(v), k): e for (u, v, k), e in self.edges.items()}
        if self._move_start is not None:
            self._move_start = {rekey(n): p for n, p in self._move_start.items()}
        item.set_node_id(new)
        for e in item.out_edges:
            e.update()
        # Other views rename their rows on this same signal: the selection is told again on
        # the change's analysis_changed, which the document emits after it.
        self._renamed_selection = item.isSelected()

    def _on_params_changed(self, n: str) -> None:
        self._refresh((n,))  # also when the analysis result did not change

    def _on_nodes_moved(self, ids: tuple) -> None:
        model = self.doc.model
        self.building = len(ids) > 1  # route once after all moved, not after each node
        try:
            for n in ids:
                item = self.nodes.get(n)
                pos = model.pos(n) if n in model else None
                if item is not None and pos is not None and (item.pos().x(), item.pos().y()) != pos:
                    item.setPos(QPointF(*pos))
        finally:
            self.building = False
        self._reroute_long_edges()
        self._update_rect()

    def _reroute_long_edges(self) -> None:
        """Nodes moved: edges spanning several columns may need another lane."""
        for e in self.edges.values():
            if e.p1.x() - e.p0.x() >= 160:
                e.update_path()

    def _on_graph_reset(self) -> None:
        if self._gesture is not None:
            self._cancel_gesture()
        self._build()
        self._finish_reset()
        self.tint_legend = ""
        self.tint_changed.emit()
        self.selection_changed_nodes.emit(self.selected_nodes())

    def _on_analysis_changed(self, changed) -> None:
        self._refresh(changed)
        self._mark_detached()
        if self._renamed_selection:
            self._renamed_selection = False
            self.selection_changed_nodes.emit(self.selected_nodes())

    def _on_selection_changed(self) -> None:
        if not self._batch_selection and shiboken6.isValid(self):  # not while being deleted
            self.selection_changed_nodes.emit(self.selected_nodes())

    # ------------------------------------------------------------------ gestures
    def _item_at(self, pos: QPointF, event):
        """The topmost node or edge at ``pos`` (notes and drag lines are see-through)."""
        widget = event.widget()
        view = widget.parent() if widget is not None else None
        transform = (
            view.transform() if view is not None and hasattr(view, "transform") else QTransform()
        )
        for item in self.items(
            pos, Qt.ItemSelectionMode.IntersectsItemShape, Qt.SortOrder.DescendingOrder, transform
        ):
            if isinstance(item, (NodeItem, EdgeItem)):
                return item
        return None

    def _start_gesture(self, event) -> bool:
        pos = event.scenePos()
        item = self._item_at(pos, event)
        if isinstance(item, NodeItem):
            hit = item.port_at(item.mapFromScene(pos))
            if hit is None:
                return False
            if hit[0] == OUT:
                self._gesture = ConnectDrag(self, item)
                return True
            port = item.port_of_slot(hit[1])
            if port is not None and port in item.in_edges:
                self._gesture = self._pending_detach(item.in_edges[port], pos, event)
            else:
                self._gesture = ConnectDrag(self, item, hit[1])
            return True
        if isinstance(item, EdgeItem) and item.near_input_end(pos):
            self._gesture = self._pending_detach(item, pos, event)
            return True
        return False

    def _pending_detach(self, edge: EdgeItem, pos: QPointF, event) -> PendingDetach:
        """A press on a wire's input end: :data:`DETACH_PX` screen pixels before it detaches."""
        widget = event.widget()
        view = widget.parent() if widget is not None else None
        scale = view.transform().m11() if view is not None and hasattr(view, "transform") else 1.0
        return PendingDetach(self, edge, pos, DETACH_PX / max(scale, 1e-6))

    def _cancel_gesture(self) -> None:
        g, self._gesture = self._gesture, None
        if g is not None:
            g.cancel()

    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if event.button() == Qt.MouseButton.LeftButton and self._gesture is None:
            if self._start_gesture(event):
                event.accept()
                return
        super().mousePressEvent(event)
        self._move_start = None
        if event.button() == Qt.MouseButton.LeftButton and isinstance(
            self.mouseGrabberItem(), NodeItem
        ):
            self._move_start = {
                n: QPointF(i.pos()) for n, i in self.nodes.items() if i.isSelected()
            }
            # Dragging many nodes: plain curves while moving, lanes again on release.
            self.building = len(self._move_start) > BULK_DRAG

    def mouseMoveEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if self._gesture is not None:
            drag = self._gesture.move(event.scenePos())
            if drag is not None:  # a press on a wire's end became a detach drag
                self._gesture = drag
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if self._gesture is not None:
            if event.button() == Qt.MouseButton.LeftButton:
                g, self._gesture = self._gesture, None
                g.finish(event.scenePos(), event.screenPos())
            event.accept()
            return
        super().mouseReleaseEvent(event)
        start, self._move_start = self._move_start, None
        if self.building:
            self.building = False
            self._reroute_long_edges()
        if start and event.button() == Qt.MouseButton.LeftButton:
            self._push_move(start)

    def _push_move(self, start: dict[str, QPointF]) -> None:
        old, new = {}, {}
        for n, p in start.items():
            item = self.nodes.get(n)
            if item is not None and item.pos() != p:
                old[n] = (p.x(), p.y())
                new[n] = (item.pos().x(), item.pos().y())
        if new:
            self.doc.undo_stack.push(MoveNodesCommand(self.doc, old, new))

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802 - Qt's name
        item = self._item_at(event.scenePos(), event)
        if isinstance(item, NodeItem) and event.button() == Qt.MouseButton.LeftButton:
            self.node_activated.emit(item.node_id)
            event.accept()
            return
        super().mouseDoubleClickEvent(event)

    def keyPressEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if event.key() == Qt.Key.Key_Escape and self._gesture is not None:
            self._cancel_gesture()
            event.accept()
            return
        super().keyPressEvent(event)
