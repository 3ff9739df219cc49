"""One open design in the main window's tabs: its document, canvas and per-design panels.

Each tab owns its :class:`~designer.document.Document` (model, analysis, undo stack,
path), the scene and view, the canvas actions, the totals bar, an inspector and a layer
table (the window shows the current tab's in its docks), and, from the second tab on,
its own feature-map host with its own run controller (worker, image, result).

The tab widget is also what a per-tab :class:`~widgets.inside_host.InsideHost` takes
as its "window": it provides ``doc``, ``scene`` and ``statusBar()``.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QStatusBar, QVBoxLayout, QWidget

from designer.actions import CanvasActions
from designer.document import Document
from designer.scene import GraphScene
from designer.view import GraphView
from engine.core.graph import GraphModel
from widgets.block_actions import BlockActions
from widgets.inspector import Inspector
from widgets.layer_table import LayerTable
from widgets.totals_bar import TotalsBar


class PinnedTotalsBar(TotalsBar):
    """The totals bar that also keeps a copy of the pinned design, for the compare view.

    ``pin_changed`` is emitted after a pin or an unpin.
    """

    pin_changed = Signal()

    def __init__(self, doc: Document, parent: QWidget | None = None) -> None:
        self.pinned_model: GraphModel | None = None
        super().__init__(doc, parent)

    def pin(self) -> None:
        """Pin the current totals and remember the design as it is now."""
        self.pinned_model = self.doc.model.copy()
        super().pin()
        self.pin_changed.emit()

    def unpin(self) -> None:
        """Forget the baseline and its copy."""
        self.pinned_model = None
        super().unpin()
        self.pin_changed.emit()


class DesignTab(QWidget):
    """The page of one design: canvas over its totals bar, plus its side panels.

    Signals
    -------
    label_changed()
        The name, path or modified state changed (the window retitles the tab).
    """

    label_changed = Signal()

    def __init__(self, window, doc: Document | None = None) -> None:
        super().__init__(window)
        self.window_ = window
        self.doc = doc if doc is not None else Document()
        self.doc.setParent(self)
        self.scene = GraphScene(self.doc)
        self.view = GraphView(self.scene)
        self.canvas_actions = CanvasActions(self.doc, self.scene, self.view, self)
        # Group, ungroup, collapse, types: listed with the Edit menu's canvas actions.
        self.block_actions = BlockActions(self.doc, self.scene, self.view, self)
        self.canvas_actions.block_actions = self.block_actions
        self.canvas_actions.edit_actions = [
            *self.canvas_actions.edit_actions,
            *self.block_actions.actions,
        ]
        # Owned by the tab, destroyed after the actions that listen to it.
        self.scene.setParent(self)
        self.totals_bar = PinnedTotalsBar(self.doc, self)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(self.view, 1)
        lay.addWidget(self.totals_bar)
        self.inspector = Inspector(self.doc)
        self.layer_table = LayerTable(self.doc)
        self.inside_host = None  # the window's host for the first tab, else built on demand
        self.fitted = (1.0, 0, 0)  # zoom and scroll of the last automatic fit
        d = self.doc
        d.modified_changed.connect(self._relabel)
        d.path_changed.connect(self._relabel)
        d.name_changed.connect(self._relabel)
        d.graph_reset.connect(self._relabel)

    def _relabel(self, *_args) -> None:
        self.label_changed.emit()

    def statusBar(self) -> QStatusBar:  # noqa: N802 - the QMainWindow name InsideHost calls
        """The window's status bar."""
        return self.window_.statusBar()

    def display_name(self) -> str:
        """The file name, or the design's name if it was never saved."""
        return self.doc.path.name if self.doc.path is not None else self.doc.model.name

    def tab_text(self) -> str:
        """The tab's label: the name, with ``*`` while there are unsaved changes."""
        return self.display_name() + (" *" if self.doc.modified else "")

    def tab_tooltip(self) -> str:
        """The full path (or "not saved") for the tab's tooltip."""
        return str(self.doc.path) if self.doc.path is not None else "not saved yet"
