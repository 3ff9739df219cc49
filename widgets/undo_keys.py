"""The document's undo and redo keys work from every panel of the main window.

A text field or spin box takes Ctrl+Z for its own text (Qt gives it the key before any
shortcut), so right after a parameter edit, with the focus still in the inspector, Ctrl+Z
would undo a few typed characters instead of the edit. :class:`DocumentUndoKeys` watches
the key before the field sees it: the field commits what is typed (as Enter would), and
the key goes on to the window's Undo/Redo action.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QAbstractSpinBox, QApplication, QLineEdit, QWidget

# Looked up once: the filter sees every event of the application (building a panel sends
# thousands), and attribute access on PySide enums is slow.
_SHORTCUT_OVERRIDE = QEvent.Type.ShortcutOverride


def _in_window(widget: QWidget, window: QWidget) -> bool:
    """Whether ``widget`` belongs to ``window`` (also in a floating dock of it)."""
    w: QObject | None = widget
    while w is not None:
        if w is window:
            return True
        w = w.parent()
    return False


def commit_field(widget: QWidget) -> None:
    """Finish the edit in ``widget`` (a spin box or line edit) as Enter would."""
    spin = widget if isinstance(widget, QAbstractSpinBox) else None
    parent = widget.parent()
    if spin is None and isinstance(parent, QAbstractSpinBox):
        spin = parent  # the focus sits in the spin box's inner line edit
    if spin is not None:
        spin.interpretText()
        spin.editingFinished.emit()
    elif isinstance(widget, QLineEdit):
        widget.editingFinished.emit()


class DocumentUndoKeys(QObject):
    """Routes the undo/redo keys of text fields in ``window`` to its undo and redo actions.

    The window's :class:`QAction`\\ s keep their shortcuts; only fields that would take
    the key for themselves are intercepted.
    """

    def __init__(self, window: QWidget, undo: QAction, redo: QAction) -> None:
        super().__init__(window)
        self.window_ = window
        self.undo = undo
        self.redo = redo
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self)

    def _action_for(self, event) -> QAction | None:
        seq = QKeySequence(event.keyCombination())
        for action in (self.undo, self.redo):
            if any(
                seq.matches(s) == QKeySequence.SequenceMatch.ExactMatch for s in action.shortcuts()
            ):
                return action
        return None

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt's name
        if event.type() != _SHORTCUT_OVERRIDE:
            return False
        if not isinstance(obj, (QLineEdit, QAbstractSpinBox)):
            return False
        action = self._action_for(event)
        if action is None or not _in_window(obj, self.window_):
            return False
        commit_field(obj)
        # Not accepted and not delivered: the field does not claim the key, so Qt's
        # shortcut map triggers the window's action.
        return True
