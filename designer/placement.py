"""Where new nodes go: in free space, inside the visible part of the canvas.

Plain functions over a :class:`designer.scene.GraphScene` and rectangles (scene units),
used by the view (palette drops, quick-add, a wire dropped on empty canvas) and by paste
and duplicate: a new node never lands on another node, and never partly outside the
view (under a dock or the overview).
"""

from __future__ import annotations

from PySide6.QtCore import QRectF

from designer import theme as th

GAP = 16.0  # free space kept around a placed node
STEP = 28.0  # how far a candidate position moves per try
TRIES = 400


def node_rect(x: float, y: float) -> QRectF:
    """The rectangle a new node at top-left ``(x, y)`` takes (its smallest size)."""
    return QRectF(x, y, th.NODE_WIDTH, th.NODE_MIN_HEIGHT)


def is_free(scene, rects: list[QRectF], ignore=()) -> bool:
    """Whether no node of ``scene`` (except ``ignore``d items) meets any of ``rects``."""
    for r in rects:
        grown = r.adjusted(-GAP, -GAP, GAP, GAP)
        if scene.node_rects_in(grown, ignore):
            return False
    return True


def inside(rect: QRectF, area: QRectF | None) -> QRectF:
    """``rect`` moved (not resized) the least so that it lies in ``area`` where it fits."""
    if area is None or area.isEmpty():
        return QRectF(rect)
    r = QRectF(rect)
    if r.right() > area.right():
        r.moveRight(area.right())
    if r.left() < area.left():
        r.moveLeft(area.left())
    if r.bottom() > area.bottom():
        r.moveBottom(area.bottom())
    if r.top() < area.top():
        r.moveTop(area.top())
    return r


def free_offset(
    scene, rects: list[QRectF], area: QRectF | None = None, ignore=()
) -> tuple[float, float]:
    """The smallest shift ``(dx, dy)`` that puts every one of ``rects`` in free space.

    Candidates go outwards from no shift: down, right, up and left in growing rings, and
    those that keep the group inside ``area`` (when it fits there) come first.
    """
    if not rects:
        return 0.0, 0.0
    group = QRectF(rects[0])
    for r in rects[1:]:
        group = group.united(r)
    fitted = inside(group, area)
    base = (fitted.left() - group.left(), fitted.top() - group.top())
    fits = area is not None and group.width() <= area.width() and group.height() <= area.height()

    def ok(dx: float, dy: float, need_inside: bool) -> bool:
        moved = [r.translated(dx, dy) for r in rects]
        if need_inside and not area.contains(group.translated(dx, dy)):
            return False
        return is_free(scene, moved, ignore)

    for need_inside in (True, False) if fits else (False,):
        for ring in range(TRIES // 8 + 1):
            d = ring * STEP
            cands = [(0.0, d), (d, 0.0), (0.0, -d), (-d, 0.0), (d, d), (-d, d), (d, -d), (-d, -d)]
            for cx, cy in cands if ring else [(0.0, 0.0)]:
                dx, dy = base[0] + cx, base[1] + cy
                if ok(dx, dy, need_inside):
                    return dx, dy
    return base
