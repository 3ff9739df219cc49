"""The open design: model, live analysis and undo stack, with Qt signals.

This is the adapter between the Qt-free engine and the views. Views read the model and
the analysis and listen to the signals here; they never change the model themselves:
every change goes through a command pushed on :attr:`Document.undo_stack`.

Views hear of a change only once the analysis is current: for each engine event the
Analyzer updates first, then the document emits the change's own signal (``node_added``,
``graph_reset``, ...) and, if the analysis changed, ``analysis_changed``. A design that
comes in (:class:`Document` creation, :meth:`Document.replace_model`) gets layered-layout
positions for its nodes that have none, before anyone listens: loading is not an edit.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack

from engine.analysis.analyzer import Analysis, Analyzer
from engine.core.graph import GraphEvent, GraphModel
from engine.core.layout import place_unplaced
from engine.weights.weightset import WeightSet


class Document(QObject):
    """One design open in a window.

    Signals are emitted after the model changed and the analysis followed (names in the
    past tense).
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
    blocks_changed = Signal()  # a block record or a node's scope changed
    analysis_changed = Signal(object)  # set of node ids whose result changed
    path_changed = Signal(object)  # Path or None
    modified_changed = Signal(bool)
    weights_changed = Signal(str)  # what the window says about the weights in use

    def __init__(self, model: GraphModel | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.model = model if model is not None else GraphModel()
        place_unplaced(self.model)
        # The Analyzer subscribes to the model first, so it is current when the document
        # hears of an event; the change it reports is kept and emitted after the event's
        # own signal (views create or remove items, then refresh readouts).
        self.analyzer = Analyzer(self.model)
        self._analysis_changed: set | None = None
        self.analyzer.subscribe(self._on_analysis)
        self.model.subscribe(self._on_model_event)
        self.undo_stack = QUndoStack(self)
        self.path: Path | None = None
        self.undo_stack.cleanChanged.connect(self._on_clean_changed)
        # The weights in use (random unless trained or loaded); edits drop a layer's own.
        self.weights = WeightSet()

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
        """Show another design (open, new, template); clears the undo history.

        Nodes of ``model`` without a position get their layered-layout one first.
        """
        place_unplaced(model)
        self.undo_stack.clear()
        self.weights.reset()
        self.weights_changed.emit(self.weights.text())
        self.model.replace(model)  # emits graph_reset; the analyzer rebuilds first
        self.set_path(path)
        self.undo_stack.setClean()

    def _on_clean_changed(self, clean: bool) -> None:
        # A method, not a lambda: Qt disconnects it when the document is destroyed
        # (the stack emits cleanChanged while it is torn down with its parent).
        self.modified_changed.emit(not clean)

    # ------------------------------------------------------------------ engine → Qt
    def _on_model_event(self, event: GraphEvent) -> None:
        changed, self._analysis_changed = self._analysis_changed, None
        self._follow_weights(event)
        self._emit_change(event)
        if changed is not None:
            self.analysis_changed.emit(changed)

    def _emit_change(self, event: GraphEvent) -> None:
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
        elif kind in ("scope_changed", "block_changed", "block_types_changed"):
            self.blocks_changed.emit()

    # ------------------------------------------------------------------ weights
    def set_weights(self, state: dict, kind: str, origin: str, meta: dict | None = None) -> None:
        """Use trained or loaded ``state`` (exported-code keys) from now on."""
        self.weights.assign(self.model, self.analysis, state, kind, origin, meta)
        self.weights_changed.emit(self.weights.text())

    def reset_weights(self) -> None:
        """Back to the seeded random weights."""
        self.weights.reset()
        self.weights_changed.emit(self.weights.text())

    def _follow_weights(self, event: GraphEvent) -> None:
        # Before the views hear of the edit, so a rerun already sees the right weights.
        if event.kind == "node_renamed":
            self.weights.rename(event.extra["old"], event.extra["new"])
        if event.kind in ("node_moved", "name_changed") or self.weights.kind == "random":
            return
        if self.weights.sync(self.model, self.analysis):
            self.weights_changed.emit(self.weights.text())

    def _on_analysis(self, analysis: Analysis, changed: set) -> None:
        # Called by the Analyzer while the model notifies: emitted by _on_model_event.
        self._analysis_changed = changed
