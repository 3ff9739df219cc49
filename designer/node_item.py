"""The item that shows one node: id, type, key parameters, output shape, weights, ports.

Ports: one output on the right; inputs on the left, one for single-input types, and
for concat/add one slot per connected input (in port order) plus one free slot.
The item only shows state; the scene's gestures turn clicks on ports into commands.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPainter, QPainterPath, QPen, QStaticText
from PySide6.QtWidgets import QGraphicsItem, QStyle, QStyleOptionGraphicsItem

from designer import theme as th
from designer.node_label import LABEL_FROM, ZoomedLabel, layout_label, short_labels, short_shapes
from designer.plaintext import tip as plain_tip
from designer.theme import Theme
from engine.analysis.analyzer import NodeResult
from engine.nodes import NODE_TYPES, fmt_shape, summary_text

OUT = "out"
IN = "in"
# Enum members looked up once: attribute access on PySide enums is slow in hot paths.
_PLAIN = Qt.TextFormat.PlainText
_ELIDE_RIGHT = Qt.TextElideMode.ElideRight
_ELIDE_MIDDLE = Qt.TextElideMode.ElideMiddle
_POSITION_CHANGED = QGraphicsItem.GraphicsItemChange.ItemPositionHasChanged
COMPACT_BELOW = 0.6  # zoomed out further: a short label at a constant screen size


def _static(text: str) -> QStaticText:
    st = QStaticText(text)
    st.setTextFormat(_PLAIN)
    return st


def wrap_text(text: str, metrics, width: float, max_lines: int = 2) -> list[str]:
    """Greedy word wrap of ``text`` into at most ``max_lines`` lines; the last is elided."""
    words = text.split()
    lines: list[str] = []
    line = ""
    for i, word in enumerate(words):
        trial = f"{line} {word}" if line else word
        if metrics.horizontalAdvance(trial) <= width or not line:
            line = trial
            continue
        if len(lines) == max_lines - 1:
            line = " ".join([line] + words[i:])
            break
        lines.append(line)
        line = word
    if line:
        lines.append(metrics.elidedText(line, _ELIDE_RIGHT, width))
    return lines


def short_error(message: str, type_name: str, node: str) -> str:
    """The engine's message without its leading ``"<type> '<id>' "`` (the node shows both)."""
    prefix = f"{type_name} '{node}' "
    return message[len(prefix) :] if message.startswith(prefix) else message


class NodeItem(QGraphicsItem):
    """A node on the canvas. Positions are the item's top-left corner (the model's ``pos``)."""

    def __init__(self, node_id: str, type_name: str, theme: Theme) -> None:
        super().__init__()
        self.node_id = node_id
        self.type_name = type_name
        self.ntype = NODE_TYPES[type_name]
        self.theme = theme
        self.params: dict = {}
        self.result: NodeResult | None = None
        self.detached = False  # does not reach the output (designer.detached)
        self.tint: QColor | None = None
        self.ports: list[int] = []  # connected input ports, sorted
        self.in_edges: dict[int, object] = {}  # port -> EdgeItem
        self.out_edges: list = []
        self.hover_port: tuple | None = None
        self.drop_state: str | None = None  # "ok" / "bad" while a connection is dragged here
        self.texts: dict[str, str] = {}
        self._texts_dirty = False
        self.node_tip = ""
        self._static: dict[str, QStaticText] = {}
        self._compact: dict[tuple[int, int], ZoomedLabel | None] = {}
        self._right: dict[str, float] = {}
        self._height = th.NODE_MIN_HEIGHT
        self._status_lines = 0
        self._rect = QRectF()
        self._bounds = QRectF()
        self._body_path = QPainterPath()
        self._header_path = QPainterPath()
        self._shape = QPainterPath()
        self.setFlags(
            QGraphicsItem.GraphicsItemFlag.ItemIsMovable
            | QGraphicsItem.GraphicsItemFlag.ItemIsSelectable
            | QGraphicsItem.GraphicsItemFlag.ItemSendsGeometryChanges
        )
        self.setAcceptHoverEvents(True)
        self.setZValue(1.0)
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self._relayout()

    # ------------------------------------------------------------------ geometry
    @property
    def multi_input(self) -> bool:
        """Whether inputs are ordered slots (concat, add)."""
        return self.ntype.max_inputs is None

    @property
    def takes_input(self) -> bool:
        """Whether the node has any input port."""
        return self.ntype.max_inputs != 0

    def slot_count(self) -> int:
        """Input slots shown: connected ones plus one free slot (multi), or 1 / 0."""
        if not self.takes_input:
            return 0
        if self.multi_input:
            return len(self.ports) + 1
        return 1

    def _relayout(self) -> None:
        slots = self.slot_count()
        h = th.NODE_MIN_HEIGHT + th.ROW_HEIGHT * max(self._status_lines - 1, 0)
        if self.multi_input:
            h = max(h, th.SLOT_FIRST + (slots - 1) * th.SLOT_STEP + 14.0)
        if h != self._height or self._rect.isNull():
            self.prepareGeometryChange()
            self._height = h
            scene = self.scene()
            if scene is not None and hasattr(scene, "invalidate_node_rects"):
                scene.invalidate_node_rects()
        w = th.NODE_WIDTH
        self._rect = QRectF(0, 0, w, h)
        r = th.PORT_HIT_RADIUS
        self._bounds = self._rect.adjusted(-r, -6, r, 6)  # room for a 2 px outline at 19 %
        body = QPainterPath()
        body.addRoundedRect(self._rect, th.NODE_RADIUS, th.NODE_RADIUS)
        self._body_path = body
        head = QPainterPath()
        head.addRect(QRectF(0, 0, w, th.HEADER_HEIGHT))
        self._header_path = body.intersected(head)
        shape = QPainterPath(body)
        shape.setFillRule(Qt.FillRule.WindingFill)  # union of body and port circles
        shape.addEllipse(self.output_pos(), r, r)
        for i in range(slots):
            shape.addEllipse(self.slot_pos(i), r, r)
        self._shape = shape

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt's name
        return self._bounds

    def shape(self) -> QPainterPath:
        return self._shape

    def rect(self) -> QRectF:
        """The node's body in item coordinates."""
        return self._rect

    def output_pos(self) -> QPointF:
        """The output port centre (item coordinates)."""
        return QPointF(
            self._rect.width(),
            self._height / 2
            if self.multi_input
            else th.HEADER_HEIGHT + (self._height - th.HEADER_HEIGHT) / 2,
        )

    def slot_pos(self, index: int) -> QPointF:
        """Centre of input slot ``index`` (item coordinates)."""
        if self.multi_input:
            return QPointF(0.0, th.SLOT_FIRST + index * th.SLOT_STEP)
        return QPointF(0.0, th.HEADER_HEIGHT + (self._height - th.HEADER_HEIGHT) / 2)

    def slot_of_port(self, port: int) -> int:
        """The slot index showing ``port``."""
        if not self.multi_input:
            return 0
        return self.ports.index(port) if port in self.ports else len(self.ports)

    def port_of_slot(self, index: int) -> int | None:
        """The port a slot shows (``None`` for the free slot: the next free port)."""
        if not self.multi_input:
            return self.ports[0] if self.ports else None
        return self.ports[index] if index < len(self.ports) else None

    def output_anchor(self) -> QPointF:
        """Scene position where outgoing edges start."""
        return self.mapToScene(self.output_pos())

    def input_anchor(self, port: int) -> QPointF:
        """Scene position where the edge into ``port`` ends."""
        return self.mapToScene(self.slot_pos(self.slot_of_port(port)))

    def port_at(self, pos: QPointF) -> tuple | None:
        """``("out", None)``, ``("in", slot)`` or ``None`` for a point in item coordinates."""
        r2 = th.PORT_HIT_RADIUS**2
        o = self.output_pos() - pos
        if o.x() ** 2 + o.y() ** 2 <= r2:
            return (OUT, None)
        for i in range(self.slot_count()):
            d = self.slot_pos(i) - pos
            if d.x() ** 2 + d.y() ** 2 <= r2:
                return (IN, i)
        return None

    # ------------------------------------------------------------------ state
    def set_ports(self, ports: list[int]) -> None:
        """The connected input ports changed: re-slot and move the attached edges."""
        ports = sorted(ports)
        if ports == self.ports:
            return
        self.ports = ports
        if self.multi_input:  # slots follow the connections; a single input does not move
            self._relayout()
            self.update_edges()
        self.update()

    def update_edges(self) -> None:
        """Re-route every attached edge (after a move or a slot change)."""
        for e in self.in_edges.values():
            e.update_path()
        for e in self.out_edges:
            e.update_path()

    def set_content(self, params: dict, result: NodeResult | None) -> None:
        """Show new parameters and analysis result."""
        self.params = params
        self.result = result
        if (
            result is not None
            and result.shape is not None
            and self._status_lines == 0
            and self.texts
        ):
            # Same height as now: lay the texts out when the node is next painted, so that
            # an edit changing a whole network only pays for the nodes on screen.
            self._texts_dirty = True
            self._compact = {}
        else:
            self._make_texts()
        self.refresh_opacity()
        self.update()

    def refresh_opacity(self) -> None:
        """Dimmed while waiting on a broken input or not reaching the output."""
        waiting = self.result is not None and self.result.waiting_on
        opacity = 0.45 if waiting or self.detached else 1.0
        if opacity != self.opacity():
            self.setOpacity(opacity)

    def set_node_id(self, node_id: str) -> None:
        """Show another id (the node was renamed)."""
        self.node_id = node_id
        self._make_texts()
        self.update()

    def set_theme(self, theme: Theme) -> None:
        """Repaint with another theme (palette change)."""
        self.theme = theme
        self.texts = {}  # fonts may differ: lay every row out again
        self._make_texts()
        self.update()

    def set_tint(self, color: QColor | None) -> None:
        """Colour the body by a metric (``None``: normal)."""
        if color == self.tint:
            return
        self.tint = QColor(color) if color is not None else None
        self.update()

    def set_drop_state(self, state: str | None) -> None:
        """Highlight as a connection target: ``"ok"``, ``"bad"`` or ``None``."""
        if state != self.drop_state:
            self.drop_state = state
            self.update()

    @property
    def in_error(self) -> bool:
        """Whether the analysis reports an error on this node."""
        return self.result is not None and self.result.error is not None

    @property
    def waiting(self) -> bool:
        """Whether the node waits on a broken upstream node."""
        return self.result is not None and self.result.waiting_on is not None

    def _make_texts(self) -> None:
        self._texts_dirty = False
        t = self.theme
        w = th.NODE_WIDTH - 2 * th.TEXT_MARGIN
        r = self.result
        title_w = w - (22 if self.in_error else 0)
        # Long ids keep their start and their end (inception3a…branch2_0_conv).
        texts = {"title": t.title_metrics.elidedText(self.node_id, _ELIDE_MIDDLE, title_w)}
        label = self.ntype.label
        summary = summary_text(self.type_name, self.params) if self.params else ""
        label_w = t.body_metrics.horizontalAdvance(label)
        texts["label"] = label
        texts["summary"] = t.body_metrics.elidedText(
            summary, _ELIDE_RIGHT, max(w - label_w - 10, 20)
        )
        weights = ""
        status = ""
        if r is None:
            shape = "…"
        elif r.error:
            shape = ""
            status = short_error(r.error, self.type_name, self.node_id)
        elif r.waiting_on:
            shape = ""
            status = f"waiting on '{r.waiting_on}'"
        else:
            shape = fmt_shape(r.shape)
            if r.weights:
                weights = f"{r.weights:,} w"
        texts["shape"] = shape
        texts["weights"] = weights
        lines = wrap_text(status, t.body_metrics, w, 3) if status else []
        texts["status"] = lines[0] if lines else ""
        texts["status2"] = lines[1] if len(lines) > 1 else ""
        texts["status3"] = lines[2] if len(lines) > 2 else ""
        if len(lines) != self._status_lines:
            self._status_lines = len(lines)
            self._relayout()
            self.update_edges()
        self._compact = {}
        if texts != self.texts:
            old, static = self.texts, self._static
            self.texts = texts  # lay out again only the rows whose text changed
            self._static = {
                k: static[k] if old.get(k) == v and k in static else _static(v)
                for k, v in texts.items()
                if v
            }
            self._right = {
                "summary": t.body_metrics.horizontalAdvance(texts["summary"]),
                "weights": t.body_metrics.horizontalAdvance(weights),
            }
        self.node_tip = self._tooltip()
        tip = plain_tip(self.port_tip(self.hover_port) if self.hover_port else self.node_tip)
        if tip != self.toolTip():
            self.setToolTip(tip)

    def port_tip(self, port: tuple) -> str:
        """What hovering a port says: what it carries and what dragging it does."""
        if port[0] == OUT:
            r = self.result
            shape = fmt_shape(r.shape) if r is not None and r.shape is not None else "nothing yet"
            return f"Output of '{self.node_id}': {shape}\nDrag onto a node to connect it"
        p = self.port_of_slot(port[1])
        edge = self.in_edges.get(p) if p is not None else None
        if edge is None:
            return "Free input\nDrag onto a node to make it the input here"
        r = edge.src_item.result
        shape = fmt_shape(r.shape) if r is not None and r.shape is not None else "?"
        which = f"Input {self.ports.index(p)}" if self.multi_input else "Input"
        return (
            f"{which} from '{edge.src_item.node_id}': {shape}\n"
            f"Drag away to disconnect, or onto another node to move the edge"
        )

    def _tooltip(self) -> str:
        r = self.result
        lines = [f"{self.node_id} — {self.ntype.label}"]
        summary = summary_text(self.type_name, self.params) if self.params else ""
        if summary:
            lines.append(summary)
        if r is not None:
            if r.error:
                lines.append(f"Error: {r.error}")
            elif r.waiting_on:
                lines.append(f"Waiting on '{r.waiting_on}', which is in error")
            else:
                lines.append(f"Output {fmt_shape(r.shape)}")
                if r.params:
                    lines.append(f"{r.weights:,} weights, {r.params:,} parameters")
                if r.macs:
                    lines.append(f"{r.macs:,} MACs")
                if self.detached:
                    lines.append("Not connected to the output: counted in the totals, unused")
        return "\n".join(lines)

    def _fresh(self) -> None:
        if self._texts_dirty:
            self._make_texts()

    def toolTip(self) -> str:  # noqa: N802 - Qt's name
        self._fresh()
        return super().toolTip()

    @property
    def shown_text(self) -> str:
        """Everything the node shows, one line per row (for tests and accessibility)."""
        self._fresh()
        x = self.texts
        status = " ".join(x[k] for k in ("status", "status2", "status3") if x.get(k))
        rows = [
            x.get("title", ""),
            f"{x.get('label', '')} {x.get('summary', '')}".strip(),
            status or f"{x.get('shape', '')} {x.get('weights', '')}".strip(),
        ]
        if self.in_error:
            rows[0] += " (!)"
        return "\n".join(rows)

    # ------------------------------------------------------------------ Qt hooks
    def itemChange(self, change, value):  # noqa: N802 - Qt's name
        if change == _POSITION_CHANGED:
            scene = self.scene()
            if scene is not None and hasattr(scene, "invalidate_node_rects"):
                scene.invalidate_node_rects()
            self.update_edges()
        return super().itemChange(change, value)

    def hoverMoveEvent(self, event) -> None:  # noqa: N802 - Qt's name
        port = self.port_at(event.pos())
        if port != self.hover_port:
            self.hover_port = port
            self.setCursor(Qt.CursorShape.CrossCursor if port else Qt.CursorShape.ArrowCursor)
            self.setToolTip(self.port_tip(port) if port else self.node_tip)
            self.update()
        super().hoverMoveEvent(event)

    def hoverLeaveEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if self.hover_port is not None:
            self.hover_port = None
            self.unsetCursor()
            self.setToolTip(self.node_tip)
            self.update()
        super().hoverLeaveEvent(event)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget=None) -> None:
        self._fresh()
        t = self.theme
        cat = self.ntype.category
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        # Body and header.
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(t.tinted(self.tint) if self.tint is not None else t.node_body)
        painter.drawPath(self._body_path)
        lod = QStyleOptionGraphicsItem.levelOfDetailFromTransform(painter.worldTransform())
        label = None
        if LABEL_FROM <= lod < COMPACT_BELOW:
            label = self.zoomed_label(lod)
        if label is not None:  # a thin category strip leaves the body free for the label
            s = label.strip / lod
            if s > 0:
                inset = th.NODE_RADIUS * 0.6
                painter.fillRect(QRectF(inset, 0, th.NODE_WIDTH - 2 * inset, s), t.accent(cat))
        else:
            painter.setBrush(t.header(cat))
            painter.drawPath(self._header_path)
            painter.fillRect(QRectF(0, th.HEADER_HEIGHT - 2, th.NODE_WIDTH, 2), t.accent(cat))
        # Outline: drop target > error > selection > normal.
        if self.drop_state is not None:
            pen = QPen(t.ok if self.drop_state == "ok" else t.error, 2.5)
        elif self.in_error:
            pen = QPen(t.error, 2.0)
        elif selected:
            pen = QPen(t.highlight, 2.0)
        else:
            pen = QPen(t.node_border, 1.0)
        if pen.widthF() > 1.0 and lod < COMPACT_BELOW:  # zoomed out: keep it visible
            pen.setCosmetic(True)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self._body_path)
        if selected and (self.in_error or self.drop_state is not None):
            painter.setPen(QPen(t.highlight, 1.0, Qt.PenStyle.DashLine))
            painter.drawRoundedRect(
                self._rect.adjusted(-3, -3, 3, 3), th.NODE_RADIUS + 2, th.NODE_RADIUS + 2
            )
        if lod >= COMPACT_BELOW:
            self._paint_texts(painter, t)
        elif label is not None:
            self._paint_label(painter, t, label, lod)
        self._paint_ports(painter, t)

    def zoomed_label(self, lod: float) -> ZoomedLabel | None:
        """The short label shown at zoom ``lod`` (screen-pixel layout), or ``None``: a block."""
        self._fresh()
        w, h = th.NODE_WIDTH * lod, self._height * lod
        key = (int(w * 4), int(h * 4))  # quarter pixels: a zoom step lays out once
        if key in self._compact:
            return self._compact[key]
        r = self.result
        states = (
            ("error",)
            if self.in_error
            else ("waiting",)
            if self.waiting
            else short_shapes(r.shape)
            if r is not None
            else ()
        )
        if len(self._compact) > 12:  # a long pinch zoom passes many sizes
            self._compact = {}
        hit = self._compact[key] = layout_label(
            self.theme,
            short_labels(self.type_name, self.params),
            states,
            key[0] / 4,
            key[1] / 4,
            state_first=self.in_error,
        )
        return hit

    def _paint_label(self, painter: QPainter, t: Theme, label: ZoomedLabel, lod: float) -> None:
        painter.save()
        painter.scale(1 / lod, 1 / lod)  # draw in screen pixels: the label keeps its size
        painter.setFont(label.font)
        for i, (st, rect) in enumerate(zip(label.statics, label.rects)):
            state_row = i == 1 or len(label.statics) == 1 and self.in_error
            painter.setPen(
                t.error
                if self.in_error and state_row
                else t.text_muted
                if self.waiting or i == 1
                else t.text
            )
            painter.drawStaticText(rect.topLeft(), st)
        painter.restore()

    def _paint_texts(self, painter: QPainter, t: Theme) -> None:
        st = self._static
        m = th.TEXT_MARGIN
        w = th.NODE_WIDTH
        painter.setPen(t.text)
        painter.setFont(t.title_font)
        y0 = (th.HEADER_HEIGHT - 2 - t.title_metrics.height()) / 2
        if "title" in st:
            painter.drawStaticText(QPointF(m, y0), st["title"])
        row1 = th.HEADER_HEIGHT + th.NODE_PAD - 1
        row2 = row1 + th.ROW_HEIGHT
        painter.setFont(t.body_font)
        painter.setPen(t.text_muted)
        if "label" in st:
            painter.drawStaticText(QPointF(m, row1), st["label"])
        painter.setPen(t.text)
        if "summary" in st:
            painter.drawStaticText(QPointF(w - m - self._right["summary"], row1), st["summary"])
        if "status" in st:
            painter.setPen(t.error if self.in_error else t.text_muted)
            painter.drawStaticText(QPointF(m, row2), st["status"])
            for i, key in enumerate(("status2", "status3")):
                if key in st:
                    painter.drawStaticText(QPointF(m, row2 + (i + 1) * th.ROW_HEIGHT), st[key])
        else:
            if "shape" in st:
                painter.setFont(t.shape_font)
                painter.drawStaticText(QPointF(m, row2), st["shape"])
            if "weights" in st:
                painter.setFont(t.body_font)
                painter.setPen(t.text_muted)
                painter.drawStaticText(QPointF(w - m - self._right["weights"], row2), st["weights"])
        if self.in_error:
            self._paint_badge(painter, t)

    def _paint_badge(self, painter: QPainter, t: Theme) -> None:
        c = QPointF(th.NODE_WIDTH - 13, (th.HEADER_HEIGHT - 2) / 2)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(t.error)
        painter.drawEllipse(c, 7.5, 7.5)
        painter.setPen(t.badge_text)
        painter.setFont(t.badge_font)
        painter.drawText(
            QRectF(c.x() - 7.5, c.y() - 7.5, 15, 15), Qt.AlignmentFlag.AlignCenter, "!"
        )

    def _paint_ports(self, painter: QPainter, t: Theme) -> None:
        accent = t.accent(self.ntype.category)
        rad = th.PORT_RADIUS
        hover = self.hover_port
        border = QPen(t.node_border if not t.dark else t.text_muted, 1.2)
        for i in range(self.slot_count()):
            connected = self.port_of_slot(i) is not None
            r = rad + (1.5 if hover == (IN, i) else 0.0)
            painter.setPen(border)
            painter.setBrush(QBrush(t.edge if connected else t.port_fill))
            painter.drawEllipse(self.slot_pos(i), r, r)
        r = rad + (1.5 if hover == (OUT, None) else 0.0)
        painter.setPen(border)
        painter.setBrush(accent if self.out_edges else t.port_fill)
        painter.drawEllipse(self.output_pos(), r, r)
