"""Renaming a node from the inspector's id field: model, canvas, table, undo, export, inside views."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from worker_jobs import small_graph

from designer.commands import RenameNodeCommand
from designer.document import Document
from designer.scene import GraphScene
from engine.analysis.analyzer import analyze
from engine.core import fileformat
from engine.core.errors import DuplicateIdError
from engine.worker.client import WorkerClient
from widgets.inside_panel import InsidePanel
from widgets.run_controller import RunController

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = str(ROOT / "resources" / "sample.png")


def type_id(qtbot, win, node: str, text: str) -> None:
    """Select ``node`` on the canvas, replace the inspector's id with ``text`` and press Enter."""
    win.scene.select_nodes([node])
    edit = win.inspector.id_edit
    edit.setFocus()
    edit.selectAll()
    qtbot.keyClicks(edit, text)
    qtbot.keyClick(edit, Qt.Key.Key_Return)


def test_typed_id_reaches_model_canvas_table_and_undo_text(qtbot, win):
    """Enter in the id field renames the node everywhere and names the undo step."""
    before = fileformat.dumps(win.doc.model)
    type_id(qtbot, win, "branch2_3x3", "reduce_3x3")
    assert "branch2_3x3" not in win.doc.model and "reduce_3x3" in win.doc.model
    assert fileformat.dumps(win.doc.model) == before.replace('"branch2_3x3"', '"reduce_3x3"')
    item = win.scene.node_item("reduce_3x3")
    assert item.node_id == "reduce_3x3" and item.texts["title"] == "reduce_3x3"
    assert win.scene.node_item("branch2_3x3") is None
    assert win.layer_table.row_texts("reduce_3x3")[:3] == ["reduce_3x3", "Conv k×k", "128×28×28"]
    assert win.undo_action.text() == "&Undo Rename 'branch2_3x3' to 'reduce_3x3'"
    assert win.scene.selected_nodes() == ["reduce_3x3"]
    assert win.layer_table.selected_nodes() == ["reduce_3x3"]
    assert win.inspector.node == "reduce_3x3"
    assert win.inspector.readout("weights") == "3·3·96·128 = 110,592"


def test_undo_and_redo_of_a_rename(qtbot, win):
    """Undo gives back the identical document and old id everywhere; redo renames again."""
    before = fileformat.dumps(win.doc.model)
    type_id(qtbot, win, "branch2_3x3", "reduce_3x3")
    win.undo_action.trigger()
    assert fileformat.dumps(win.doc.model) == before
    assert win.scene.node_item("branch2_3x3").texts["title"] == "branch2_3x3"
    assert win.layer_table.row_texts("branch2_3x3")[0] == "branch2_3x3"
    assert win.inspector.id_edit.text() == "branch2_3x3"
    assert not win.isWindowModified()
    win.redo_action.trigger()
    assert win.scene.node_item("reduce_3x3").texts["title"] == "reduce_3x3"
    assert win.inspector.id_edit.text() == "reduce_3x3"
    assert win.scene.selected_nodes() == ["reduce_3x3"]


def test_taken_id_is_refused_inline_and_not_pushed(qtbot, win):
    """Typing an id another node has shows why under the field and changes nothing."""
    before = fileformat.dumps(win.doc.model)
    count = win.doc.undo_stack.count()
    type_id(qtbot, win, "branch2_3x3", "concat")
    assert win.inspector.id_error.isVisible()
    assert win.inspector.id_error.text() == (
        "Not renamed: cannot rename 'branch2_3x3' to 'concat': there is already a node 'concat'"
    )
    assert win.doc.undo_stack.count() == count
    assert fileformat.dumps(win.doc.model) == before


def test_empty_id_is_refused_inline(qtbot, win):
    """A blank id is refused with a message; fixing it then renames and hides the message."""
    type_id(qtbot, win, "concat", "   ")
    assert win.inspector.id_error.text() == "Not renamed: the id of 'concat' must not be empty"
    assert "concat" in win.doc.model
    win.inspector.id_edit.setText("merge")
    win.inspector.apply_id()
    assert "merge" in win.doc.model and not win.inspector.id_error.isVisible()


def test_leaving_the_field_applies_the_id(qtbot, win):
    """Focus leaving the id field renames like Enter does."""
    win.scene.select_nodes(["concat"])
    edit = win.inspector.id_edit
    edit.setFocus()
    edit.selectAll()
    qtbot.keyClicks(edit, "merge")
    win.view.setFocus()
    qtbot.waitUntil(lambda: "merge" in win.doc.model, timeout=2000)
    assert win.undo_action.text() == "&Undo Rename 'concat' to 'merge'"


def test_export_uses_the_new_id_as_attribute(qtbot, win):
    """The exported code names the renamed layer's attribute after its new id."""
    type_id(qtbot, win, "branch2_3x3", "reduce_3x3")
    dlg = win.export_code()
    qtbot.addWidget(dlg)
    code = dlg.view.toPlainText()
    assert "self.reduce_3x3 = nn.Conv2d(96, 128, kernel_size=3, padding=1, bias=False)" in code
    assert "branch2_3x3" not in code
    compile(code, "exported.py", "exec")


def test_rename_command_checks_in_the_constructor(qtbot):
    """RenameNodeCommand refuses a taken id before it can be pushed."""
    doc = Document(small_graph())
    with pytest.raises(DuplicateIdError, match="already a node 'r1'"):
        RenameNodeCommand(doc, "c1", "r1")
    cmd = RenameNodeCommand(doc, "c1", "stem_conv")
    assert cmd.text() == "Rename 'c1' to 'stem_conv'"
    doc.undo_stack.cleanChanged.disconnect()


def test_inside_views_survive_a_rename_after_a_run(qtbot):
    """Views showing a run keyed by old ids do not crash after a rename; they ask for a run."""
    from engine.runtime.features import run_features

    model = small_graph()
    doc = Document(model)
    scene = GraphScene(doc)
    controller = RunController(doc, client=WorkerClient())
    panel = InsidePanel(doc, scene=scene, controller=controller)
    qtbot.addWidget(panel)
    panel.resize(1000, 700)
    panel.show()
    result = run_features(small_graph(), SAMPLE, mode="resize", normalize="imagenet")
    result.extra["analysis"] = analyze(small_graph())
    with qtbot.waitSignal(panel.result_shown, timeout=10_000):
        panel.show_result(result)
    panel.tabs.setCurrentWidget(panel.hist)
    panel.tint_box.setCurrentIndex(panel.tint_box.findData("sparsity"))
    scene.select_nodes(["c1"])
    doc.undo_stack.push(RenameNodeCommand(doc, "c1", "stem_conv"))
    assert scene.selected_nodes() == ["stem_conv"]
    assert panel.grid.node is None  # no other node's maps under its name
    assert (
        panel.grid.title.text() == "'stem_conv' is not in the last run: press Run (F5) to see it."
    )
    panel.sparsity.click_node("c1")  # a point of the old run: its id is gone, nothing breaks
    panel.grid.set_node("c1")
    assert panel.grid.node is None and "'c1' was deleted" in panel.grid.title.text()
    doc.undo_stack.undo()
    scene.select_nodes(["c1"])  # the old id is back: the last run's maps show again
    assert panel.grid.node == "c1" and panel.grid.channel_count == 8
    controller.close(stop_worker=False)
    doc.undo_stack.cleanChanged.disconnect()
