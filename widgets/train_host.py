"""The window's training side: Run → Train…, Load weights…, Save weights…, and the weights label.

:class:`TrainHost` owns the :class:`~widgets.train_panel.TrainController` (the training
worker), builds the :class:`~widgets.train_panel.TrainPanel` dock on first use, names the
weights in use next to the feature maps (``random, seed 0``, ``trained on shapes, 97.3%``,
``loaded from FILE``; :meth:`designer.document.Document.weights_changed`), and reads and
writes the design's ``NAME.safetensors`` beside ``NAME.json``
(:func:`design_weights`, :meth:`TrainHost.restore_design_weights`).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDockWidget, QFileDialog, QFrame, QScrollArea, QWidget

from designer.document import Document
from engine.codegen.targets import legacy_flat_keys
from engine.core.fileformat import to_dict
from engine.weights.files import DesignWeightsError, design_weights_data, load_design_weights
from engine.weights.fit import migrate_flat_names
from engine.weights.weightset import names_for
from widgets.train_panel import WEIGHT_FILTER, TrainController, TrainPanel, record_sparsity
from widgets.train_state import TrainState


def design_weights(doc: Document, json_path: Path) -> tuple | None:
    """``(path, bytes, ref)`` of the design's ``NAME.safetensors`` (nothing written), or
    ``None`` when the design uses random weights."""
    w = doc.weights
    if w.kind == "random":
        return None
    meta = dict(w.meta)
    meta["origin"] = w.origin
    return design_weights_data(w.state(doc.model), meta, json_path)


#: The most of the window's height the Train dock takes when it opens.
TRAIN_SHARE_MAX = 0.5


class TrainHost(QObject):
    """The window's training side: the controller, the lazily built panel and its dock,
    the Run-menu actions, the weights label and the design's weights file.

    Signals
    -------
    status_message(str)
    """

    status_message = Signal(str)

    def __init__(self, window, controller: TrainController | None = None) -> None:
        super().__init__(window)
        self.window_ = window
        self.controller = controller if controller is not None else TrainController(self)
        self.panel: TrainPanel | None = None
        self.dock = QDockWidget("Train", window)
        self.dock.setObjectName("train_dock")
        window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.dock)
        beside = getattr(window, "inside_dock", None)
        if beside is not None:
            # A third tab below the canvas ("Layers" | "Inside" | "Train"): it never crushes
            # the feature views or widens the window; its tab names it (no title bar).
            window.tabifyDockWidget(beside, self.dock)
            self.dock.setTitleBarWidget(QWidget(self.dock))
        self.dock.hide()
        # View → Panels → Train shows the dock too: its content is built then.
        self.dock.visibilityChanged.connect(lambda shown: shown and self.ensure_panel())
        if hasattr(window, "panels_menu"):
            window.panels_menu.addAction(self.dock.toggleViewAction())
        c = self.controller
        client = c.client
        # The training worker goes with the window (it is a daemon process in any case).
        window.destroyed.connect(lambda *_a: client.close(timeout=0.5))
        c.loaded.connect(self._on_loaded)
        c.saved.connect(lambda p: self._say(f"Weights saved to {Path(p).name}."))
        c.failed.connect(self._on_failed)
        self._docs: set[int] = set()
        # Each design's training state (curves, sparsity series, status): the panel shows
        # the current design's, never another's.
        self.states: dict[Document, TrainState] = {}
        self._loading: str | None = None  # the weights file being read in the worker
        self.follow(window.doc)

    @property
    def doc(self) -> Document:
        """The window's current document."""
        return self.window_.doc

    def follow(self, doc: Document) -> None:
        """Keep the weights label in step with ``doc`` (call for every document shown)."""
        if id(doc) in self._docs:
            return
        self._docs.add(id(doc))
        doc.weights_changed.connect(self._on_weights_changed)

    def state_for(self, doc: Document) -> TrainState:
        """``doc``'s training state (a new, empty one for a design never trained)."""
        state = self.states.get(doc)
        if state is None:
            state = self.states[doc] = TrainState()
        return state

    def forget(self, tab) -> None:
        """A design tab closed: drop its training state."""
        self.states.pop(tab.doc, None)

    def follow_tab(self, tab) -> None:
        """A design tab became current (or was opened): follow its document, name its
        weights next to its own feature maps (now, or when they are built), record its
        feature runs in its own state, and show that state in the Train panel."""
        self.follow(tab.doc)
        if self.panel is not None:
            self.panel.show_state(self.state_for(tab.doc))
        host = getattr(tab, "inside_host", None)
        if host is None:
            return
        if host.panel is not None:
            self._wire_views(host.panel, tab.doc)
        elif not getattr(host, "_weights_label_wired", False):
            host._weights_label_wired = True
            host.panel_built.connect(lambda panel, d=tab.doc: self._wire_views(panel, d))

    def _wire_views(self, panel, doc: Document) -> None:
        """One design's feature views: name its weights, record its runs in its state."""
        if hasattr(panel, "set_weights_text"):
            panel.set_weights_text(doc.weights.text())
        if getattr(panel, "_train_wired", False):
            return
        panel._train_wired = True
        controller = getattr(panel, "controller", None)
        if controller is not None and hasattr(controller, "options"):
            controller.options["effective"] = True  # the effective receptive field, too
        if hasattr(panel, "result_shown"):
            panel.result_shown.connect(lambda result, d=doc: self._on_result(result, d))

    def ensure_panel(self) -> TrainPanel:
        """The Train panel (built on first use)."""
        if self.panel is None:
            self.panel = TrainPanel(self.window_, self)
            self.panel.status_message.connect(self.status_message)
            # In a scroll area: a window narrower than the panel's minimum scrolls it
            # instead of growing past the screen.
            scroll = QScrollArea(self.dock)
            scroll.setWidgetResizable(True)
            scroll.setFrameShape(QFrame.Shape.NoFrame)
            scroll.setWidget(self.panel)
            self.dock.setWidget(scroll)
        return self.panel

    def show_panel(self) -> TrainPanel:
        """Run → Train…: show the Train dock."""
        panel = self.ensure_panel()
        if hasattr(self.window_, "remember_layout"):
            self.window_.remember_layout(self.dock)  # closing the dock brings this back
        was_hidden = self.dock.isHidden()
        self.dock.show()
        self.dock.raise_()
        if was_hidden:
            # Tall enough for the settings and readable plots (the layout comes back on close).
            w = self.window_
            want = min(TRAIN_SHARE_MAX * w.height(), panel.minimumSizeHint().height() + 24)
            beside = [getattr(w, "inside_dock", None), getattr(w, "table_dock", None)]
            now = max((d.height() for d in beside if d is not None and d.isVisible()), default=0)
            if want > now:  # only ever taller: the feature views keep their size
                w.resizeDocks([self.dock], [int(want)], Qt.Orientation.Vertical)
        return panel

    def _say(self, text: str) -> None:
        if self.panel is not None:
            self.panel.status.setText(text)
        self.status_message.emit(text)

    def weights_text(self) -> str:
        """What the window says about the weights in use."""
        return self.doc.weights.text()

    def _on_weights_changed(self, text: str) -> None:
        if self.sender() is not None and self.sender() is not self.doc:
            return  # another tab's document
        host = getattr(self.window_, "inside_host", None)
        panel = getattr(host, "panel", None)
        if panel is not None and hasattr(panel, "set_weights_text"):
            panel.set_weights_text(text)
        if self.doc.weights.dropped:
            self.status_message.emit(f"Weights: {text}.")

    def _on_result(self, result, doc: Document) -> None:
        """A feature run of ``doc``: its sparsity by depth goes into ``doc``'s own state."""
        if self.panel is not None:
            self.panel.record_result(result, doc)
        else:
            record_sparsity(self.state_for(doc), result, doc.weights.kind)

    def rerun(self, doc: Document | None = None) -> None:
        """Run ``doc``'s feature views again (default: the current design's); they switch to
        the weights now in use."""
        host = getattr(self.window_, "inside_host", None)
        if doc is not None and doc is not self.doc:
            tab = next((t for t in self.window_.tabs_list() if t.doc is doc), None)
            host = getattr(tab, "inside_host", None)
        if host is None:
            return
        panel = host.ensure_panel() if hasattr(host, "ensure_panel") else None
        if panel is not None:
            panel.run()

    def _on_failed(self, message: str) -> None:
        loading, self._loading = self._loading, None
        if loading is not None:  # every message about a file names it
            name = Path(str(loading)).name
            if name and not message.startswith(name):
                message = f"{name}: {message}"
        if loading is not None and "\n" in message:
            # A file that does not fit: the counts in the status, every listed key in a box.
            self._say(message.split("\n", 1)[0])
            self.window_.show_error(self.window_, "Cannot load weights", message)
            return
        if self.panel is None or self.panel.train_button.isEnabled():
            self._say(message)

    # ------------------------------------------------------------------ weights files
    def load_weights(self, path: str | None = None) -> bool:
        """Run → Load weights…: read a file in the worker, check it, then use it."""
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self.window_, "Load weights", "", WEIGHT_FILTER)
            if not path:
                return False
        if self.controller.busy:
            self._say("Wait for the training worker to finish first.")
            return False
        if self.doc.analysis.errors or len(self.doc.model) == 0:
            self._say("Fix the graph before loading weights into it.")
            return False
        self._say(f"Loading {Path(path).name}…")
        self._loading = path
        self.controller.load(to_dict(self.doc.model), path)
        return True

    def _on_loaded(self, reply) -> None:
        self._loading = None
        self.doc.set_weights(
            reply.state, "loaded", f"loaded from {Path(reply.path).name}", reply.meta
        )
        notes = "".join(f" {n}." for n in getattr(reply, "notes", []))
        self._say(f"Loaded {len(reply.state)} tensors from {Path(reply.path).name}.{notes}")
        self.rerun()

    def save_weights(self, path: str | None = None) -> bool:
        """Run → Save weights…: write the weights in use (random ones too) to a file."""
        if path is None:
            start = f"{self.doc.model.name or 'weights'}.safetensors"
            path, _ = QFileDialog.getSaveFileName(
                self.window_, "Save weights", start, WEIGHT_FILTER
            )
            if not path:
                return False
        if not path.lower().endswith((".safetensors", ".pt", ".pth")):
            path += ".safetensors"
        if self.controller.busy:
            self._say("Wait for the training worker to finish first.")
            return False
        w = self.doc.weights
        if w.kind == "random":
            self._say("The design uses random weights: train or load weights before saving them.")
            return False
        if w.dropped:
            self._say(f"Note: {', '.join(w.dropped)} use random weights after an edit.")
        self.controller.save(to_dict(self.doc.model), path, w.state(self.doc.model), dict(w.meta))
        return True

    def export_script(self, folder: str | None = None) -> list[Path]:
        """File → Export Training Script…: model code and train.py into a chosen folder."""
        from engine.core.errors import EngineError

        if folder is None:
            start = str(self.doc.path.parent) if self.doc.path else ""
            folder = QFileDialog.getExistingDirectory(self.window_, "Folder for train.py", start)
            if not folder:
                return []
        try:
            existing = [p for p in training_script_paths(self.doc, folder) if p.exists()]
            if existing and not self.window_.ask_replace(
                self.window_,
                "Replace files?",
                f"{' and '.join(p.name for p in existing)} already "
                f"{'exist' if len(existing) > 1 else 'exists'} in {folder}. Replace "
                f"{'them' if len(existing) > 1 else 'it'} with the exported training script?",
            ):
                self._say("Training script not exported: nothing was replaced.")
                return []
            paths = export_training_script(self.doc, folder)
        except EngineError as exc:
            self._say(f"Cannot export the training script: {exc.message}")
            return []
        except (ValueError, OSError) as exc:
            self._say(f"Cannot export the training script: {exc}")
            return []
        self._say(
            f"Wrote {paths[0].name} and train.py to {folder}: python train.py shapes, or "
            f"torchrun --nproc_per_node N train.py DATA"
        )
        return paths

    def restore_design_weights(self, json_path: Path) -> None:
        """After opening a design: use the weights file its JSON names (hash checked)."""
        from engine.core.errors import FormatError
        from engine.core.fileformat import read_weights_ref

        try:
            ref = read_weights_ref(json_path)
        except FormatError as exc:
            self._say(f"Random weights: {exc.message}")
            return
        if ref is None:
            return
        try:
            state, meta = load_design_weights(json_path, ref)
        except DesignWeightsError as exc:
            self._say(exc.message)
            return
        origin = meta.get("origin") or f"loaded from {ref['file']}"
        state, note = migrate_flat_names(
            state,
            legacy_flat_keys(self.doc.model),
            set(names_for(self.doc.model).values()),
            ref["file"],
        )
        if note:
            self._say(note)
        unmatched = self.doc.weights.assign(
            self.doc.model, self.doc.analysis, state, "loaded", origin, meta
        )
        self.doc.weights_changed.emit(self.doc.weights.text())
        if unmatched:
            self._say(f"{ref['file']}: {len(unmatched)} tensor(s) match no node and were left out.")


def export_training_script(doc: Document, folder: str | Path) -> list[Path]:
    """Write the model code (``NAME.py``) and ``train.py`` into ``folder``; return the paths.

    Raises
    ------
    EngineError, ValueError
        When the graph cannot be exported (errors, not one input).
    OSError
        When the folder cannot be written.
    """
    from engine.codegen.emit import export_code
    from engine.core.fileformat import write_atomic_many
    from engine.recipes.script import training_script

    model_file, train_file = training_script_paths(doc, folder)
    code = export_code(doc.model)
    script = training_script(doc.model)
    write_atomic_many(  # both files, or neither
        [
            (model_file, lambda fh: fh.write(code), False, 0o644),
            (train_file, lambda fh: fh.write(script), False, 0o644),
        ]
    )
    return [model_file, train_file]


def training_script_paths(doc: Document, folder: str | Path) -> list[Path]:
    """The model file (``NAME.py``) and ``train.py`` that an export into ``folder`` writes."""
    from engine.recipes.script import model_module_name

    folder = Path(folder)
    return [folder / f"{model_module_name(doc.model)}.py", folder / "train.py"]


def install_training(window) -> TrainHost:
    """Add the Train dock and Run → Train…, Load weights…, Save weights… to ``window``."""
    host = TrainHost(window)
    menu = None
    for action in window.menuBar().actions():
        if action.menu() is not None and action.text().replace("&", "") == "Run":
            menu = action.menu()
    if menu is None:
        menu = window.menuBar().addMenu("&Run")
    menu.addSeparator()
    host.actions_ = {}
    for key, text, slot, tip in (
        ("train", "Train…", host.show_panel, "Train the design on shapes or a folder of images"),
        ("load", "Load weights…", host.load_weights, "Use weights from a .safetensors or .pt file"),
        ("save", "Save weights…", host.save_weights, "Write the weights in use to a file"),
    ):
        act = QAction(text, window)
        act.setStatusTip(tip)
        act.triggered.connect(lambda _c=False, s=slot: s())
        menu.addAction(act)
        host.actions_[key] = act
    host.status_message.connect(window.statusBar().showMessage)
    file_menu = next(
        (
            a.menu()
            for a in window.menuBar().actions()
            if a.menu() is not None and a.text().replace("&", "") == "File"
        ),
        None,
    )
    if file_menu is not None:
        act = QAction("Export Training Script…", window)
        act.setStatusTip("Write the model code and train.py (one process or torchrun) to a folder")
        act.triggered.connect(lambda _c=False: host.export_script())
        actions = file_menu.actions()
        export = next((a for a in actions if a.text().replace("&", "").startswith("Export")), None)
        after = actions[actions.index(export) + 1] if export and export is not actions[-1] else None
        if after is not None:
            file_menu.insertAction(after, act)
        else:
            file_menu.addAction(act)
        host.actions_["export_script"] = act
    if hasattr(window, "current_design_changed"):
        window.current_design_changed.connect(host.follow_tab)
    if hasattr(window, "design_closed"):
        window.design_closed.connect(host.forget)
    tab = getattr(window, "current_tab", None)
    if tab is not None:
        host.follow_tab(tab)  # the first design's feature runs go into its own state
    return host
