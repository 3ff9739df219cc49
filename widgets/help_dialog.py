"""Help → Keyboard shortcuts: every key of the window's menus and of the canvas, searchable.

The list is read from the window's menus when the dialog opens (so every action another
panel adds, with its current keys, is in it), followed by the canvas gestures that have
no menu entry (Tab, F, Shift+F, arrows, Space+drag, the wheel).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QMenuBar,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

CANVAS_KEYS = (
    ("Canvas", "Tab, or right-click on empty canvas", "Quick-add: type a node type's name"),
    ("Canvas", "Drag from a port to a port", "Connect two nodes"),
    ("Canvas", "Drop a wire on empty canvas", "Quick-add a node already wired to it"),
    ("Canvas", "F", "Fit the network to the view (a big one: its start, readable)"),
    ("Canvas", "Shift+F", "Fit the selected nodes"),
    ("Canvas", "Arrow keys (Shift: farther)", "Nudge the selected nodes"),
    ("Canvas", "Wheel", "Zoom about the cursor"),
    ("Canvas", "Space+drag, or middle-button drag", "Pan"),
    ("Canvas", "Double-click a node", "Show it in the inspector"),
    ("Canvas", "Click in the overview (bottom right)", "Move the view there"),
    ("Inspector", "Enter, or leave the field", "Finish an edit (one undo step)"),
    ("Anywhere", "Ctrl+Z in a field", "The field commits, then the design's last edit is undone"),
)


def _plain(text: str) -> str:
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&").rstrip(".…")


def menu_shortcuts(bar: QMenuBar) -> list[tuple[str, str, str]]:
    """``(menu, keys, action)`` for every action with a shortcut in ``bar``'s menus."""
    rows: list[tuple[str, str, str]] = []

    def walk(menu: QMenu, path: str) -> None:
        for act in menu.actions():
            if act.menu() is not None:
                walk(act.menu(), f"{path} → {_plain(act.menu().title())}")
                continue
            keys = [k for k in act.shortcuts() if not k.isEmpty()]
            if act.isSeparator() or not keys:
                continue
            text = ", ".join(k.toString(QKeySequence.SequenceFormat.NativeText) for k in keys)
            rows.append((path, text, _plain(act.text())))

    for act in bar.actions():
        if act.menu() is not None:
            walk(act.menu(), _plain(act.menu().title()))
    return rows


class ShortcutsDialog(QDialog):
    """A searchable table of keys: type in the field to keep the rows that match."""

    def __init__(self, rows: list[tuple[str, str, str]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.resize(640, 560)
        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Search: a key (Ctrl+Z) or a word (fit, undo, node)…")
        self.search.setClearButtonEnabled(True)
        self.table = QTableWidget(len(rows), 3, self)
        self.table.setHorizontalHeaderLabels(["Keys", "Does", "Where"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setWordWrap(True)
        for r, (where, keys, does) in enumerate(rows):
            for c, text in enumerate((keys, does, where)):
                self.table.setItem(r, c, QTableWidgetItem(text))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.count = QLabel(self)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(self.search)
        lay.addWidget(self.table, 1)
        lay.addWidget(self.count)
        lay.addWidget(buttons)
        self.search.textChanged.connect(self.set_filter)
        self.set_filter("")
        self.search.setFocus(Qt.FocusReason.OtherFocusReason)

    def set_filter(self, text: str) -> None:
        """Show the rows whose keys, action or place contain every word of ``text``."""
        words = text.lower().split()
        shown = 0
        for r in range(self.table.rowCount()):
            hay = " ".join(self.table.item(r, c).text().lower() for c in range(3))
            ok = all(w in hay for w in words)
            self.table.setRowHidden(r, not ok)
            shown += ok
        self.count.setText(f"{shown} of {self.table.rowCount()} shortcuts")

    def visible_rows(self) -> list[tuple[str, str, str]]:
        """``(keys, does, where)`` of the rows shown."""
        t = self.table
        return [
            tuple(t.item(r, c).text() for c in range(3))
            for r in range(t.rowCount())
            if not t.isRowHidden(r)
        ]


def mark_conflicts(rows: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """``rows`` with a warning on every action whose key another menu action also has.

    Qt triggers neither action of an ambiguous key, so the list says so.
    """
    owners: dict[str, list[str]] = {}
    for _where, keys, does in rows:
        for k in keys.split(", "):
            owners.setdefault(k, []).append(does)
    out = []
    for where, keys, does in rows:
        others = sorted({o for k in keys.split(", ") for o in owners[k] if o != does})
        if others:
            does = f"{does}  ⚠ {keys} is also {', '.join(others)}: neither runs"
        out.append((where, keys, does))
    return out


def shortcuts_dialog(window) -> ShortcutsDialog:
    """The dialog for ``window``'s menus plus the canvas gestures (shown, non-modal)."""
    rows = mark_conflicts(menu_shortcuts(window.menuBar()))
    dlg = ShortcutsDialog(rows + list(CANVAS_KEYS), window)
    dlg.show()
    return dlg


def help_menu(window) -> QMenu:
    """Add Help → Keyboard shortcuts (F1) to ``window``'s menu bar; return the menu."""
    menu = window.menuBar().addMenu("&Help")
    act = QAction("&Keyboard shortcuts…", window)
    act.setShortcut(QKeySequence("F1"))
    act.setToolTip("Every key of the editor, searchable")
    act.triggered.connect(lambda _c=False: setattr(window, "shortcuts", shortcuts_dialog(window)))
    menu.addAction(act)
    window.shortcuts_action = act
    return menu
