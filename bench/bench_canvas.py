"""Canvas benchmark: open a 500-node graph and repaint after a parameter edit.

Run: ``QT_QPA_PLATFORM=offscreen python -m bench.bench_canvas``. Prints

* scene build time of ``deep_resnet(100)`` (501 nodes), and until the first paint;
* a parameter edit: time from ``SetParamCommand`` push to the processed paint events of
  the view (at 100 % zoom on the edited node), as a ratio against an empty
  ``processEvents`` and against a full repaint of the viewport, measured in the same run.
"""

from __future__ import annotations

import os
import statistics
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from PySide6.QtCore import QPoint, QPointF  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from designer.commands import SetParamCommand  # noqa: E402
from designer.document import Document  # noqa: E402
from designer.scene import GraphScene  # noqa: E402
from designer.view import GraphView  # noqa: E402
from engine.templates import deep_resnet  # noqa: E402


class _TimedView(GraphView):
    """Records when a paint of the viewport finished."""

    painted_at = 0.0
    paints = 0

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().paintEvent(event)
        self.painted_at = time.perf_counter()
        self.paints += 1


def _until_painted(app: QApplication, view: _TimedView, before: int, limit: float = 2.0) -> float:
    start = time.perf_counter()
    while view.paints == before and time.perf_counter() - start < limit:
        app.processEvents()
    return view.painted_at


def main(repeats: int = 40) -> None:
    app = QApplication.instance() or QApplication([])
    model = deep_resnet(100)
    t0 = time.perf_counter()
    doc = Document(model)
    t1 = time.perf_counter()
    scene = GraphScene(doc)
    t2 = time.perf_counter()
    view = _TimedView(scene)
    view.resize(1400, 900)
    view.show()
    view.centerOn(scene.node_item("block50_conv1"))
    _until_painted(app, view, 0)
    t3 = time.perf_counter()
    print(f"nodes {len(doc.model)}, edges {len(doc.model.edges())}")
    print(f"document (analysis)        {1000 * (t1 - t0):8.1f} ms")
    print(f"scene build                {1000 * (t2 - t1):8.1f} ms")
    print(f"scene build + first paint  {1000 * (t3 - t1):8.1f} ms")

    for _ in range(5):
        app.processEvents()
    empty = []
    for _ in range(repeats):
        s = time.perf_counter()
        app.processEvents()
        empty.append(time.perf_counter() - s)
    full = []
    for _ in range(repeats // 4):
        s = time.perf_counter()
        view.viewport().repaint()
        full.append(time.perf_counter() - s)
    edits = []
    for i in range(repeats):
        before = view.paints
        s = time.perf_counter()
        doc.undo_stack.push(
            SetParamCommand(doc, "block50_conv1", "out_channels", 32 if i % 2 == 0 else 16)
        )
        end = _until_painted(app, view, before)
        edits.append(end - s)
    item = scene.node_item("block50_conv1")
    assert item.shown_text.splitlines()[1].endswith(("· 16 · s1 p1", "· 32 · s1 p1"))
    e, f, m = (statistics.median(x) * 1000 for x in (empty, full, edits))
    print(f"empty processEvents        {e:8.3f} ms")
    print(f"full viewport repaint      {f:8.2f} ms")
    print(
        f"param edit → painted       {m:8.2f} ms (median of {repeats}; "
        f"max {max(edits) * 1000:.2f} ms)"
    )
    print(f"ratio edit / empty processEvents   {m / e:8.1f}")
    print(f"ratio edit / full viewport repaint {m / f:8.2f}")

    # An edit that changes every node's shape (the input size), repainted.
    wide = []
    for i in range(repeats // 4):
        before = view.paints
        s = time.perf_counter()
        doc.undo_stack.push(SetParamCommand(doc, "input", "height", 40 if i % 2 == 0 else 32))
        _until_painted(app, view, before)
        wide.append(time.perf_counter() - s)
    w = statistics.median(wide) * 1000
    print(f"input-size edit (all {len(doc.model)} nodes change) → painted {w:8.2f} ms")

    # Dragging a node: move it (its edges re-route) and paint, as one mouse move does.
    drags = []
    for i in range(repeats):
        before = view.paints
        s = time.perf_counter()
        item.setPos(item.pos() + QPointF(3 if i % 2 == 0 else -3, 2 if i % 2 == 0 else -2))
        _until_painted(app, view, before)
        drags.append(time.perf_counter() - s)
    d = statistics.median(drags) * 1000
    print(f"node drag step → painted   {d:8.2f} ms (ratio to full repaint {d / f:.2f})")

    # Dragging every node at once (select all, mouse moves on the viewport).
    from PySide6.QtCore import QEvent, Qt
    from PySide6.QtGui import QMouseEvent

    scene.select_nodes(doc.model.nodes)
    vp = view.viewport()
    start = view.mapFromScene(item.sceneBoundingRect().center())

    def send(kind, p, button, buttons):
        QApplication.sendEvent(
            vp,
            QMouseEvent(
                kind,
                QPointF(p),
                QPointF(vp.mapToGlobal(p)),
                button,
                buttons,
                Qt.KeyboardModifier.NoModifier,
            ),
        )

    left, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
    send(QEvent.Type.MouseButtonPress, start, left, left)
    moves = []
    for i in range(1, repeats // 4 + 1):
        p = start + QPoint(2 * i, i)
        before = view.paints
        s = time.perf_counter()
        send(QEvent.Type.MouseMove, p, none, left)
        _until_painted(app, view, before)
        moves.append(time.perf_counter() - s)
    s = time.perf_counter()
    send(QEvent.Type.MouseButtonRelease, p, left, none)
    release = time.perf_counter() - s
    a = statistics.median(moves) * 1000
    print(
        f"drag all {len(doc.model)} nodes, step  {a:8.2f} ms; release (one MoveNodesCommand) "
        f"{release * 1000:.1f} ms"
    )
    assert doc.undo_stack.text(doc.undo_stack.count() - 1) == f"Move {len(doc.model)} nodes"

    # Zoom steps over the whole graph (fit) and back to 100 %.
    zooms = []
    view.fit_to_view()
    _until_painted(app, view, view.paints - 1)
    for i in range(repeats // 4):
        before = view.paints
        s = time.perf_counter()
        view.zoom_by(1.1 if i % 2 == 0 else 1 / 1.1)
        _until_painted(app, view, before)
        zooms.append(time.perf_counter() - s)
    z = statistics.median(zooms) * 1000
    print(f"zoom step, whole graph     {z:8.2f} ms (at {view.zoom():.2f}×)")


if __name__ == "__main__":
    main()
