"""Issue 12: the editor as a newcomer finds it (undo keys, canvas, guidance, names, text)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

NODE = "branch2_3x3"


def focus_window(qtbot, win) -> None:
    """Make ``win`` the active window (shortcuts need it)."""
    win.activateWindow()
    win.raise_()
    qtbot.waitUntil(win.isActiveWindow, timeout=3000)


def test_ctrl_z_in_a_parameter_field_undoes_the_edit(qtbot, win):
    """Typing a value, then Ctrl+Z with the focus still in the field, undoes the edit."""
    focus_window(qtbot, win)
    win.scene.select_nodes([NODE])
    stack = win.doc.undo_stack
    before = win.doc.model.params(NODE)["out_channels"]
    spin = win.inspector.editors["out_channels"].spin
    spin.setFocus()
    spin.selectAll()
    qtbot.keyClicks(spin, "32")
    assert win.doc.model.params(NODE)["out_channels"] == 32
    qtbot.keyClick(spin, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert win.doc.model.params(NODE)["out_channels"] == before
    assert spin.value() == before
    assert stack.redoText() == f"Set out_channels of '{NODE}'"
    mods = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    qtbot.keyClick(spin, Qt.Key.Key_Z, mods)
    assert win.doc.model.params(NODE)["out_channels"] == 32 and not stack.canRedo()


def test_ctrl_z_in_the_id_field_commits_the_rename_first(qtbot, win):
    """A typed, unconfirmed id is committed by Ctrl+Z, which then undoes that rename."""
    focus_window(qtbot, win)
    win.scene.select_nodes([NODE])
    edit = win.inspector.id_edit
    edit.setFocus()
    edit.selectAll()
    qtbot.keyClicks(edit, "wide")
    qtbot.keyClick(edit, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert NODE in win.doc.model and "wide" not in win.doc.model
    assert win.doc.undo_stack.redoText() == f"Rename '{NODE}' to 'wide'"


# --------------------------------------------------------------------------- point 4: big networks
def show_template(qtbot, win, key: str, size=(1600, 1000)):
    """Load template ``key`` into a window of ``size`` and fit it as a user's F does."""
    win.resize(*size)
    win.load_template(key)
    qtbot.wait(50)
    win.view.fit_to_view()
    return win.view


def test_big_network_fits_readable_with_its_start_in_view(qtbot, win):
    """Fit on ResNet-50 gives a readable zoom with the input node in view, not a sliver."""
    from designer.view import READABLE_SCALE

    view = show_template(qtbot, win, "resnet50")
    assert view.zoom() >= READABLE_SCALE
    item = win.scene.node_item("input")
    assert view.visible_area(0).contains(item.sceneBoundingRect())


def test_wheel_zoom_keeps_the_point_under_the_cursor(qtbot, win):
    """Zoomed far out, one wheel notch scales by 1.2 about the cursor's scene point."""
    from PySide6.QtCore import QPoint, QPointF
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    view = show_template(qtbot, win, "googlenet")
    view.zoom_by(0.08 / view.zoom(), anchor_under_mouse=False)
    at = QPointF(60, 50)
    before = view.viewportTransform().inverted()[0].map(at)
    z = view.zoom()
    ev = QWheelEvent(
        at,
        QPointF(view.viewport().mapToGlobal(at.toPoint())),
        QPoint(0, 0),
        QPoint(0, 120),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(view.viewport(), ev)
    after = view.viewportTransform().inverted()[0].map(at)
    assert abs(view.zoom() / z - 1.2) < 1e-6
    assert abs(after.x() - before.x()) * view.zoom() < 1.0
    assert abs(after.y() - before.y()) * view.zoom() < 1.0


def test_zoom_level_is_shown_and_follows_the_zoom(qtbot, win):
    """The corner button shows the zoom in percent, after a fit and after Zoom In."""
    view = show_template(qtbot, win, "resnet50")
    assert view.zoom_button.isVisible()
    assert view.zoom_button.text() == f"{round(100 * view.zoom())} %"
    view.zoom_in()
    assert view.zoom_button.text() == f"{round(100 * view.zoom())} %"


def test_minimap_shows_big_network_and_a_click_jumps_there(qtbot, win):
    """The overview shows for VGG-16 at 100 %; a click at its end brings the output in view.

    (Fitted to the window, VGG-16's wrapped rows and ResNet-50's collapsed blocks show
    whole: no overview there.)
    """
    from PySide6.QtCore import QPoint

    view = show_template(qtbot, win, "vgg16")
    view.zoom_actual()
    mini = view.minimap
    mini.rebuild()
    assert mini.isVisible()
    last = win.doc.model.nodes[-1]
    end = mini.from_scene(win.scene.node_item(last).sceneBoundingRect().center())
    qtbot.mouseClick(mini, Qt.MouseButton.LeftButton, pos=QPoint(round(end.x()), round(end.y())))
    assert view.visible_area(0).contains(win.scene.node_item(last).sceneBoundingRect().center())


# --------------------------------------------------------------------------- point 6: guidance
def test_f_fits_to_view_and_shift_f_fits_the_selection(qtbot, win):
    """F on the canvas fits the network; Shift+F zooms to the selected node."""
    from designer.view import FIT_MAX_SCALE

    view = show_template(qtbot, win, "inception3a_reduced")
    focus_window(qtbot, win)
    view.setFocus()
    view.zoom_by(4.0 / view.zoom(), anchor_under_mouse=False)
    qtbot.keyClick(view, Qt.Key.Key_F)
    rect = win.scene.items_bounding_rect()
    assert view.visible_area(0).contains(rect)
    win.scene.select_nodes([NODE])
    view.zoom_by(0.2 / view.zoom(), anchor_under_mouse=False)
    qtbot.keyClick(view, Qt.Key.Key_F, Qt.KeyboardModifier.ShiftModifier)
    assert abs(view.zoom() - FIT_MAX_SCALE) < 1e-6
    assert view.visible_area(0).contains(win.scene.node_item(NODE).sceneBoundingRect())


def test_help_lists_keyboard_shortcuts_searchably(qtbot, win):
    """Help → Keyboard shortcuts lists menu keys and canvas keys; typing filters the rows."""
    win.shortcuts_action.trigger()
    dlg = win.shortcuts
    qtbot.addWidget(dlg)
    assert dlg.isVisible()
    dlg.search.setText("undo")
    keys = [k for k, _, _ in dlg.visible_rows()]
    assert "Ctrl+Z" in keys and len(keys) < dlg.table.rowCount()
    dlg.search.setText("fit")
    keys = {k for k, _, _ in dlg.visible_rows()}
    assert {"Ctrl+0, F", "Shift+F", "F"} <= keys


def test_first_steps_show_on_an_empty_canvas_and_go_when_building(qtbot, win):
    """A new design shows the first-steps card; adding a node hides it."""
    assert not win.view.first_steps.isVisible()
    win.new_design()
    view = win.view  # the new design's tab
    assert view.first_steps.isVisible()
    assert "Tab" in view.first_steps.label.text() and "Ctrl+Z" in view.first_steps.label.text()
    view.add_node_at_center("conv")
    assert not view.first_steps.isVisible()


# --------------------------------------------------------------------------- point 8: placement
def test_quick_add_from_a_wire_dropped_at_the_edge_lands_in_view(qtbot, win):
    """A wire dropped by the right edge: the new node is wholly in view and wired."""
    from PySide6.QtCore import QPoint

    view = show_template(qtbot, win, "inception3a_reduced")
    vp = view.viewport().rect()
    at = view.mapToScene(QPoint(vp.right() - 4, vp.bottom() - 4))
    view._on_link_dropped("concat", True, -1, at)
    view.quick_add.hide()
    view.quick_add.chosen.emit("relu")
    new = win.scene.selected_nodes()[0]
    assert win.doc.model.node_type(new) == "relu"
    assert list(win.doc.model.graph.predecessors(new)) == ["concat"]
    assert view.visible_area(0).contains(win.scene.node_item(new).sceneBoundingRect())


def test_pasted_node_lands_on_no_other_node(qtbot, win):
    """Copy and paste of a node (cursor outside the canvas): the copy overlaps nothing."""
    view = show_template(qtbot, win, "inception3a_reduced")
    win.scene.select_nodes([NODE])
    win.canvas_actions.copy_selection()
    new = win.canvas_actions.paste_clipboard()
    item = win.scene.node_item(new[0])
    others = [i for n, i in win.scene.nodes.items() if n != new[0]]
    rect = item.mapRectToScene(item.rect())
    assert not any(rect.intersects(o.mapRectToScene(o.rect())) for o in others)
    assert view.visible_area(0).contains(rect)


def test_long_run_message_wraps_instead_of_widening_the_panel(qtbot, win):
    """A refusal of 400 characters wraps in the notice; the panel's minimum stays narrow."""
    panel = win.inside_host.ensure_panel()
    before = panel.minimumSizeHint().width()
    panel._on_failed("Cannot run: " + "concat 'concat' needs equal sizes " * 12)
    assert panel.notice.isVisibleTo(panel) and panel.notice.wordWrap()
    assert panel.minimumSizeHint().width() <= max(before, 600)


# --------------------------------------------------------------------------- point 9: cut text
def _fits(label) -> bool:
    """Whether ``label`` lies in its scroll area's viewport, wide and tall enough for its text."""
    from PySide6.QtCore import QPoint

    vp = label.parentWidget()
    while vp is not None and vp.objectName() != "qt_scrollarea_viewport":
        vp = vp.parentWidget()
    right = label.mapTo(vp, QPoint(label.width(), 0)).x()
    fm = label.fontMetrics()
    widest = max((fm.horizontalAdvance(w) for w in label.text().split()), default=0)
    tall_enough = label.height() >= label.heightForWidth(label.width())  # no line cut below
    return right <= vp.width() and widest <= label.width() and tall_enough


@pytest.mark.parametrize("size", [(1366, 768), (1600, 1000)])
def test_inspector_and_table_texts_fit_at_laptop_and_desktop_sizes(qtbot, win, size):
    """MACs and receptive-field lines fit the inspector; the table's status names the error."""
    win.resize(*size)
    win.arrange_docks()
    qtbot.wait(50)
    win.scene.select_nodes(["branch3_5x5"])
    qtbot.wait(20)
    for key in ("macs", "rf", "weights", "activation"):
        label = win.inspector.readouts[key]
        assert _fits(label), (key, label.text(), label.width())
    assert "(10.0\u00a0M)" in win.inspector.readout("macs")
    from designer.commands import SetParamCommand

    win.doc.undo_stack.push(SetParamCommand(win.doc, NODE, "padding", 0))
    status = win.layer_table.row_texts("concat")[7]
    assert status.startswith("error: concat 'concat' needs equal H×W")
    win.scene.select_nodes(["concat"])
    qtbot.wait(20)
    assert win.inspector.node_error.isVisible() and _fits(win.inspector.node_error)


@pytest.mark.parametrize("size", [(1366, 768), (1600, 1000)])
def test_run_refusal_wraps_inside_the_panel(qtbot, win, size):
    """The Inside panel's refusal message is shown whole, wrapped within the panel."""
    win.resize(*size)
    win.arrange_docks()
    panel = win.inside_host.ensure_panel()
    win.inside_dock.raise_()
    panel._on_failed("Cannot run: no node has an output yet; 1 error(s):\n  - " + "x " * 200)
    qtbot.wait(50)
    n = panel.notice
    assert n.isVisible() and n.wordWrap() and "Cannot run" in n.text()
    assert n.mapTo(panel, n.rect().topRight()).x() <= panel.width()
    assert n.height() >= 2 * n.fontMetrics().height()  # wrapped, not cut


# --------------------------------------------------------------------------- point 10: names, docs
def test_untitled_design_takes_its_file_name_when_first_saved(qtbot, win, tmp_path):
    """New design, Save As my_inception.json: the design (and the export) is my_inception."""
    import json

    from designer.commands import ConnectCommand
    from widgets.export_dialog import generate_code

    win.new_design()
    relu = win.view.add_node_at_center("relu")  # (an input alone exports nothing)
    win.doc.undo_stack.push(ConnectCommand(win.doc, "input", relu))
    assert win.doc.model.name == "Untitled"
    assert win.save_as(tmp_path / "my_inception.json")
    assert win.doc.model.name == "my_inception"
    assert json.loads((tmp_path / "my_inception.json").read_text())["name"] == "my_inception"
    assert "my_inception" in generate_code(win.doc.model)


def test_named_design_keeps_its_name_when_saved(qtbot, win, tmp_path):
    """A design with a name (a template) keeps it under any file name."""
    name = win.doc.model.name
    assert win.save_as(tmp_path / "other.json")
    assert win.doc.model.name == name


def test_readme_names_the_xcb_packages_qt_needs():
    """The README's Linux note names the exact apt packages of Qt's xcb plugin."""
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    for pkg in ("libxcb-cursor0", "libxcb-icccm4", "libxcb-keysyms1"):
        assert pkg in text
    assert "apt-get install" in text


def test_bars_wrap_instead_of_widening_the_window(qtbot, win):
    """At 1366×768 the inspector keeps its width: the totals bar and run controls wrap."""
    win.resize(1366, 768)
    win.arrange_docks()
    panel = win.inside_host.ensure_panel()
    qtbot.wait(50)
    assert win.totals_bar.minimumSizeHint().width() < 400
    assert panel.minimumSizeHint().width() < 500
    assert win.inspector_dock.width() >= win.inspector.widest_form()


def test_shortcut_list_flags_a_key_two_actions_share():
    """Two menu actions with one key (Qt runs neither) are flagged in the list."""
    from widgets.help_dialog import mark_conflicts

    rows = mark_conflicts(
        [("File", "Ctrl+E", "Export"), ("Edit", "Ctrl+E", "Collapse"), ("Edit", "Ctrl+Z", "Undo")]
    )
    assert rows[0][2] == "Export  ⚠ Ctrl+E is also Collapse: neither runs"
    assert rows[1][2].startswith("Collapse  ⚠") and rows[2][2] == "Undo"


def test_paste_the_document_refuses_is_a_message_not_an_exception(qtbot, win, monkeypatch):
    """A graph the document refuses on paste shows 'Cannot paste: …' and adds nothing."""
    import designer.actions
    from engine.core.errors import PortError

    show_template(qtbot, win, "inception3a_reduced")
    win.scene.select_nodes([NODE])
    win.canvas_actions.copy_selection()
    count = len(win.doc.model)

    def refuse(*args, **kwargs):
        raise PortError("relu 's' has one input", "s")

    monkeypatch.setattr(designer.actions, "PasteCommand", refuse)
    assert win.canvas_actions.paste_clipboard() == []
    assert len(win.doc.model) == count
    assert win.scene.message.text == "Cannot paste: relu 's' has one input"
