"""The quick-add popup: type to filter node types, Enter adds the highlighted one."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QPoint, Qt, Signal
from PySide6.QtWidgets import QFrame, QLabel, QLineEdit, QListWidget, QListWidgetItem, QVBoxLayout

from engine.nodes import CATEGORIES, NODE_TYPES


def _norm(text: str) -> str:
    return text.lower().replace("×", "x").replace(" ", "").replace("_", "")


def matching_types(text: str) -> list[str]:
    """Node type names matching ``text``: name or label prefix first, then substrings.

    ``"1x1"`` finds ``conv1x1`` (``×`` and ``x``, spaces and underscores are equal);
    the empty text lists every type in palette order.
    """
    order = sorted(
        NODE_TYPES,
        key=lambda n: (
            CATEGORIES.index(NODE_TYPES[n].category) if NODE_TYPES[n].category in CATEGORIES else 99
        ),
    )
    q = _norm(text)
    if not q:
        return order
    ranked = []
    for i, name in enumerate(order):
        t = NODE_TYPES[name]
        keys = [_norm(name), _norm(t.label)]
        hay = " ".join(keys + [_norm(t.category), t.doc.lower()])
        if any(k.startswith(q) for k in keys):
            ranked.append((0, i, name))
        elif any(q in k for k in keys):
            ranked.append((1, i, name))
        elif q in hay:
            ranked.append((2, i, name))
    return [name for *_, name in sorted(ranked)]


class QuickAddPopup(QFrame):
    """A popup list of node types with a filter field. Emits :attr:`chosen` (type name)."""

    chosen = Signal(str)

    def __init__(self, parent=None) -> None:
        super().__init__(parent, Qt.WindowType.Popup)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.edit = QLineEdit(self)
        self.edit.setPlaceholderText("Add node: type to search…")
        self.edit.setClearButtonEnabled(True)
        self.list = QListWidget(self)
        self.list.setUniformItemSizes(True)
        self.doc_label = QLabel(self)
        self.doc_label.setWordWrap(True)
        self.doc_label.setEnabled(False)  # muted, in every palette
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.setSpacing(4)
        lay.addWidget(self.edit)
        lay.addWidget(self.list)
        lay.addWidget(self.doc_label)
        self.resize(290, 300)
        self.exclude: frozenset[str] = frozenset()  # types that cannot be added here
        self.edit.textChanged.connect(self.set_filter)
        self.edit.installEventFilter(self)
        self.list.itemActivated.connect(lambda _item: self.accept())
        self.list.currentItemChanged.connect(self._show_doc)
        self.set_filter("")

    def set_filter(self, text: str) -> None:
        """Show the types matching ``text`` and highlight the best one."""
        self.list.clear()
        for name in matching_types(text):
            if name in self.exclude:
                continue
            t = NODE_TYPES[name]
            item = QListWidgetItem(f"{t.label}    ({t.category})")
            item.setData(Qt.ItemDataRole.UserRole, name)
            item.setToolTip(t.doc)
            self.list.addItem(item)
        if self.list.count():
            self.list.setCurrentRow(0)
        else:
            self._show_doc(None)

    def _show_doc(self, item, _previous=None) -> None:
        name = item.data(Qt.ItemDataRole.UserRole) if item is not None else None
        self.doc_label.setText(NODE_TYPES[name].doc if name else "No node type matches")

    def shown_types(self) -> list[str]:
        """The type names listed, in order."""
        return [self.list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.list.count())]

    def current_type(self) -> str | None:
        """The highlighted type name."""
        item = self.list.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def open_at(self, global_pos: QPoint, exclude=()) -> None:
        """Show the popup at ``global_pos`` with an empty filter, without the types in
        ``exclude`` (e.g. an input, when the new node is to be wired after another)."""
        self.exclude = frozenset(exclude)
        self.edit.clear()
        self.set_filter("")
        self.move(global_pos)
        self.show()
        self.raise_()
        self.activateWindow()
        self.edit.setFocus()

    def accept(self) -> None:
        """Choose the highlighted type and close."""
        name = self.current_type()
        self.hide()
        if name is not None:
            self.chosen.emit(name)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if obj is self.edit and event.type() == QEvent.Type.KeyPress:
            key = event.key()
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                self.accept()
                return True
            if key == Qt.Key.Key_Escape:
                self.hide()
                return True
            if key in (Qt.Key.Key_Down, Qt.Key.Key_Up, Qt.Key.Key_PageDown, Qt.Key.Key_PageUp):
                row = self.list.currentRow() + (
                    1 if key in (Qt.Key.Key_Down, Qt.Key.Key_PageDown) else -1
                )
                if 0 <= row < self.list.count():
                    self.list.setCurrentRow(row)
                return True
        return super().eventFilter(obj, event)
