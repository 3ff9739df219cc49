"""The open design: model, live analysis and undo stack, with Qt signals.

This is the adapter between the Qt-free engine and the views. Views read the model and
the analysis and listen to the signals here; they never change the model themselves:
every change goes through a command pushed on :attr:`Document.undo_stack`.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack

from engine.analysis.analyzer import Analysis, Analyzer
from engine.core.graph import GraphEvent, GraphModel


class Document(QObject):
    """One design open in a window.

    Signals are emitted after the model changed (names in the past tense).
    """

    node_added = Signal(str)
    node_removed = Signal(str)
    edge_added = Signal(str, str, int)  # src, dst, port
    edge_removed = Signal(str, str, int)
    params_changed = Signal(str)
    nodes_moved = Signal(tuple)  # node ids
    name_changed = Signal(str)
    node_renamed = Signal(str, str)  # old id, new id
    graph_reset = Signal()
    analysis_changed = Signal(object)  # set of node ids whose result changed
    path_changed = Signal(object)  # Path or None
    modified_changed = Signal(bool)

    def __init__(self, model: GraphModel | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.model = model if model is not None else GraphModel()
        # Structural signals first (views create/remove items), then analysis_changed
        # (views refresh readouts): so subscribe before the analyzer does.
        self.model.subscribe(self._on_model_event)
        self.analyzer = Analyzer(self.model)
        self.undo_stack = QUndoStack(self)
        self.path: Path | None = None
        self.analyzer.subscribe(self._on_analysis)
        self.undo_stack.cleanChanged.connect(self._on_clean_changed)

    # ------------------------------------------------------------------ state
    @property
    def analysis(self) -> Analysis:
        """The current analysis (complete when ``analysis_changed`` is emitted)."""
        return self.analyzer.analysis

    @property
    def modified(self) -> bool:
        """Whether there are changes since the last save or load."""
        return not self.undo_stack.isClean()

    def set_path(self, path: str | Path | None) -> None:
        """Remember where the design is saved."""
        self.path = Path(path) if path is not None else None
        self.path_changed.emit(self.path)

    def mark_saved(self) -> None:
        """Call after saving: the current state is the clean one."""
        self.undo_stack.setClean()

    def replace_model(self, model: GraphModel, path: str | Path | None = None) -> None:
        """Show another design (open, new, template); clears the undo history."""
        self.undo_stack.clear()
        self.model.replace(model)  # emits graph_reset; the analyzer rebuilds first
        self.set_path(path)
        self.undo_stack.setClean()

    def _on_clean_changed(self, clean: bool) -> None:
        # A method, not a lambda: Qt disconnects it when the document is destroyed
        # (the stack emits cleanChanged while it is torn down with its parent).
        self.modified_changed.emit(not clean)

    # ------------------------------------------------------------------ engine → Qt
    def _on_model_event(self, event: GraphEvent) -> None:
        kind = event.kind
        if kind == "node_added":
            self.node_added.emit(event.nodes[0])
        elif kind == "node_removed":
            self.node_removed.emit(event.nodes[0])
        elif kind == "edge_added":
            self.edge_added.emit(*event.edge)
        elif kind == "edge_removed":
            self.edge_removed.emit(*event.edge)
        elif kind == "params_changed":
            self.params_changed.emit(event.nodes[0])
        elif kind == "node_moved":
            self.nodes_moved.emit(tuple(event.nodes))
        elif kind == "name_changed":
            self.name_changed.emit(self.model.name)
        elif kind == "graph_reset":
            self.graph_reset.emit()
        elif kind == "node_renamed":
            self.node_renamed.emit(event.extra["old"], event.extra["new"])

    def _on_analysis(self, analysis: Analysis, changed: set) -> None:
        self.analysis_changed.emit(changed)
