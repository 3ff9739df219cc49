"""The main window: start-up, title, menus, palette → canvas, undo, selection, export."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtWidgets import QLabel

from designer.commands import SetParamCommand
from engine.templates import TEMPLATES

ROOT = Path(__file__).resolve().parent.parent


def test_starts_on_inception_template(win):
    """With no file the window opens the reduced Inception 3a, never an empty screen."""
    assert len(win.doc.model) == 13
    assert win.totals_bar.weights.value.text() == "157,184"
    assert win.windowTitle() == "Inception 3a (1×1 reductions)[*] — ConvCanvas"
    assert not win.isWindowModified()


def test_title_marks_unsaved_changes(win):
    """An edit sets the window's modified mark; undoing it clears the mark."""
    win.doc.undo_stack.push(SetParamCommand(win.doc, "branch1_1x1", "out_channels", 32))
    assert win.isWindowModified()
    win.undo_action.trigger()
    assert not win.isWindowModified()


def test_palette_double_click_adds_node_and_undo_removes_it(qtbot, win):
    """Activating a palette type adds that node; Undo (named after it) removes it."""
    before = set(win.doc.model.nodes)
    win.palette_panel.type_activated.emit("global_avgpool")
    added = set(win.doc.model.nodes) - before
    assert len(added) == 1
    (node,) = added
    assert win.doc.model.node_type(node) == "global_avgpool"
    assert win.undo_action.text() == f"&Undo Add global_avgpool '{node}'"
    win.undo_action.trigger()
    assert node not in win.doc.model
    assert win.redo_action.text().startswith("&Redo Add global_avgpool")
    win.redo_action.trigger()
    assert node in win.doc.model


def test_undo_redo_shortcuts(win):
    """Undo is Ctrl+Z, Redo is Ctrl+Shift+Z."""
    assert win.undo_action.shortcut().toString() == "Ctrl+Z"
    assert win.redo_action.shortcut().toString() == "Ctrl+Shift+Z"


def test_templates_menu_lists_every_template(win):
    """File ▸ Templates holds one action per template, and choosing one loads it."""
    acts = [a for a in win.templates_menu.actions() if a.data()]
    assert [a.data() for a in acts] == list(TEMPLATES)
    next(a for a in acts if a.data() == "inception3a_naive").trigger()
    assert win.totals_bar.weights.value.text() == "387,072"
    assert win.windowTitle().startswith("Inception 3a (naive)")


def test_table_selection_drives_inspector_and_canvas(qtbot, win):
    """Selecting a layer-table row selects the node on the canvas and inspects it."""
    win.layer_table.view.selectRow(win.layer_table.model.row_of["branch3_5x5"])
    assert win.scene.selected_nodes() == ["branch3_5x5"]
    assert win.inspector.node == "branch3_5x5"
    assert win.inspector.readout("weights") == "5·5·16·32 = 12,800"


def test_canvas_selection_drives_table(win):
    """Selecting a node on the canvas selects its row in the layer table."""
    win.scene.select_nodes(["concat"])
    assert win.layer_table.selected_nodes() == ["concat"]
    assert win.inspector.node == "concat"


def test_inspector_edit_updates_totals(win):
    """Changing out_channels in the inspector updates the totals bar at once."""
    win.scene.select_nodes(["branch2_3x3"])
    win.inspector.editors["out_channels"].spin.setValue(64)
    assert win.totals_bar.weights.value.text() == "101,888"  # 157,184 − 3·3·96·64


def test_export_preview_and_save(qtbot, win, tmp_path):
    """Export shows the generated code read-only; Save… writes it to the chosen file."""
    dlg = win.export_code()
    qtbot.addWidget(dlg)
    assert dlg.view.isReadOnly()
    code = dlg.view.toPlainText()
    assert "class " in code and "nn.Module" in code and "import torch" in code
    target = tmp_path / "inception.py"
    dlg.ask_path = lambda: target
    assert dlg.save()
    assert target.read_text(encoding="utf-8") == code
    compile(code, str(target), "exec")


def test_export_refused_with_errors(win):
    """A graph in error is not exported; the message names the bad node."""
    shown = []
    win.show_error = lambda parent, title, text: shown.append(text)
    win.doc.undo_stack.push(SetParamCommand(win.doc, "branch4_pool", "padding", 0))
    assert win.export_code() is None
    assert len(shown) == 1 and "concat" in shown[0]


def test_inside_views_dock(win):
    """The 'Inside' dock holds the feature maps; add_inside_view adds another tab to it."""
    assert win.inside_tabs.tabText(0) == "Feature maps"
    index = win.add_inside_view(QLabel("statistics"), "Statistics")
    assert index == 1 and win.inside_tabs.tabText(1) == "Statistics"
    assert not win.inside_dock.isHidden()


def test_startup_does_not_import_torch():
    """Building the window on the default template leaves torch unimported."""
    code = (
        "import sys\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication([])\n"
        "from widgets.app import create_window\n"
        "w = create_window([])\n"
        "w.show(); app.processEvents()\n"
        "print('torch' in sys.modules, len(w.doc.model))\n"
    )
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", CONVCANVAS_NO_AUTOSAVE_PROMPT="1")
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "13"]


def test_palette_drag_drops_node_on_canvas(qtbot, win):
    """The palette's drag data dropped on the canvas adds that node where it was dropped."""
    from PySide6.QtCore import QPoint, QPointF, Qt
    from PySide6.QtGui import QDragEnterEvent, QDropEvent
    from PySide6.QtWidgets import QApplication

    mime = win.palette_panel.tree.mimeData([win.palette_panel.item_for("avgpool")])
    vp = win.view.viewport()
    spot = QPoint(vp.width() // 3, vp.height() // 4)
    actions = Qt.DropAction.CopyAction
    enter = QDragEnterEvent(
        spot, actions, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(vp, enter)
    assert enter.isAccepted()
    before = set(win.doc.model.nodes)
    drop = QDropEvent(
        QPointF(spot), actions, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(vp, drop)
    (node,) = set(win.doc.model.nodes) - before
    assert win.doc.model.node_type(node) == "avgpool"
    item_rect = win.scene.node_item(node).sceneBoundingRect()
    assert item_rect.adjusted(-60, -60, 60, 60).contains(win.view.mapToScene(spot))


def test_float_and_optional_pair_editors(qtbot, win):
    """Dropout p is a float spin box; a pool's stride can be unset back to '= kernel'."""
    drop = win.add_node("dropout")
    win.scene.select_nodes([drop])
    win.inspector.editors["p"].spin.setValue(0.25)
    assert win.doc.model.params(drop)["p"] == 0.25
    win.scene.select_nodes(["branch4_pool"])
    stride = win.inspector.editors["stride"]
    assert not stride.auto.isChecked() and stride.value() == 1
    stride.auto.setChecked(True)
    assert win.doc.model.params("branch4_pool")["stride"] is None
    assert win.doc.analysis.nodes["branch4_pool"].shape == (192, 10, 10)  # (28+2−3)//3+1


def test_window_fits_a_1366x768_laptop(win):
    """The window can shrink to 1366×768 minus title and task bars without clipping docks."""
    hint = win.minimumSizeHint()
    assert hint.width() <= 1366 and hint.height() <= 700
    win.resize(1366, 700)
    assert win.width() == 1366 and win.height() == 700


def test_docks_palette_left_inspector_right_layers_and_inside_tabbed(win):
    """Palette left, inspector right, 'Layers' | 'Inside' tabs below the canvas."""
    from PySide6.QtCore import Qt

    area = win.dockWidgetArea
    assert area(win.palette_dock) == Qt.DockWidgetArea.LeftDockWidgetArea
    assert area(win.inspector_dock) == Qt.DockWidgetArea.RightDockWidgetArea
    assert area(win.table_dock) == area(win.inside_dock) == Qt.DockWidgetArea.BottomDockWidgetArea
    assert win.tabifiedDockWidgets(win.table_dock) == [win.inside_dock]


def test_palette_never_cuts_its_labels(win):
    """The palette is at least as wide as its longest label ('Global Avg Pool')."""
    from engine.nodes import NODE_TYPES

    fm = win.palette_panel.tree.fontMetrics()
    widest = max(fm.horizontalAdvance(t.label) for t in NODE_TYPES.values())
    assert win.palette_dock.width() >= widest + 20
    assert win.palette_panel.minimumWidth() >= widest + 20


def test_fit_to_view_caps_the_zoom_of_a_small_design(qtbot, win):
    """Fit to view on a one-node design stops at 120 %, centred on the node."""
    win.resize(1600, 1000)
    assert win.new_design()
    win.view.fit_to_view()
    assert win.view.zoom() == pytest.approx(1.2)


def test_template_fills_the_canvas_after_show(qtbot, win):
    """Shown, the Inception 3a template is fitted; at 1600×1000 it reads at 60 % or more."""
    qtbot.waitUntil(lambda: win.view.zoom() != 1.0, timeout=2000)  # fitted after show
    win.resize(1600, 1000)
    win.arrange_docks()
    qtbot.wait(50)
    win.view.fit_to_view()
    visible = win.view.mapToScene(win.view.viewport().rect()).boundingRect()
    assert visible.contains(win.scene.items_bounding_rect())
    assert 0.6 < win.view.zoom() <= 1.2


def test_quit_action_closes_the_window(qtbot, win):
    """File → Quit closes the window (after the unsaved-changes question)."""
    asked = []
    win.ask_save_changes = lambda *a: asked.append(a) or "discard"
    win.doc.undo_stack.push(SetParamCommand(win.doc, "branch2_3x3", "out_channels", 64))
    win.quit_action.trigger()
    assert asked and not win.isVisible()
