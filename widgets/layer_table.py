"""The layer table: one row per node with type, shape, params, MACs and receptive field.

Rows follow the model's node order and update incrementally: ``analysis_changed``
refreshes only the rows of the nodes it names. Sorting is numeric on number columns.
"""

from __future__ import annotations

from PySide6.QtCore import (
    QAbstractTableModel,
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QHeaderView,
    QLabel,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from designer.document import Document
from designer.plaintext import plain_label
from engine.formatting import fmt_bytes, fmt_compact, fmt_int, fmt_rf, fmt_rf_size
from engine.nodes import NODE_TYPES, fmt_shape
from widgets.plot_theme import status_colors

SORT_ROLE = Qt.ItemDataRole.UserRole + 10
NODE_ROLE = Qt.ItemDataRole.UserRole + 11

COLUMNS = ("Node", "Type", "Output", "Params", "MACs", "Activation", "RF", "Status")
NUMERIC = {3, 4, 5, 6}


def status_text(error: str) -> str:
    """An error as the status cell shows it: its first line, prefixed ``error:``."""
    first = error.strip().splitlines()[0] if error.strip() else "error"
    return f"error: {first}"


class LayerModel(QAbstractTableModel):
    """A table model over the document's nodes."""

    def __init__(self, doc: Document, parent=None) -> None:
        super().__init__(parent)
        self.doc = doc
        self.ids: list[str] = list(doc.model.nodes)
        self.row_of: dict[str, int] = {n: i for i, n in enumerate(self.ids)}
        doc.node_added.connect(self._on_added)
        doc.node_removed.connect(self._on_removed)
        doc.graph_reset.connect(self._on_reset)
        doc.node_renamed.connect(self._on_renamed)
        doc.analysis_changed.connect(self._on_analysis)

    # ------------------------------------------------------------------ Qt model
    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: N802 - Qt's name
        return 0 if parent.isValid() else len(self.ids)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: N802 - Qt's name
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if orientation == Qt.Orientation.Horizontal:
            if role == Qt.ItemDataRole.DisplayRole:
                return COLUMNS[section]
            if role == Qt.ItemDataRole.TextAlignmentRole and section in NUMERIC:
                return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        node = self.ids[index.row()]
        col = index.column()
        if role == NODE_ROLE:
            return node
        r = self.doc.analysis.nodes.get(node)
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(node, r, col)
        if role == SORT_ROLE:
            return self._sort_key(node, r, col)
        if role == Qt.ItemDataRole.TextAlignmentRole and col in NUMERIC:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ForegroundRole and col == 7 and r is not None and not r.ok:
            _, bad, warn = status_colors(QApplication.palette())
            return QBrush(QColor(bad if r.error else warn))
        if role == Qt.ItemDataRole.ToolTipRole:
            if r is not None and r.error:
                return r.error
            if r is not None and r.waiting_on and col == 7:
                return f"No output: waiting on '{r.waiting_on}', which has an error."
            if col == 6 and r is not None and r.rf is not None:
                return fmt_rf(r.rf)
            if col in (3, 4, 5) and r is not None:
                return (
                    f"{fmt_int(r.params)} params · {fmt_int(r.macs)} MACs · "
                    f"{fmt_int(r.activation_bytes)} bytes"
                )
        return None

    def _text(self, node: str, r, col: int) -> str:
        if col == 0:
            return node
        if col == 1:
            return NODE_TYPES[self.doc.model.node_type(node)].label
        if r is None:
            return ""
        if col == 2:
            return fmt_shape(r.shape) if r.ok else "—"
        if not r.ok and col in NUMERIC:
            return "—"
        if col == 3:
            return fmt_int(r.params)
        if col == 4:
            return fmt_compact(r.macs) if r.macs else "0"
        if col == 5:
            return fmt_bytes(r.activation_bytes)
        if col == 6:
            return fmt_rf_size(r.rf)
        if col == 7:
            if r.error:
                return status_text(r.error)
            if r.waiting_on:
                return f"waiting on {r.waiting_on}"
            return "ok"
        return ""

    def _sort_key(self, node: str, r, col: int):
        if col in (0, 1, 7):
            return self._text(node, r, col).lower()
        if r is None or not r.ok:
            return -1
        if col == 2:
            n = 1
            for d in r.shape:
                n *= d
            return n
        if col == 3:
            return r.params
        if col == 4:
            return r.macs
        if col == 5:
            return r.activation_bytes
        if col == 6:
            return r.rf[0][0] * r.rf[1][0] if r.rf else -1
        return 0

    # ------------------------------------------------------------------ document → rows
    def _on_added(self, node: str) -> None:
        order = self.doc.model.nodes
        pos = order.index(node) if node in order else len(self.ids)
        pos = min(pos, len(self.ids))
        self.beginInsertRows(QModelIndex(), pos, pos)
        self.ids.insert(pos, node)
        self.row_of = {n: i for i, n in enumerate(self.ids)}
        self.endInsertRows()

    def _on_removed(self, node: str) -> None:
        row = self.row_of.get(node)
        if row is None:
            return
        self.beginRemoveRows(QModelIndex(), row, row)
        del self.ids[row]
        self.row_of = {n: i for i, n in enumerate(self.ids)}
        self.endRemoveRows()

    def _on_renamed(self, old: str, new: str) -> None:
        row = self.row_of.get(old)
        if row is None:
            return
        self.ids[row] = new  # same row: the view keeps its selection
        self.row_of = {n: i for i, n in enumerate(self.ids)}
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))

    def _on_reset(self) -> None:
        self.beginResetModel()
        self.ids = list(self.doc.model.nodes)
        self.row_of = {n: i for i, n in enumerate(self.ids)}
        self.endResetModel()

    def _on_analysis(self, changed) -> None:
        rows = sorted(self.row_of[n] for n in changed if n in self.row_of)
        if not rows:
            return
        last = len(COLUMNS) - 1
        # One dataChanged per contiguous run of rows.
        start = prev = rows[0]
        for r in rows[1:] + [None]:
            if r is not None and r == prev + 1:
                prev = r
                continue
            self.dataChanged.emit(self.index(start, 0), self.index(prev, last))
            if r is not None:
                start = prev = r


class LayerTable(QWidget):
    """A sortable view of :class:`LayerModel` whose selection follows the canvas.

    Signals
    -------
    nodes_selected(list)
        The user selected rows: the ids of their nodes.
    node_activated(str)
        A row was double-clicked.
    """

    nodes_selected = Signal(list)
    node_activated = Signal(str)

    def __init__(self, doc: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.doc = doc
        self.model = LayerModel(doc, self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SORT_ROLE)
        self.view = QTableView(self)
        self.view.setModel(self.proxy)
        self.view.setSortingEnabled(True)
        self.view.sortByColumn(-1, Qt.SortOrder.AscendingOrder)  # model order until clicked
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setAlternatingRowColors(True)
        self.view.setWordWrap(False)
        self.view.verticalHeader().hide()
        self.view.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)
        header = self.view.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        header.setHighlightSections(False)
        fm = self.fontMetrics()
        for col, sample in enumerate(
            (
                "branch3_reduce_relu",
                "Global Avg Pool",
                "2048×112×112",
                "2,359,296",
                "118.0 M",
                "392.0 KiB",
                "427×427",
                "waiting",
            )
        ):
            self.view.setColumnWidth(col, fm.horizontalAdvance(sample) + 18)
        # The totals of the block holding the selected rows (block totals = member sums).
        self.block_line = plain_label(QLabel(self))
        self.block_line.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.block_line.hide()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.view)
        lay.addWidget(self.block_line)
        doc.analysis_changed.connect(self._show_block)
        doc.blocks_changed.connect(self._show_block)
        self._syncing = False
        self.view.selectionModel().selectionChanged.connect(self._on_selection)
        self.view.doubleClicked.connect(self._on_double)

    def row_texts(self, node: str) -> list[str]:
        """The displayed cells of ``node``'s row (for tests)."""
        row = self.model.row_of[node]
        return [self.model.data(self.model.index(row, c)) for c in range(len(COLUMNS))]

    def visible_order(self) -> list[str]:
        """Node ids in the order the view shows them."""
        p = self.proxy
        return [p.data(p.index(i, 0), NODE_ROLE) for i in range(p.rowCount())]

    def selected_nodes(self) -> list[str]:
        """Ids of the selected rows, in view order."""
        rows = sorted({i.row() for i in self.view.selectionModel().selectedRows()})
        return [self.proxy.data(self.proxy.index(r, 0), NODE_ROLE) for r in rows]

    def select_nodes(self, nodes) -> None:
        """Select the rows of ``nodes`` without emitting :attr:`nodes_selected`."""
        sel = QItemSelection()
        last = len(COLUMNS) - 1
        first_index = None
        for n in nodes:
            row = self.model.row_of.get(n)
            if row is None:
                continue
            left = self.proxy.mapFromSource(self.model.index(row, 0))
            right = self.proxy.mapFromSource(self.model.index(row, last))
            sel.select(left, right)
            first_index = first_index or left
        self._syncing = True
        try:
            self.view.selectionModel().select(sel, QItemSelectionModel.SelectionFlag.ClearAndSelect)
            if first_index is not None:
                self.view.scrollTo(first_index)
        finally:
            self._syncing = False

    def _on_selection(self, *_args) -> None:
        self._show_block()
        if not self._syncing:
            self.nodes_selected.emit(self.selected_nodes())

    def _show_block(self, *_args) -> None:
        from engine.blocks import block_summary, enclosing_block

        model = self.doc.model
        path = enclosing_block(model, self.selected_nodes())
        self.block_line.setVisible(path is not None)
        if path is not None:
            self.block_line.setText(block_summary(model, self.doc.analysis, path))

    def _on_double(self, index: QModelIndex) -> None:
        node = self.proxy.data(index, NODE_ROLE)
        if node:
            self.node_activated.emit(node)
