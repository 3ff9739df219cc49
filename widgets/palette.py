"""The node palette: node types grouped by category, dragged onto the canvas or double-clicked."""

from __future__ import annotations

from PySide6.QtCore import QMimeData, Qt, Signal
from PySide6.QtGui import QDrag
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLineEdit,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.blocks.library import BUILTIN_TYPES
from engine.nodes import CATEGORIES, NODE_TYPES

NODE_MIME = "application/x-convcanvas-node-type"
TYPE_ROLE = Qt.ItemDataRole.UserRole + 1
BLOCK_ROLE = Qt.ItemDataRole.UserRole + 2  # a block type's key (the "Blocks" group)
BLOCKS = "Blocks"


class _TypeTree(QTreeWidget):
    """A tree whose leaf items drag their node type name under :data:`NODE_MIME`."""

    def startDrag(self, supported_actions) -> None:  # noqa: N802 - Qt's name
        # Copy only: a drop must never remove the item from the palette (Qt's MoveAction).
        items = self.selectedItems()
        if not items or not items[0].data(0, TYPE_ROLE):
            return
        drag = QDrag(self)
        drag.setMimeData(self.mimeData(items))
        drag.exec(Qt.DropAction.CopyAction, Qt.DropAction.CopyAction)

    def mimeTypes(self) -> list[str]:  # noqa: N802 - Qt's name
        return [NODE_MIME]

    def mimeData(self, items) -> QMimeData:  # noqa: N802 - Qt's name
        mime = QMimeData()
        for item in items:
            type_name = item.data(0, TYPE_ROLE)
            if type_name:
                mime.setData(NODE_MIME, type_name.encode("utf-8"))
                mime.setText(type_name)
                break
        return mime


class Palette(QWidget):
    """Every node type, by category, with a filter box.

    Signals
    -------
    type_activated(str)
        A node type was double-clicked (or Enter pressed on it): add it at the view centre.
    """

    type_activated = Signal(str)
    block_activated = Signal(str)  # a block type's key: place it (asking its parameters)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.filter_edit = QLineEdit(self)
        self.filter_edit.setPlaceholderText("Filter nodes…")
        self.filter_edit.setClearButtonEnabled(True)
        self.tree = _TypeTree(self)
        self.tree.setHeaderHidden(True)
        self.tree.setRootIsDecorated(False)
        self.tree.setIndentation(10)
        self.tree.setDragEnabled(True)
        self.tree.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addWidget(self.filter_edit)
        layout.addWidget(self.tree)

        self._groups: dict[str, QTreeWidgetItem] = {}
        self._items: dict[str, QTreeWidgetItem] = {}
        bold = self.tree.font()
        bold.setBold(True)
        for cat in CATEGORIES:
            group = QTreeWidgetItem(self.tree, [cat])
            group.setFlags(Qt.ItemFlag.ItemIsEnabled)
            group.setFont(0, bold)
            self._groups[cat] = group
        for ntype in NODE_TYPES.values():
            group = self._groups[ntype.category]
            item = QTreeWidgetItem(group, [ntype.label])
            item.setData(0, TYPE_ROLE, ntype.name)
            item.setToolTip(0, f"{ntype.label}: {ntype.doc}\nDrag onto the canvas or double-click.")
            item.setFlags(
                Qt.ItemFlag.ItemIsEnabled
                | Qt.ItemFlag.ItemIsSelectable
                | Qt.ItemFlag.ItemIsDragEnabled
            )
            self._items[ntype.name] = item
        self._block_items: dict[str, QTreeWidgetItem] = {}
        self._blocks = QTreeWidgetItem(self.tree, [BLOCKS])
        self._blocks.setFlags(Qt.ItemFlag.ItemIsEnabled)
        self._blocks.setFont(0, bold)
        self.set_block_types(BUILTIN_TYPES)
        self.tree.expandAll()
        # Never narrower than the longest label ("Global Avg Pool"): no cut-off names.
        fm = self.tree.fontMetrics()
        widest = max(fm.horizontalAdvance(t.label) for t in NODE_TYPES.values())
        widest = max(widest, max(fm.horizontalAdvance(c) for c in CATEGORIES) + 4)
        self.setMinimumWidth(widest + 2 * self.tree.indentation() + 32)

        self.filter_edit.textChanged.connect(self.set_filter)
        self.tree.itemActivated.connect(self._on_activated)

    def set_block_types(self, types: dict) -> None:
        """List block types (built-in and the design's own) in the "Blocks" group."""
        for item in self._block_items.values():
            self._blocks.removeChild(item)
        self._block_items = {}
        for key, bt in types.items():
            if key == "basic_conv":
                continue  # a part of GoogLeNet's Inception, placed through it
            item = QTreeWidgetItem(self._blocks, [bt.title])
            item.setData(0, BLOCK_ROLE, key)
            item.setToolTip(0, f"{bt.title}: {bt.description}\nDouble-click to place it after "
                               "the selected node, with its parameters.")  # fmt: skip
            item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
            self._block_items[key] = item

    def block_item_for(self, key: str) -> QTreeWidgetItem:
        """The tree item of a block type."""
        return self._block_items[key]

    def item_for(self, type_name: str) -> QTreeWidgetItem:
        """The tree item of a node type (for tests and keyboard focus)."""
        return self._items[type_name]

    def visible_types(self) -> list[str]:
        """Node types that the filter currently shows, in palette order."""
        return [name for name, item in self._items.items() if not item.isHidden()]

    def set_filter(self, text: str) -> None:
        """Show only node types whose label, name or category contains ``text``."""
        needle = text.strip().lower()
        for _cat, group in self._groups.items():
            any_shown = False
            for i in range(group.childCount()):
                item = group.child(i)
                ntype = NODE_TYPES[item.data(0, TYPE_ROLE)]
                hay = f"{ntype.label} {ntype.name} {ntype.category} {ntype.doc}".lower()
                shown = not needle or needle in hay
                item.setHidden(not shown)
                any_shown |= shown
            group.setHidden(not any_shown)
        any_block = False
        for item in self._block_items.values():
            shown = not needle or needle in f"{item.text(0)} {item.toolTip(0)} blocks".lower()
            item.setHidden(not shown)
            any_block |= shown
        self._blocks.setHidden(not any_block)

    def _on_activated(self, item: QTreeWidgetItem, column: int) -> None:
        type_name = item.data(0, TYPE_ROLE)
        if type_name:
            self.type_activated.emit(type_name)
        key = item.data(0, BLOCK_ROLE)
        if key:
            self.block_activated.emit(key)
