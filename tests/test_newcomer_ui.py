"""Issue 12: the editor as a newcomer finds it (undo keys, canvas, guidance, names, text)."""

from __future__ import annotations

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
