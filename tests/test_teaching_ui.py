"""The lesson through the UI: build Inception 3a by hand, pin it, add 1×1 reductions, compare.

Nodes come from palette double-clicks, parameters are typed into the inspector, bias is
switched off with its check box, wires are dragged from port to port on the canvas.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from designer.commands import DisconnectCommand


@pytest.fixture
def win(win):
    """The main window (tests/conftest.py) on a new, empty design."""
    assert win.new_design()
    return win


def add(qtbot, win, type_name: str) -> str:
    """Double-click ``type_name`` in the palette; return the new node's id."""
    tree = win.palette_panel.tree
    item = win.palette_panel.item_for(type_name)
    tree.scrollToItem(item)
    pos = tree.visualItemRect(item).center()
    before = set(win.doc.model.nodes)
    qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    qtbot.mouseDClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    (node,) = set(win.doc.model.nodes) - before
    return node


def inspect(win, node: str):
    """Select ``node`` on the canvas; return the inspector showing it."""
    win.scene.select_nodes([node])
    QApplication.processEvents()  # new editors are shown by a queued call, as after a click
    assert win.inspector.node == node
    return win.inspector


def type_int(qtbot, spin, value: int) -> None:
    """Select the spin box's text and type ``value``."""
    spin.setFocus()
    spin.selectAll()
    qtbot.keyClicks(spin, str(value))
    assert spin.value() == value


def conv(qtbot, win, src: str, out: int, k: int, pad: int) -> str:
    """Add a conv (1×1 from its own palette entry) without bias, fed by ``src``."""
    node = add(qtbot, win, "conv1x1" if k == 1 else "conv")
    ins = inspect(win, node)
    type_int(qtbot, ins.editors["out_channels"].spin, out)
    if k != 1:
        type_int(qtbot, ins.editors["kernel_size"].h, k)
        type_int(qtbot, ins.editors["padding"].h, pad)
    qtbot.mouseClick(ins.editors["bias"].check, Qt.MouseButton.LeftButton)
    connect(win, src, node)
    return node


def _mouse(win, kind, scene_pt, button, buttons) -> None:
    vp = win.view.viewport()
    local = win.view.mapFromScene(scene_pt)
    ev = QMouseEvent(
        kind,
        QPointF(local),
        QPointF(vp.mapToGlobal(local)),
        button,
        buttons,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(vp, ev)


def connect(win, src: str, dst: str) -> None:
    """Drag a wire from ``src``'s output port to ``dst``'s free input slot on the canvas.

    Auto-Layout (Edit menu) first, so that no new node hides another's port.
    """
    win.canvas_actions.auto_layout.trigger()
    win.view.fit_to_view()
    QApplication.processEvents()
    a = win.scene.node_item(src).output_anchor()
    item = win.scene.node_item(dst)
    # Aim a few pixels inside the node's edge, where the slot's hit area is.
    b = item.mapToScene(item.slot_pos(item.slot_count() - 1) + QPointF(3, 0))
    edges = len(win.doc.model.edges())
    left, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
    _mouse(win, QEvent.Type.MouseButtonPress, a, left, left)
    for i in range(1, 7):
        _mouse(win, QEvent.Type.MouseMove, a + (b - a) * (i / 6), none, left)
    _mouse(win, QEvent.Type.MouseButtonRelease, b, left, none)
    QApplication.processEvents()
    assert len(win.doc.model.edges()) == edges + 1, f"wire {src} → {dst} was not connected"
    assert src in win.doc.model.inputs(dst)


def relu(qtbot, win, src: str) -> str:
    node = add(qtbot, win, "relu")
    connect(win, src, node)
    return node


def build_naive(qtbot, win) -> dict[str, str]:
    """Inception 3a without reductions, on 192×28×28, built through the panels."""
    ins = inspect(win, "input")
    type_int(qtbot, ins.editors["channels"].spin, 192)
    type_int(qtbot, ins.editors["height"].spin, 28)
    type_int(qtbot, ins.editors["width"].spin, 28)
    n = {
        "b1": conv(qtbot, win, "input", 64, 1, 0),
        "b2": conv(qtbot, win, "input", 128, 3, 1),
        "b3": conv(qtbot, win, "input", 32, 5, 2),
    }
    pool = add(qtbot, win, "maxpool")
    ins = inspect(win, pool)
    type_int(qtbot, ins.editors["kernel_size"].h, 3)
    qtbot.mouseClick(ins.editors["stride"].auto, Qt.MouseButton.LeftButton)
    type_int(qtbot, ins.editors["stride"].h, 1)
    type_int(qtbot, ins.editors["padding"].h, 1)
    connect(win, "input", pool)
    n["pool"] = pool
    n["concat"] = add(qtbot, win, "concat")
    for key in ("b1", "b2", "b3"):
        connect(win, relu(qtbot, win, n[key]), n["concat"])
    connect(win, pool, n["concat"])
    return n


def test_inception_3a_by_hand_gives_lesson_numbers(qtbot, win):
    """Naive 3a shows 387,072 weights; with 1×1 reductions 157,184 and −229,888 (−59.4%)."""
    n = build_naive(qtbot, win)
    model = win.doc.model
    assert win.doc.analysis.nodes[n["concat"]].shape == (416, 28, 28)
    assert win.totals_bar.weights.value.text() == "387,072"
    assert win.totals_bar.params.value.text() == "387,072"  # bias off
    qtbot.mouseClick(win.totals_bar.pin_button, Qt.MouseButton.LeftButton)

    # Put a 1×1 reduction in front of the 3×3 (to 96) and the 5×5 (to 16) convolutions.
    for key, width in (("b2", 96), ("b3", 16)):
        win.doc.undo_stack.push(DisconnectCommand(win.doc, n[key], 0))
        reduce_ = conv(qtbot, win, "input", width, 1, 0)
        connect(win, relu(qtbot, win, reduce_), n[key])
    assert win.totals_bar.weights.value.text() == "157,184"
    assert win.totals_bar.diff_text() == "−229,888 weights (−59.4%)"
    assert "−229,888 weights (−59.4%)" in win.totals_bar.diff.text()
    inspect(win, n["b2"])
    assert win.inspector.readout("weights") == "3·3·96·128 = 110,592"
    assert len(model) == 13 and not win.doc.analysis.errors


def test_undo_all_and_redo_all(qtbot, win):
    """Undoing every step returns to the bare input; redoing them rebuilds 387,072 weights."""
    build_naive(qtbot, win)
    stack = win.doc.undo_stack
    steps = stack.index()
    while stack.canUndo():
        win.undo_action.trigger()
    assert win.doc.model.nodes == ["input"]
    assert win.doc.model.params("input")["channels"] == 3
    assert win.totals_bar.weights.value.text() == "0"
    for _ in range(steps):
        win.redo_action.trigger()
    assert win.totals_bar.weights.value.text() == "387,072"


def test_delete_copy_paste_through_edit_menu(qtbot, win):
    """Delete lowers the totals and errors the concat; undo restores; copy/paste adds a copy."""
    n = build_naive(qtbot, win)
    win.scene.select_nodes([n["b2"]])
    win.canvas_actions.delete.trigger()
    assert n["b2"] not in win.doc.model
    assert win.totals_bar.weights.value.text() == "165,888"  # 387,072 − 3·3·192·128
    assert win.totals_bar.errors.text() == "⚠ 1 error"  # the 3×3 ReLU has no input
    win.undo_action.trigger()
    assert win.totals_bar.weights.value.text() == "387,072"
    assert win.totals_bar.errors.isHidden()
    win.scene.select_nodes([n["b1"]])
    win.canvas_actions.copy.trigger()
    before = set(win.doc.model.nodes)
    win.canvas_actions.paste.trigger()
    (copy,) = set(win.doc.model.nodes) - before
    assert win.doc.model.node_type(copy) == "conv1x1"
    assert win.doc.model.params(copy) == win.doc.model.params(n["b1"])
    assert copy in win.layer_table.model.row_of
