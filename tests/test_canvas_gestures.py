"""Real gestures on the canvas (mouse, keys, drops) and the canvas actions, with undo."""

from __future__ import annotations

import json

import pytest
from canvas_helpers import Canvas, chain_model
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt
from PySide6.QtGui import (
    QContextMenuEvent,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QKeySequence,
    QWheelEvent,
)
from PySide6.QtWidgets import QApplication

from designer.view import NODE_MIME
from engine.core import fileformat
from engine.core.graph import GraphModel
from engine.nodes import fmt_shape


def _free_model() -> GraphModel:
    """input 3×8×8 and an unconnected conv and relu, plus a concat."""
    m = GraphModel("free")
    m.add_node("input", {"channels": 3, "height": 8, "width": 8}, "input", (0, 0))
    m.add_node("conv", {"out_channels": 4, "kernel_size": 3, "padding": 1}, "conv", (300, 0))
    m.add_node("relu", {}, "relu", (600, 0))
    m.add_node("concat", {}, "concat", (300, 200))
    return m


# --------------------------------------------------------------------------- adding
def test_drop_of_palette_type_adds_node_at_drop_point(qtbot):
    """Dropping the palette mime type adds that node centred under the drop point."""
    c = Canvas(qtbot, _free_model())
    target = QPointF(150, 400)
    mime = QMimeData()
    mime.setData(NODE_MIME, b"maxpool")
    vp = c.view.viewport()
    local = c.view_point(target)
    enter = QDragEnterEvent(
        local,
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(vp, enter)
    assert enter.isAccepted()
    QApplication.sendEvent(
        vp,
        QDragMoveEvent(
            local,
            Qt.DropAction.CopyAction,
            mime,
            Qt.MouseButton.LeftButton,
            Qt.KeyboardModifier.NoModifier,
        ),
    )
    QApplication.sendEvent(
        vp,
        QDropEvent(
            QPointF(local),
            Qt.DropAction.CopyAction,
            mime,
            Qt.MouseButton.LeftButton,
            Qt.KeyboardModifier.NoModifier,
        ),
    )
    assert "maxpool" in c.model
    assert c.item("maxpool").sceneBoundingRect().contains(target)
    assert c.scene.selected_nodes() == ["maxpool"]
    assert c.doc.undo_stack.text(c.doc.undo_stack.count() - 1) == "Add maxpool 'maxpool'"
    c.doc.undo_stack.undo()
    assert "maxpool" not in c.model and c.item("maxpool") is None


def test_tab_opens_quick_add_and_enter_adds_filtered_type(qtbot):
    """Tab opens the popup; typing "1x1" picks the 1×1 conv; Enter adds it at the cursor."""
    c = Canvas(qtbot, _free_model())
    c.view.setFocus()
    qtbot.keyClick(c.view, Qt.Key.Key_Tab)
    popup = c.view.quick_add
    assert popup.isVisible()
    qtbot.keyClicks(popup.edit, "1x1")
    assert popup.shown_types()[0] == "conv1x1"
    qtbot.keyClick(popup.edit, Qt.Key.Key_Return)
    assert not popup.isVisible()
    assert c.model.node_type("conv1x1") == "conv1x1"
    assert c.item("conv1x1").shown_text.splitlines()[1] == "1×1 Conv 1×1 · 64"


def test_right_click_on_empty_canvas_opens_quick_add(qtbot):
    """A context-menu click on empty canvas opens the quick-add popup there."""
    c = Canvas(qtbot, _free_model())
    at = c.view_point(QPointF(100, 500))
    ev = QContextMenuEvent(QContextMenuEvent.Reason.Mouse, at, c.view.viewport().mapToGlobal(at))
    QApplication.sendEvent(c.view.viewport(), ev)
    assert c.view.quick_add.isVisible()
    qtbot.keyClicks(c.view.quick_add.edit, "relu")
    qtbot.keyClick(c.view.quick_add.edit, Qt.Key.Key_Return)
    rect = c.item("relu1").sceneBoundingRect()
    assert c.view.visible_area(0).contains(rect)  # near the click, wholly in view
    assert abs(rect.center().x() - 100) < 184 and abs(rect.center().y() - 500) < 184


def test_add_node_at_center_avoids_stacking(qtbot):
    """Two palette double-clicks add two nodes that do not sit on each other."""
    c = Canvas(qtbot, _free_model())
    a = c.view.add_node_at_center("relu")
    b = c.view.add_node_at_center("relu")
    assert (a, b) == ("relu1", "relu2")
    assert c.model.pos(a) != c.model.pos(b)


# --------------------------------------------------------------------------- connecting
def test_drag_output_port_to_input_port_connects(qtbot):
    """Dragging input's output port onto conv's input port connects them (one command)."""
    c = Canvas(qtbot, _free_model())
    c.drag(c.out_port("input"), c.in_slot("conv"))
    assert c.model.edges() == [("input", "conv", 0)]
    assert c.scene.edge_item("input", "conv", 0) is not None
    assert c.item("conv").shown_text.splitlines()[2] == "4×8×8 108 w"
    assert c.doc.undo_stack.text(0) == "Connect 'input' → 'conv'"
    c.doc.undo_stack.undo()
    assert c.model.edges() == []
    assert c.scene.edge_item("input", "conv", 0) is None
    assert c.item("conv").shown_text.splitlines()[2] == "has no input; connect a node to it"
    c.doc.undo_stack.redo()
    assert c.model.edges() == [("input", "conv", 0)]
    assert c.item("conv").shown_text.splitlines()[2] == "4×8×8 108 w"


def test_drag_output_port_onto_node_body_connects(qtbot):
    """Dropping a dragged connection on a node's body uses its next free input."""
    c = Canvas(qtbot, _free_model())
    c.drag(c.out_port("input"), c.body("concat"))
    c.drag(c.out_port("input"), c.body("concat"))
    assert c.model.ports("concat") == [(0, "input"), (1, "input")]
    assert c.item("concat").slot_count() == 3
    assert c.item("concat").shown_text.splitlines()[2] == "6×8×8"


def test_drag_from_free_input_slot_to_node_connects(qtbot):
    """Dragging from a free input slot onto a node makes that node the source."""
    c = Canvas(qtbot, _free_model())
    c.drag(c.in_slot("conv"), c.body("input"))
    assert c.model.edges() == [("input", "conv", 0)]


def test_refused_cycle_shows_reason_and_changes_nothing(qtbot):
    """A connection closing a cycle is refused: nothing is pushed, the reason is shown."""
    c = Canvas(qtbot, chain_model())
    c.doc.model.add_node("concat", {}, "cat", (780, 0))
    c.doc.model.connect("relu", "cat")
    edges = c.model.edges()
    count = c.doc.undo_stack.count()
    refused = []
    c.scene.connection_refused.connect(refused.append)
    c.drag(c.out_port("cat"), c.in_slot("cat", 1))
    assert c.model.edges() == edges
    assert c.doc.undo_stack.count() == count
    assert refused == ["connecting 'cat' → 'cat' would make a cycle: 'cat' already feeds 'cat'"]
    assert c.scene.message.isVisible() and c.scene.message.text == refused[0]


TAKEN = "relu 'relu' already has its input from 'conv'; disconnect it first"


def test_refused_second_input_shows_reason(qtbot):
    """Dragging into a single input that is taken shows the engine's reason."""
    c = Canvas(qtbot, chain_model())
    c.doc.model.add_node("input", {}, "input2", (0, 300))
    c.drag(c.out_port("input2"), c.body("relu"))
    assert ("input2", "relu", 0) not in c.model.edges()
    assert c.scene.last_message == TAKEN
    assert c.item("relu").drop_state is None


def test_hovering_a_refusing_target_shows_the_reason_before_release(qtbot):
    """While dragging, a target the engine refuses turns red and the reason shows at once."""
    c = Canvas(qtbot, chain_model())
    c.doc.model.add_node("input", {}, "input2", (0, 300))
    c.press(c.out_port("input2"))
    c.move(c.body("relu") + QPointF(-20, 0))
    c.move(c.body("relu"))
    assert c.item("relu").drop_state == "bad"
    assert c.scene.message.isVisible()
    assert c.scene.message.text == TAKEN
    c.move(QPointF(300, 250))
    assert not c.scene.message.isVisible()  # gone once the cursor leaves the target
    c.release(QPointF(300, 250))
    assert c.item("relu").drop_state is None and c.doc.undo_stack.count() == 0


def test_a_note_under_the_cursor_does_not_block_a_port(qtbot):
    """A transient note lying over a port lets a connection drag start there."""
    c = Canvas(qtbot, _free_model())
    c.scene.message.show_text("a note", c.out_port("input") - QPointF(16, 16))
    assert c.scene.message.isVisible()
    c.drag(c.out_port("input"), c.in_slot("conv"))
    assert c.model.edges() == [("input", "conv", 0)]
    assert c.model.pos("input") == (0.0, 0.0)


def test_refused_upstream_cycle_through_multi_input(qtbot):
    """relu → concat is refused when concat already feeds relu (a longer cycle)."""
    c = Canvas(qtbot, _free_model())
    c.drag(c.out_port("input"), c.body("concat"))
    c.drag(c.out_port("concat"), c.in_slot("relu"))
    count = c.doc.undo_stack.count()
    c.drag(c.out_port("relu"), c.body("concat"))
    assert c.doc.undo_stack.count() == count
    assert "would make a cycle" in c.scene.last_message


def test_link_dropped_on_empty_canvas_adds_a_wired_node(qtbot):
    """Releasing a connection drag on empty canvas opens quick-add; the pick is wired in."""
    c = Canvas(qtbot, chain_model())
    c.drag(c.out_port("relu"), QPointF(760, 200))
    popup = c.view.quick_add
    assert popup.isVisible()
    qtbot.keyClicks(popup.edit, "max")
    qtbot.keyClick(popup.edit, Qt.Key.Key_Return)
    assert ("relu", "maxpool", 0) in c.model.edges()
    assert c.item("maxpool").shown_text.splitlines()[2] == "4×4×4"
    # Near the drop point, but wholly in view (not under the right-hand dock).
    assert c.item("maxpool").input_anchor(0).y() == 200
    assert c.view.visible_area(0).contains(c.item("maxpool").sceneBoundingRect())
    assert c.doc.undo_stack.count() == 1
    assert c.doc.undo_stack.text(0) == "Add maxpool after 'relu'"
    c.doc.undo_stack.undo()
    assert "maxpool" not in c.model and c.model.edges() == [
        ("input", "conv", 0),
        ("conv", "relu", 0),
    ]


def test_link_from_free_input_dropped_on_empty_canvas_adds_a_source(qtbot):
    """From a free input slot, the node picked in quick-add becomes the input."""
    c = Canvas(qtbot, _free_model())
    c.drag(c.in_slot("conv"), QPointF(100, 300))
    qtbot.keyClicks(c.view.quick_add.edit, "input")
    qtbot.keyClick(c.view.quick_add.edit, Qt.Key.Key_Return)
    assert ("input1", "conv", 0) in c.model.edges()
    assert c.item("conv").shown_text.splitlines()[2] == "4×224×224 108 w"


# --------------------------------------------------------------------------- disconnecting
def test_drag_edge_end_to_empty_canvas_disconnects(qtbot):
    """Dragging the input end of an edge onto empty canvas removes the edge."""
    c = Canvas(qtbot, chain_model())
    end = c.in_slot("relu") + QPointF(-14, 0)
    c.drag(end, QPointF(400, 300))
    assert ("conv", "relu", 0) not in c.model.edges()
    assert c.scene.edge_item("conv", "relu", 0) is None
    assert c.doc.undo_stack.text(0) == "Disconnect 'conv' → 'relu'"
    assert c.item("relu").in_error
    c.doc.undo_stack.undo()
    assert ("conv", "relu", 0) in c.model.edges()
    assert c.item("relu").shown_text.splitlines()[2] == "4×8×8"
    c.doc.undo_stack.redo()
    assert c.model.edges() == [("input", "conv", 0)]
    assert c.item("relu").shown_text.splitlines()[2] == "has no input; connect a node to it"


def test_drag_connected_input_port_to_other_node_reconnects(qtbot):
    """Dragging a connected input port onto another node moves the edge (one undo step)."""
    c = Canvas(qtbot, chain_model())
    c.doc.model.add_node("relu", {}, "relu_b", (520, 200))
    c.drag(c.in_slot("relu"), c.body("relu_b"))
    assert ("conv", "relu_b", 0) in c.model.edges()
    assert ("conv", "relu", 0) not in c.model.edges()
    assert c.doc.undo_stack.count() == 1
    assert c.doc.undo_stack.text(0) == "Reconnect 'conv' → 'relu_b'"
    c.doc.undo_stack.undo()
    assert ("conv", "relu", 0) in c.model.edges() and ("conv", "relu_b", 0) not in c.model.edges()


def test_dragging_a_concat_input_to_its_free_slot_moves_it_last(qtbot):
    """On a concat, an input dragged onto the free slot moves to the end of the order."""
    c = Canvas(qtbot, _free_model())
    c.doc.model.add_node("conv1x1", {"out_channels": 5}, "c5", (0, 200))
    c.doc.model.connect("input", "c5")
    c.drag(c.out_port("input"), c.body("concat"))
    c.drag(c.out_port("c5"), c.body("concat"))
    assert c.model.ports("concat") == [(0, "input"), (1, "c5")]
    c.drag(c.in_slot("concat", 0), c.in_slot("concat", 2))
    assert c.model.ports("concat") == [(1, "c5"), (2, "input")]
    assert c.doc.undo_stack.text(c.doc.undo_stack.count() - 1) == "Move input 'input' → 'concat'"
    assert c.scene.edge_item("input", "concat", 2).p1 == c.in_slot("concat", 1)
    c.doc.undo_stack.undo()
    assert c.model.ports("concat") == [(0, "input"), (1, "c5")]


def test_releasing_edge_end_on_its_own_node_changes_nothing(qtbot):
    """Picking up an edge end and dropping it back makes no command."""
    c = Canvas(qtbot, chain_model())
    c.drag(c.in_slot("relu"), c.body("relu"))
    assert c.doc.undo_stack.count() == 0
    assert c.scene.edge_item("conv", "relu", 0).isVisible()


# --------------------------------------------------------------------------- moving, selecting
def test_dragging_selected_nodes_is_one_move_command(qtbot):
    """Dragging one of two selected nodes moves both with one undoable command."""
    c = Canvas(qtbot, chain_model())
    c.scene.select_nodes(["conv", "relu"])
    start = c.body("conv")
    c.press(start)
    for i in range(1, 6):
        c.move(start + QPointF(10 * i, 8 * i))
    c.release(start + QPointF(50, 40))
    assert c.doc.undo_stack.count() == 1
    assert c.doc.undo_stack.text(0) == "Move 2 nodes"
    assert c.model.pos("conv") == (310.0, 40.0)
    assert c.model.pos("relu") == (570.0, 40.0)
    edge = c.scene.edge_item("conv", "relu", 0)
    assert edge.p0 == c.item("conv").output_anchor()
    c.doc.undo_stack.undo()
    assert c.model.pos("conv") == (260.0, 0.0)
    assert (c.item("conv").pos().x(), c.item("conv").pos().y()) == (260.0, 0.0)
    assert edge.p0 == c.item("conv").output_anchor()
    c.doc.undo_stack.redo()
    assert c.item("relu").pos() == QPointF(570.0, 40.0) and c.model.pos("relu") == (570.0, 40.0)


def test_click_without_moving_pushes_nothing(qtbot):
    """A click on a node selects it and makes no move command."""
    c = Canvas(qtbot, chain_model())
    c.drag(c.body("conv"), c.body("conv"), steps=1)
    assert c.doc.undo_stack.count() == 0
    assert c.scene.selected_nodes() == ["conv"]


def test_rubber_band_selects_nodes(qtbot):
    """Dragging on empty canvas selects the nodes the band touches."""
    c = Canvas(qtbot, chain_model())
    got = []
    c.scene.selection_changed_nodes.connect(got.append)
    c.drag(QPointF(-30, -60), QPointF(300, 40))
    assert c.scene.selected_nodes() == ["input", "conv"]
    assert got[-1] == ["input", "conv"]


def test_double_click_emits_node_activated(qtbot):
    """Double-clicking a node emits node_activated with its id."""
    c = Canvas(qtbot, chain_model())
    with qtbot.waitSignal(c.scene.node_activated) as blocker:
        qtbot.mouseDClick(
            c.view.viewport(), Qt.MouseButton.LeftButton, pos=c.view_point(c.body("conv"))
        )
    assert blocker.args == ["conv"]


# --------------------------------------------------------------------------- zoom and pan
def test_wheel_zooms_and_fit_shows_everything(qtbot):
    """The wheel zooms in; fit-to-view shows every node inside the viewport."""
    c = Canvas(qtbot, chain_model())
    vp = c.view.viewport()
    at = QPointF(500, 300)
    ev = QWheelEvent(
        at,
        QPointF(vp.mapToGlobal(at.toPoint())),
        QPoint(0, 0),
        QPoint(0, 240),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(vp, ev)
    assert c.view.zoom() == pytest.approx(1.2**2)  # two notches of 120
    c.actions.zoom_fit.trigger()
    visible = c.view.mapToScene(vp.rect()).boundingRect()
    assert visible.contains(c.scene.items_bounding_rect())


def test_zoom_in_out_actions_and_shortcuts(qtbot):
    """Zoom in/out change the scale by 1.25 and carry the standard shortcuts."""
    c = Canvas(qtbot, chain_model())
    c.actions.zoom_in.trigger()
    assert c.view.zoom() == pytest.approx(1.25)
    c.actions.zoom_out.trigger()
    assert c.view.zoom() == pytest.approx(1.0)
    assert QKeySequence("Ctrl+=") in c.actions.zoom_in.shortcuts()
    assert c.actions.zoom_fit.shortcut() == QKeySequence("Ctrl+0")


def test_middle_drag_pans(qtbot):
    """A middle-button drag moves the content with the mouse."""
    c = Canvas(qtbot, chain_model())
    before = c.view.mapToScene(c.view.viewport().rect().center())
    c.drag(QPoint(500, 300), QPoint(560, 340), button=Qt.MouseButton.MiddleButton)
    after = c.view.mapToScene(c.view.viewport().rect().center())
    assert (before - after) == QPointF(60, 40)
    assert c.doc.undo_stack.count() == 0


def test_space_drag_pans_instead_of_selecting(qtbot):
    """Holding space turns a left drag into a pan."""
    c = Canvas(qtbot, chain_model())
    before = c.view.mapToScene(c.view.viewport().rect().center())
    c.view.setFocus()
    qtbot.keyPress(c.view, Qt.Key.Key_Space)
    c.drag(QPoint(500, 300), QPoint(470, 300))
    qtbot.keyRelease(c.view, Qt.Key.Key_Space)
    after = c.view.mapToScene(c.view.viewport().rect().center())
    assert (after - before) == QPointF(30, 0)
    assert c.scene.selected_nodes() == []


# --------------------------------------------------------------------------- actions
def test_delete_removes_selection_and_undo_restores_text(qtbot):
    """Delete removes the selected node and its edges; undo restores model and items."""
    c = Canvas(qtbot, chain_model())
    before = c.item("relu").shown_text
    c.scene.select_nodes(["conv"])
    assert c.actions.delete.shortcut() == QKeySequence(QKeySequence.StandardKey.Delete)
    c.actions.delete.trigger()
    assert c.model.nodes == ["input", "relu"] and c.model.edges() == []
    assert c.item("conv") is None
    assert c.item("relu").shown_text.splitlines()[2] == "has no input; connect a node to it"
    assert c.doc.undo_stack.text(0) == "Delete 'conv'"
    c.doc.undo_stack.undo()
    assert c.model.edges() == [("input", "conv", 0), ("conv", "relu", 0)]
    assert c.item("relu").shown_text == before
    c.doc.undo_stack.redo()
    assert c.item("conv") is None


def test_delete_selected_edge_disconnects(qtbot):
    """Delete with an edge selected removes just that edge."""
    c = Canvas(qtbot, chain_model())
    c.scene.edge_item("conv", "relu", 0).setSelected(True)
    c.actions.delete.trigger()
    assert c.model.edges() == [("input", "conv", 0)]
    c.doc.undo_stack.undo()
    assert c.model.edges() == [("input", "conv", 0), ("conv", "relu", 0)]


def test_duplicate_copies_nodes_and_inner_edges(qtbot):
    """Ctrl+D copies the selected nodes and the edges among them, beside them on no node."""
    c = Canvas(qtbot, chain_model())
    c.scene.select_nodes(["conv", "relu"])
    assert c.actions.duplicate.shortcut() == QKeySequence("Ctrl+D")
    c.actions.duplicate.trigger()
    assert c.model.nodes == ["input", "conv", "relu", "conv1", "relu1"]
    assert ("conv1", "relu1", 0) in c.model.edges()
    assert c.model.pos("conv1")[0] == 300.0  # 40 right, and down until it is free
    copies = [c.item(n).sceneBoundingRect() for n in ("conv1", "relu1")]
    assert not any(
        r.intersects(c.item(n).sceneBoundingRect()) for r in copies for n in c.model.nodes[:3]
    )
    assert c.scene.selected_nodes() == ["conv1", "relu1"]
    assert c.doc.undo_stack.text(0) == "Duplicate 2 nodes"
    assert c.item("relu1").shown_text.splitlines()[2] == "waiting on 'conv1'"
    c.doc.undo_stack.undo()
    assert c.model.nodes == ["input", "conv", "relu"] and c.item("conv1") is None
    c.doc.undo_stack.redo()
    assert ("conv1", "relu1", 0) in c.model.edges()
    assert c.item("relu1").shown_text.splitlines()[2] == "waiting on 'conv1'"


def test_copy_puts_graph_json_on_clipboard(qtbot):
    """Copy writes graph JSON text with the selected nodes and their inner edges."""
    c = Canvas(qtbot, chain_model())
    c.scene.select_nodes(["input", "conv"])
    c.actions.copy.trigger()
    text = QApplication.clipboard().text()
    doc = json.loads(text)
    assert doc["format"] == "convcanvas.graph"
    part = fileformat.loads(text)
    assert part.nodes == ["input", "conv"]
    assert part.edges() == [("input", "conv", 0)]
    assert part.params("conv")["out_channels"] == 4


def test_paste_adds_copies_with_fresh_ids_and_undo_removes(qtbot):
    """Paste inserts the clipboard graph with new ids; undo takes it out again."""
    c = Canvas(qtbot, chain_model())
    c.scene.select_nodes(["input", "conv"])
    c.actions.copy.trigger()
    c.actions.paste.trigger()
    assert c.model.nodes[3:] == ["input1", "conv1"]
    assert ("input1", "conv1", 0) in c.model.edges()
    assert c.item("conv1").shown_text.splitlines()[2] == "4×8×8 108 w"
    c.doc.undo_stack.undo()
    assert c.model.nodes == ["input", "conv", "relu"]
    assert c.item("conv1") is None
    c.doc.undo_stack.redo()
    assert c.item("conv1").shown_text.splitlines()[2] == "4×8×8 108 w"


def test_cut_removes_and_paste_brings_back(qtbot):
    """Cut deletes (one step named Cut) and leaves graph JSON that pastes back."""
    c = Canvas(qtbot, chain_model())
    c.scene.select_nodes(["relu"])
    c.actions.cut.trigger()
    assert "relu" not in c.model
    assert c.doc.undo_stack.text(0) == "Cut 'relu'"
    c.actions.paste.trigger()
    assert c.model.nodes == ["input", "conv", "relu"]
    assert c.item("relu").shown_text.splitlines()[2] == "has no input; connect a node to it"


def test_paste_of_non_graph_text_changes_nothing(qtbot):
    """Pasting ordinary text shows why and adds nothing."""
    c = Canvas(qtbot, chain_model())
    QApplication.clipboard().setText("hello")
    c.actions.paste.trigger()
    assert c.model.nodes == ["input", "conv", "relu"]
    assert c.doc.undo_stack.count() == 0
    assert c.scene.last_message.startswith("Nothing to paste")


def test_select_all_and_auto_layout(qtbot):
    """Ctrl+A selects every node; auto-layout is one undoable move."""
    c = Canvas(qtbot, chain_model())
    c.model.set_positions({"relu": (40.0, 300.0)})
    c.actions.select_all.trigger()
    assert c.scene.selected_nodes() == ["input", "conv", "relu"]
    c.actions.auto_layout.trigger()
    assert c.doc.undo_stack.text(0) == "Auto-layout"
    assert c.model.pos("conv") == (260.0, 0.0) and c.model.pos("relu") == (520.0, 0.0)
    c.doc.undo_stack.undo()
    assert c.model.pos("relu") == (40.0, 300.0)
    assert c.item("relu").pos() == QPointF(40.0, 300.0)


def test_edge_label_shows_shape_carried(qtbot):
    """An edge is labelled with its source's output shape, and follows its changes."""
    c = Canvas(qtbot, chain_model())
    edge = c.scene.edge_item("conv", "relu", 0)
    assert edge.label == fmt_shape((4, 8, 8))
    from designer.commands import SetParamCommand

    c.doc.undo_stack.push(SetParamCommand(c.doc, "conv", "out_channels", 16))
    assert edge.label == "16×8×8"
    c.doc.undo_stack.undo()
    assert edge.label == "4×8×8"


def _focused(qtbot, model) -> Canvas:
    c = Canvas(qtbot, model)
    c.view.activateWindow()
    c.view.setFocus()
    qtbot.waitActive(c.view)
    return c


def test_keyboard_shortcuts_delete_select_all_duplicate(qtbot):
    """Delete, Ctrl+A and Ctrl+D typed on the canvas act on the selection."""
    c = _focused(qtbot, chain_model())
    c.scene.select_nodes(["relu"])
    qtbot.keyClick(c.view, Qt.Key.Key_Delete)
    assert c.model.nodes == ["input", "conv"]
    qtbot.keyClick(c.view, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    assert c.scene.selected_nodes() == ["input", "conv"]
    qtbot.keyClick(c.view, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    assert c.model.nodes == ["input", "conv", "input1", "conv1"]
    assert ("input1", "conv1", 0) in c.model.edges()


def test_keyboard_copy_paste_between_documents(qtbot):
    """Ctrl+C in one canvas and Ctrl+V in another copies nodes between windows."""
    a = _focused(qtbot, chain_model())
    a.scene.select_nodes(["conv", "relu"])
    qtbot.keyClick(a.view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    b = _focused(qtbot, GraphModel("other"))
    qtbot.keyClick(b.view, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    assert b.model.nodes == ["conv", "relu"]
    assert b.model.edges() == [("conv", "relu", 0)]
    assert b.item("relu").shown_text.splitlines()[2] == "waiting on 'conv'"
    assert b.doc.undo_stack.text(0) == "Paste 2 nodes"


def test_quick_add_filter_ranks_and_refuses_no_match(qtbot):
    """Filtering finds by name, label or category; no match adds nothing on Enter."""
    from designer.quick_add import matching_types

    assert matching_types("1x1")[0] == "conv1x1"
    assert matching_types("merge") == ["concat", "add", "mul"]
    pooling = ["maxpool", "avgpool", "global_avgpool", "adaptive_avgpool", "upsample"]
    assert matching_types("pool") == pooling  # upsample: resampling, in the Pooling group
    c = Canvas(qtbot, chain_model())
    popup = c.view.open_quick_add()
    qtbot.keyClicks(popup.edit, "zzz")
    assert popup.shown_types() == [] and popup.doc_label.text() == "No node type matches"
    qtbot.keyClick(popup.edit, Qt.Key.Key_Return)
    assert c.model.nodes == ["input", "conv", "relu"] and c.doc.undo_stack.count() == 0


def test_arrow_keys_nudge_selection_as_one_undo_step(qtbot):
    """Arrow presses move the selected nodes; a burst of them is one undo step."""
    c = _focused(qtbot, chain_model())
    c.scene.select_nodes(["conv", "relu"])
    qtbot.keyClick(c.view, Qt.Key.Key_Right)
    qtbot.keyClick(c.view, Qt.Key.Key_Right)
    qtbot.keyClick(c.view, Qt.Key.Key_Down, Qt.KeyboardModifier.ShiftModifier)
    assert c.model.pos("conv") == (280.0, 50.0) and c.model.pos("relu") == (540.0, 50.0)
    assert c.item("conv").pos() == QPointF(280.0, 50.0)
    assert c.doc.undo_stack.count() == 1 and c.doc.undo_stack.text(0) == "Nudge 2 nodes"
    c.doc.undo_stack.undo()
    assert c.model.pos("conv") == (260.0, 0.0) and c.item("relu").pos() == QPointF(520.0, 0.0)
