"""Blocks on the canvas: collapsed cards, frames of expanded blocks, and their links.

:class:`BlockLayer` follows a :class:`~designer.scene.GraphScene`'s document: a node
inside a collapsed block is hidden, and the outermost collapsed block shows as one
:class:`BlockCard` (name, type, input → output shape, parameters, MACs, receptive field);
edges into and out of it are drawn as :class:`BlockLink` s. An expanded block draws a
:class:`BlockFrame` around its visible members, under its name, with a chevron that
collapses it. Double-clicking a card expands it. Everything shown is read from the
model; gestures push commands from :mod:`designer.block_commands`.
"""

from __future__ import annotations

import shiboken6
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer
from PySide6.QtGui import QBrush, QColor, QFont, QFontInfo, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPathItem, QStyleOptionGraphicsItem

from designer import theme as th
from designer.block_commands import BlockCommand, set_collapsed_command
from designer.edge_item import curve, wrap_path
from designer.plaintext import tip as plain_tip
from engine.blocks.hierarchy import all_types, block_of, block_totals, is_under, records
from engine.blocks.layout import BLOCK_H, collapsed_roots, unit_of
from engine.blocks.types import BlockError
from engine.formatting import fmt_compact as fmt_count
from engine.formatting import fmt_rf_size
from engine.nodes import fmt_shape

CARD_W = th.NODE_WIDTH
FRAME_PAD = 16.0
TITLE_H = 24.0
CHEVRON = 14.0
BAND_GAP = 100.0  # members closer than this are one piece of a frame (engine.blocks.layout)
FRAME_TITLE_PX = 12.0  # an expanded block's title never reads smaller (if its band allows)
COMPACT_BELOW = 0.6  # zoomed out further: the card shows its name and shapes only


def _rf_text(rf) -> str:
    return f"RF {fmt_rf_size(rf)}" if rf else "RF –"


class BlockCard(QGraphicsItem):
    """A collapsed block: one card with its shapes and totals."""

    def __init__(self, layer: BlockLayer, path: str) -> None:
        super().__init__()
        self.layer = layer
        self.path = path
        self.lines: list[str] = []
        self.title = ""
        self.subtitle = ""
        self.error = False
        self._rect = QRectF(0, 0, CARD_W, BLOCK_H)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable, True)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsMovable, True)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemSendsGeometryChanges, True)
        self.setZValue(2)
        self.setAcceptHoverEvents(True)

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt's name
        return self._rect.adjusted(-th.PORT_RADIUS - 1, -1, th.PORT_RADIUS + 1, 1)

    def rect(self) -> QRectF:
        """The card in item coordinates."""
        return self._rect

    def output_anchor(self) -> QPointF:
        """Scene position where links leave the card."""
        return self.mapToScene(QPointF(CARD_W, BLOCK_H / 2))

    def input_anchor(self, port: int = 0) -> QPointF:
        """Scene position where links enter the card."""
        return self.mapToScene(QPointF(0.0, BLOCK_H / 2))

    def chevron_rect(self) -> QRectF:
        """Where the expand chevron is (item coordinates)."""
        return QRectF(CARD_W - CHEVRON - 8, 5, CHEVRON, CHEVRON)

    def set_content(self, title: str, subtitle: str, lines: list[str], error: bool) -> None:
        """Show a block's name, type line and totals."""
        self.title, self.subtitle, self.lines, self.error = title, subtitle, lines, error
        self.setToolTip("\n".join([f"{title} — {subtitle}", *lines, "Double-click to expand"]))
        self.update()

    def itemChange(self, change, value):  # noqa: N802 - Qt's name
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionHasChanged:
            self.layer.update_links()
        return super().itemChange(change, value)

    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if self.chevron_rect().contains(event.pos()):
            self.layer.set_collapsed(self.path, False)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self.layer.set_collapsed(self.path, False)
        event.accept()

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().mouseReleaseEvent(event)
        self.layer.commit_moves()

    def paint(self, painter: QPainter, option, widget=None) -> None:
        t = self.layer.scene.theme
        r = self._rect
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        accent = t.error if self.error else t.accent("Merge")
        border = t.highlight if self.isSelected() else accent
        painter.setPen(QPen(border, 2.4 if self.isSelected() else 1.6))
        painter.setBrush(QBrush(t.node_body))
        painter.drawRoundedRect(r, th.NODE_RADIUS, th.NODE_RADIUS)
        # A second outline offset behind: a stack of layers.
        painter.setPen(QPen(accent, 1.0))
        painter.drawLine(
            QPointF(r.left() + 6, r.bottom() + 3), QPointF(r.right() - 2, r.bottom() + 3)
        )
        lod = QStyleOptionGraphicsItem.levelOfDetailFromTransform(painter.worldTransform())
        if lod < COMPACT_BELOW:  # zoomed out: name and shapes at a constant screen size
            self._paint_compact(painter, t, lod)
            return
        head = QRectF(r.left(), r.top(), r.width(), th.HEADER_HEIGHT + 16)
        path = QPainterPath()
        path.addRoundedRect(head, th.NODE_RADIUS, th.NODE_RADIUS)
        painter.fillPath(path, t.header("Merge"))
        painter.setPen(t.text)
        painter.setFont(t.title_font)
        painter.drawText(head.adjusted(th.TEXT_MARGIN, 2, -CHEVRON - 12, -16),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         t.title_metrics.elidedText(self.title, Qt.TextElideMode.ElideRight,
                                                    r.width() - CHEVRON - 24))  # fmt: skip
        painter.setFont(t.small_font)
        painter.setPen(t.text_muted)
        painter.drawText(QRectF(r.left() + th.TEXT_MARGIN, r.top() + 20, r.width() - 20, 16),
                         Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         t.small_metrics.elidedText(self.subtitle, Qt.TextElideMode.ElideRight,
                                                    r.width() - 20))  # fmt: skip
        c = self.chevron_rect()
        tri = QPainterPath()
        tri.moveTo(c.left() + 3, c.top() + 2)
        tri.lineTo(c.right() - 2, c.center().y())
        tri.lineTo(c.left() + 3, c.bottom() - 2)
        tri.closeSubpath()
        painter.fillPath(tri, t.text_muted)
        painter.setFont(t.body_font)
        y = r.top() + th.HEADER_HEIGHT + 20
        for i, line in enumerate(self.full_lines()):
            painter.setPen(t.error if self.error and i == 0 else t.text if i == 0 else t.text_muted)
            painter.drawText(QRectF(r.left() + th.TEXT_MARGIN, y, r.width() - 20, th.ROW_HEIGHT),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                             t.body_metrics.elidedText(line, Qt.TextElideMode.ElideRight,
                                                       r.width() - 20))  # fmt: skip
            y += th.ROW_HEIGHT
        painter.setPen(QPen(t.edge, 1.2))
        painter.setBrush(QBrush(t.port_fill))
        for p in (QPointF(0, BLOCK_H / 2), QPointF(CARD_W, BLOCK_H / 2)):
            painter.drawEllipse(p, th.PORT_RADIUS, th.PORT_RADIUS)

    def full_lines(self) -> list[str]:
        """The card's lines at full size: ``in → out`` shapes, or ``→ out`` alone when both
        do not fit (the output shape is never cut)."""
        lines = list(self.lines)
        fm = self.layer.scene.theme.body_metrics
        if lines and " → " in lines[0] and fm.horizontalAdvance(lines[0]) > self._rect.width() - 20:
            lines[0] = "→ " + lines[0].rsplit(" → ", 1)[-1]
        return lines

    def compact_texts(self, lod: float) -> tuple[int, list[str]]:
        """Zoomed out: the font size (screen pixels) and the two lines (name, ``→ shape``),
        the largest size at which both fit the card, a square map written ``C×H²`` when
        ``C×H×W`` does not fit (elided only below 8 px)."""
        t = self.layer.scene.theme
        r = self._rect
        shape = self.lines[0].rsplit(" → ", 1)[-1] if self.lines else ""
        arrow = "→ " if " → " in (self.lines or [""])[0] else ""
        forms = [f"{arrow}{shape}"]
        dims = shape.split("×")
        if len(dims) == 3 and dims[1] == dims[2]:  # 1024×14×14 → 1024×14² (as nodes show it)
            forms += [f"{arrow}{dims[0]}×{dims[1]}²", f"{dims[0]}×{dims[1]}²"]
        width = r.width() * lod - 8
        sizes = [px for px in (11, 10, 9, 8) if px / lod * 2.6 <= r.height()] or [8]
        for floor in (9, 8):  # the fullest form that fits at 9 px or more, else at 8 px
            for line in forms:
                for px in (px for px in sizes if px >= floor):
                    _font, fm = t.label_font(px)
                    if fm.horizontalAdvance(line) <= width:
                        title = fm.elidedText(self.title, Qt.TextElideMode.ElideRight, width)
                        return px, [title, line]
        _font, fm = t.label_font(sizes[-1])
        texts = [
            fm.elidedText(x, Qt.TextElideMode.ElideRight, width) for x in (self.title, forms[-1])
        ]
        return sizes[-1], texts

    def _paint_compact(self, painter: QPainter, t, lod: float) -> None:
        r = self._rect
        px, texts = self.compact_texts(lod)
        font, _fm = t.label_font(px)
        size = px / lod  # scene units giving ``px`` screen pixels
        scaled = QFont(font)
        scaled.setPixelSize(max(1, round(size)))
        painter.setFont(scaled)
        for i, text in enumerate(texts):
            painter.setPen(t.text if i == 0 else t.text_muted)
            band = QRectF(r.left(), r.top() + r.height() * (0.18 + 0.36 * i), r.width(), size * 1.3)
            painter.drawText(
                band, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignVCenter, text
            )


class BlockFrame(QGraphicsItem):
    """The frame of an expanded block around its visible members, under its name."""

    def __init__(self, layer: BlockLayer, path: str) -> None:
        super().__init__()
        self.layer = layer
        self.path = path
        self.rects: list[QRectF] = []
        self.title = ""
        self._bounds = QRectF()
        self.setZValue(-2)
        self.setAcceptHoverEvents(True)

    def set_rects(self, rects: list[QRectF], title: str, inner: int) -> None:
        """Frame ``rects`` (one per row the members occupy), titled ``title``.

        ``inner`` is how many levels of expanded blocks it holds: each gets its own
        title band, so nested titles never overlap.
        """
        self.prepareGeometryChange()
        side = FRAME_PAD + 6 * inner
        top = FRAME_PAD + TITLE_H + (TITLE_H + 4) * inner
        self.rects = [r.adjusted(-side, -top, side, side) for r in rects]
        self.title = title
        self._bounds = QRectF()
        for r in self.rects:
            self._bounds = self._bounds.united(r)
        self.setToolTip(
            plain_tip(f"{title}\nClick the chevron or double-click the title to collapse")
        )
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt's name
        return self._bounds.adjusted(-2, -2, 2, 2)

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        for r in self.rects:
            path.addRect(QRectF(r.left(), r.top(), r.width(), TITLE_H))
        return path

    def title_rect(self) -> QRectF:
        """The clickable title band of the first piece (scene coordinates)."""
        r = self.rects[0] if self.rects else QRectF()
        return QRectF(r.left(), r.top(), r.width(), TITLE_H)

    def mousePressEvent(self, event) -> None:  # noqa: N802 - Qt's name
        r = self.title_rect()
        if QRectF(r.left(), r.top(), CHEVRON + 16, TITLE_H).contains(event.pos()):
            self.layer.set_collapsed(self.path, True)
            event.accept()
            return
        event.ignore()

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self.layer.set_collapsed(self.path, True)
        event.accept()

    def paint(self, painter: QPainter, option, widget=None) -> None:
        t = self.layer.scene.theme
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        fill = QColor(t.accent("Merge"))
        fill.setAlpha(22 if not t.dark else 30)
        pen = QPen(t.accent("Merge"), 1.2, Qt.PenStyle.DashLine)
        for i, r in enumerate(self.rects):
            painter.setPen(pen)
            painter.setBrush(QBrush(fill))
            painter.drawRoundedRect(r, 10, 10)
            if i:
                continue
            c = QRectF(r.left() + 8, r.top() + 5, CHEVRON, CHEVRON)
            tri = QPainterPath()
            tri.moveTo(c.left() + 1, c.top() + 3)
            tri.lineTo(c.right() - 1, c.top() + 3)
            tri.lineTo(c.center().x(), c.bottom() - 2)
            tri.closeSubpath()
            painter.fillPath(tri, t.text_muted)
            painter.setPen(t.text)
            lod = QStyleOptionGraphicsItem.levelOfDetailFromTransform(painter.worldTransform())
            painter.setFont(self.title_font(lod))
            band = QRectF(c.right() + 6, r.top(), r.width() - CHEVRON - 24, TITLE_H)
            painter.drawText(band.adjusted(0, -3, 0, 3),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                             self.title)  # fmt: skip

    def title_font(self, lod: float) -> QFont:
        """The title's font at zoom ``lod``: the node titles' size, grown when zoomed out
        to keep :data:`FRAME_TITLE_PX` screen pixels, as far as its band allows."""
        base = self.layer.scene.theme.title_font
        size = QFontInfo(base).pixelSize()
        font = QFont(base)
        font.setPixelSize(max(1, round(max(size, min(FRAME_TITLE_PX / lod, TITLE_H + 4)))))
        return font


class BlockLink(QGraphicsPathItem):
    """An edge drawn to or from a collapsed block's card."""

    def __init__(self, color: QColor) -> None:
        super().__init__()
        self.setPen(QPen(color, 1.6))
        self.setZValue(-1)
        self.ends: tuple = ()


class BlockLayer:
    """Keeps the canvas' block cards, frames and links in step with the model."""

    def __init__(self, scene) -> None:
        self.scene = scene
        self.doc = scene.doc
        self.cards: dict[str, BlockCard] = {}
        self.frames: dict[str, BlockFrame] = {}
        self.links: list[BlockLink] = []
        self.unit: dict[str, str] = {}
        self.aspect = (1600.0, 1000.0)
        self._pending = False
        d = self.doc
        for sig in (d.blocks_changed, d.graph_reset, d.node_added, d.node_removed, d.edge_added,
                    d.edge_removed, d.nodes_moved, d.analysis_changed, d.node_renamed):  # fmt: skip
            sig.connect(self.schedule)
        # Up to date as soon as a command is done or a design loaded (a fit may follow).
        d.undo_stack.indexChanged.connect(self.sync_if_pending)
        d.graph_reset.connect(self.sync_if_pending)
        self.sync()

    # ------------------------------------------------------------------ state
    def schedule(self, *_args) -> None:
        """Bring the items up to date on the next turn of the event loop."""
        if not self._pending:
            self._pending = True
            QTimer.singleShot(0, self._run_pending)

    def _run_pending(self) -> None:
        if self._pending and shiboken6.isValid(self.scene):
            self.sync()

    def sync_if_pending(self) -> None:
        """Update now if a change is waiting (before measuring the canvas)."""
        if self._pending:
            self.sync()

    def card(self, path: str) -> BlockCard | None:
        """The card of a collapsed block (``None`` if it shows expanded or not at all)."""
        return self.cards.get(path)

    def selected_blocks(self) -> list[str]:
        """Paths of the selected cards."""
        return [p for p, c in self.cards.items() if c.isSelected()]

    def selected_members(self) -> set[str]:
        """The nodes inside the selected cards."""
        chosen = set(self.selected_blocks())
        return {n for n, u in self.unit.items() if u in chosen}

    def sync(self) -> None:
        """Hide members of collapsed blocks; make cards, frames and links."""
        self._pending = False
        model = self.doc.model
        scene = self.scene
        roots = collapsed_roots(model)
        self.unit = unit = unit_of(model, roots)
        recs = records(model)
        hidden: dict[str, QPointF] = {}  # where the hidden members wait: under their card
        for path in roots:
            pos = recs[path].get("pos") or self._members_corner(path)
            hidden[path] = QPointF(pos[0], pos[1] + (BLOCK_H - th.NODE_MIN_HEIGHT) / 2)
        for n, item in scene.nodes.items():
            u = unit.get(n, n)
            item.setVisible(u == n)
            p = (
                hidden[u]
                if u != n
                else QPointF(*(model.pos(n) or (item.pos().x(), item.pos().y())))
            )
            if item.pos() != p:
                item.setPos(p)
        for (u, v, _), e in scene.edges.items():
            e.setVisible(unit.get(u) == u and unit.get(v) == v)
        for path in list(self.cards):
            if path not in roots:
                scene.removeItem(self.cards.pop(path))
        try:
            types = all_types(model)
        except BlockError:
            types = {}
        analysis = self.doc.analysis
        for path in roots:
            card = self.cards.get(path)
            if card is None:
                card = self.cards[path] = BlockCard(self, path)
                scene.addItem(card)
            rec = recs[path]
            pos = rec.get("pos") or self._members_corner(path)
            if card.pos() != QPointF(*pos):
                card.setPos(QPointF(*pos))
            tot = block_totals(model, analysis, path)
            key = rec.get("type")
            kind = types[key].title if key in types else "block"
            shapes = (
                (", ".join(fmt_shape(s) for s in tot.in_shapes) or "–")
                + " → "
                + (", ".join(fmt_shape(s) for s in tot.out_shapes) or "–")
            )
            lines = [shapes, f"{fmt_count(tot.params)} params · {fmt_count(tot.macs)} MACs",
                     f"{_rf_text(tot.rf)} · {tot.nodes} nodes"]  # fmt: skip
            if tot.errors:
                lines[0] = f"{tot.errors} node(s) in error"
            name = rec.get("name") or path
            card.set_content(path if name.isdigit() else name, kind, lines, bool(tot.errors))
        self._sync_frames(recs, roots)
        self.update_links()

    def _members_corner(self, path: str) -> tuple[float, float]:
        model = self.doc.model
        ps = [model.pos(n) for n in model.graph.nodes if is_under(block_of(model, n), path)]
        ps = [p for p in ps if p is not None] or [(0.0, 0.0)]
        return (min(p[0] for p in ps), min(p[1] for p in ps))

    def _sync_frames(self, recs: dict, roots: list[str]) -> None:
        model, scene = self.doc.model, self.scene
        shown = {}
        for path, rec in recs.items():
            if rec.get("collapsed") or any(is_under(path, r) for r in roots):
                continue
            rects = []
            for n in model.graph.nodes:
                if is_under(block_of(model, n), path) and self.unit.get(n) == n:
                    rects.append(scene.nodes[n].sceneBoundingRect())
            for r in roots:
                if is_under(r, path) and r in self.cards:
                    rects.append(self.cards[r].sceneBoundingRect())
            if rects:
                shown[path] = rects
        for path in list(self.frames):
            if path not in shown:
                scene.removeItem(self.frames.pop(path))
        for path, rects in shown.items():
            frame = self.frames.get(path)
            if frame is None:
                frame = self.frames[path] = BlockFrame(self, path)
                scene.addItem(frame)
            rec = recs[path]
            key = rec.get("type")
            title = rec.get("name") or path
            title = path if title.isdigit() else title  # "layer2.0", not "0"
            if key:
                title += f"  ({key})"
            frame.set_rects(_rows(rects), title, _levels(path, shown))

    def update_links(self) -> None:
        """Redraw the edges that end at a collapsed block."""
        scene = self.scene
        for link in self.links:
            scene.removeItem(link)
        self.links = []
        unit = self.unit
        seen = set()
        for u, v, k in self.doc.model.edges():
            a, b = unit.get(u, u), unit.get(v, v)
            if a == b or (a == u and b == v) or (a, b, k if b == v else 0) in seen:
                continue
            seen.add((a, b, k if b == v else 0))
            src = self.cards.get(a) or scene.nodes.get(a)
            dst = self.cards.get(b) or scene.nodes.get(b)
            if src is None or dst is None:
                continue
            p0 = src.output_anchor()
            p1 = dst.input_anchor(k) if b == v else dst.input_anchor(0)
            link = BlockLink(scene.theme.edge)
            link.setPath(curve(p0, p1) if p1.x() > p0.x() else wrap_path(p0, p1))
            scene.addItem(link)
            self.links.append(link)

    def bounding_rect(self) -> QRectF:
        """The rectangle of the cards and frames."""
        rect = QRectF()
        for item in list(self.cards.values()) + list(self.frames.values()):
            rect = rect.united(item.sceneBoundingRect())
        return rect

    def view_aspect(self) -> tuple[float, float]:
        """The size of the canvas showing the scene (the layout wraps to fit it)."""
        views = self.scene.views()
        if views:
            vp = views[0].viewport().rect()
            if vp.width() >= 200 and vp.height() >= 150:
                return (float(vp.width()), float(vp.height()))
        return self.aspect

    # ------------------------------------------------------------------ gestures
    def set_collapsed(self, path: str, collapsed: bool) -> None:
        """Push the command that collapses or expands ``path``."""
        try:
            cmd = set_collapsed_command(self.doc, path, collapsed, self.view_aspect())
        except BlockError as exc:
            self.scene.show_message(exc.message, QPointF())
            return
        self.doc.undo_stack.push(cmd)

    def open_to_show(self, nodes) -> bool:
        """Open the collapsed blocks (and blocks inside them) that hide any of ``nodes``,
        as one undo step, so that a node chosen elsewhere (the layer table, a plot) shows
        on the canvas. Returns whether a block was opened."""
        self.sync_if_pending()
        hidden = [n for n in nodes if self.unit.get(n, n) != n]
        if not hidden:
            return False
        stack = self.doc.undo_stack
        stack.beginMacro(f"Open the block holding '{hidden[0]}'")
        try:
            for _level in range(64):  # each pass opens one more level of nesting
                self.sync_if_pending()
                shut = sorted({self.unit.get(n, n) for n in hidden} - set(hidden))
                if not shut:
                    break
                for path in shut:
                    stack.push(set_collapsed_command(self.doc, path, False, self.view_aspect()))
                self.sync()
        except BlockError as exc:
            self.scene.show_message(exc.message, QPointF())
        finally:
            stack.endMacro()
        return True

    def commit_moves(self) -> None:
        """Cards (and nodes dragged with them) that moved become one undoable move."""
        model = self.doc.model
        recs = records(model)
        steps = []
        old_pos, new_pos = {}, {}
        for path, card in self.cards.items():
            now = [card.pos().x(), card.pos().y()]
            if recs[path].get("pos") != now:
                index = list(recs).index(path)
                steps.append(("block", path, dict(recs[path]), {**recs[path], "pos": now}, index))
        for n, item in self.scene.nodes.items():
            p = model.pos(n)
            if item.isVisible() and p is not None and (item.pos().x(), item.pos().y()) != p:
                old_pos[n] = p
                new_pos[n] = (item.pos().x(), item.pos().y())
        if new_pos:
            steps.append(("pos", old_pos, new_pos))
        if steps:
            self.doc.undo_stack.push(BlockCommand(self.doc, "Move", steps))


def _levels(path: str, shown: dict) -> int:
    """How many levels of shown frames lie inside the frame of ``path``.

    The longest chain of shown frames below it: for each shown frame inside, the shown
    frames on its path (linear in the frames and their depth, not exponential).
    """
    prefix = path + "."
    best = 0
    for p in shown:
        if not p.startswith(prefix):
            continue
        parts = p[len(prefix) :].split(".")
        chain = sum(1 for i in range(1, len(parts) + 1) if prefix + ".".join(parts[:i]) in shown)
        best = max(best, chain)
    return best


def _rows(rects: list[QRectF]) -> list[QRectF]:
    """Rectangles grouped into bands (a frame's members in one row of the layout, which
    stacks them at most 98 px apart and rows 110 apart), one union per band."""
    bands: list[QRectF] = []
    for r in sorted(rects, key=lambda r: r.top()):
        for i, b in enumerate(bands):
            if r.top() <= b.bottom() + BAND_GAP and r.bottom() >= b.top() - BAND_GAP:
                bands[i] = b.united(r)
                break
        else:
            bands.append(QRectF(r))
    return bands
