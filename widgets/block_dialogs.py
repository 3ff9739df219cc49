"""Dialogs for blocks: place a block type with its parameters, save a block as a type."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.blocks.types import BlockType

MAX_VALUE = 1_048_576


class PlaceBlockDialog(QDialog):
    """Ask for a block type's parameters (and the input channels when nothing feeds it)."""

    def __init__(
        self, bt: BlockType, in_channels: int | None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Place {bt.title}")
        self.bt = bt
        form = QFormLayout()
        self.fields: dict[str, QSpinBox] = {}
        for name, default in bt.params.items():
            box = QSpinBox(self)
            box.setRange(0, MAX_VALUE)
            box.setValue(int(default))
            box.setObjectName(f"param_{name}")
            form.addRow(name, box)
            self.fields[name] = box
        self.in_box = QSpinBox(self)
        self.in_box.setRange(1, MAX_VALUE)
        self.in_box.setValue(in_channels or 64)
        self.in_box.setEnabled(in_channels is None)
        self.in_box.setToolTip("Channels entering the block (from the selected node if any)")
        form.addRow("in_channels", self.in_box)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        if bt.description:
            note = QLabel(bt.description, self)
            note.setWordWrap(True)
            lay.addWidget(note)
        lay.addLayout(form)
        lay.addWidget(buttons)

    def values(self) -> dict[str, int | bool]:
        """The parameter values chosen (booleans stay booleans)."""
        out: dict[str, int | bool] = {}
        for name, box in self.fields.items():
            default = self.bt.params[name]
            out[name] = bool(box.value()) if isinstance(default, bool) else box.value()
        return out

    def in_channels(self) -> int:
        """The channels entering the block."""
        return self.in_box.value()


class SaveTypeDialog(QDialog):
    """Name a new block type and bind member fields to named parameters.

    The table lists every whole-number field of the block's members; typing the same
    parameter name on several rows makes them one parameter.
    """

    def __init__(self, rows: list[tuple[str, str, int]], title: str, parent=None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Save Block as Type")
        self.title_edit = QLineEdit(title, self)
        self.key_edit = QLineEdit(_key_of(title), self)
        self.title_edit.textChanged.connect(lambda t: self.key_edit.setText(_key_of(t)))
        self.table = QTableWidget(len(rows), 3, self)
        self.table.setHorizontalHeaderLabels(["Field", "Value", "Parameter"])
        for i, (member, field, value) in enumerate(rows):
            a = QTableWidgetItem(f"{member}.{field}")
            b = QTableWidgetItem(str(value))
            for it in (a, b):
                it.setFlags(it.flags() & ~it.flags().ItemIsEditable)
            self.table.setItem(i, 0, a)
            self.table.setItem(i, 1, b)
            self.table.setItem(i, 2, QTableWidgetItem(""))
        self.rows = rows
        form = QFormLayout()
        form.addRow("Title", self.title_edit)
        form.addRow("Key", self.key_edit)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(QLabel("Name a parameter to make a field adjustable:", self))
        lay.addWidget(self.table)
        lay.addWidget(buttons)
        self.resize(460, 420)

    def params(self) -> dict[str, list[tuple[str, str]]]:
        """Parameter name → its ``(member, field)`` pairs."""
        out: dict[str, list[tuple[str, str]]] = {}
        for i, (member, field, _) in enumerate(self.rows):
            name = self.table.item(i, 2).text().strip()
            if name:
                out.setdefault(name, []).append((member, field))
        return out


def _key_of(title: str) -> str:
    key = "".join(ch if ch.isalnum() else "_" for ch in title.lower()).strip("_")
    return key or "my_block"
