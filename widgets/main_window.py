"""The main window: canvas in the middle, palette left, inspector right, layer table below.

Every dialog the window opens goes through a method or attribute that tests replace
(``ask_save_changes``, ``ask_open_path``, ``ask_save_path``, ``ask_restore``,
``show_error``, ``show_notice``), so no test ever blocks on a modal box.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QMainWindow,
    QMenu,
    QTabWidget,
    QToolBar,
    QWidget,
)

from designer.document import Document
from designer.plaintext import tip as plain_tip
from engine.core import fileformat
from engine.core.errors import EngineError, FormatError
from engine.core.graph import GraphModel
from engine.weights.files import check_design_path, save_design_with_weights
from widgets import files
from widgets.export_dialog import ExportDialog, default_file_name, generate_code
from widgets.help_dialog import help_menu
from widgets.inside_host import install_inside
from widgets.onnx_export import OnnxExportHost
from widgets.palette import Palette
from widgets.recovery import AutosaveAndRecovery
from widgets.tabs import DesignTabs
from widgets.train_host import design_weights, install_training
from widgets.undo_keys import DocumentUndoKeys

APP_NAME = "ConvCanvas"
PALETTE_WIDTH = 170  # wide enough for "Global Avg Pool"
INSPECTOR_WIDTH = 330
BOTTOM_SHARE = 0.38  # of the window height, for "Layers" | "Inside"


def initial_size(screen) -> tuple[int, int]:
    """1600×1000 at most, and never larger than the screen's free area."""
    if screen is None:
        return 1440, 900
    avail = screen.availableGeometry()
    return min(1600, avail.width()), min(1000, avail.height())


def _canvas_actions(actions, names: tuple[str, ...]) -> list[QAction]:
    """The QActions of ``actions`` named ``names`` (``x`` or ``x_action``), skipping absent ones."""
    found: list[QAction] = []
    for name in names:
        for attr in (name, f"{name}_action", f"act_{name}"):
            act = getattr(actions, attr, None)
            if isinstance(act, QAction):
                found.append(act)
                break
    return found


EDIT_ACTIONS = ("cut", "copy", "paste", "duplicate", "delete", None, "select_all")
VIEW_ACTIONS = ("zoom_in", "zoom_out", "zoom_fit", "zoom_selection", "auto_layout")
UNTITLED = "Untitled"  # a new design's name, until it is first saved


class MainWindow(DesignTabs, AutosaveAndRecovery, QMainWindow):
    """Designs in tabs (widgets/tabs.py) with their panels, menus and files."""

    current_design_changed = Signal(object)  # the DesignTab now current
    design_closed = Signal(object)  # a DesignTab about to go

    def __init__(self, doc: Document | None = None, autosave: bool = True) -> None:
        super().__init__()
        self.ask_save_changes = files.ask_save_changes
        self.ask_restore = files.ask_restore
        self.show_error = files.show_error
        self.ask_replace = files.ask_replace
        self.show_notice = files.show_notice
        self.recent = files.RecentFiles(self)
        self.export_dialog: ExportDialog | None = None
        self.setObjectName("MainWindow")
        self.setDockNestingEnabled(True)
        self.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)

        # One tab per open design (widgets/tabs.py): doc, scene, view, totals_bar,
        # inspector, layer_table, canvas_actions, inside_host and autosaver are the current tab's.
        self._init_tabs(doc)
        self.setCentralWidget(self.design_tabs)

        self.palette_panel = Palette(self)
        self.palette_dock = self._dock(
            "Nodes", self.palette_panel, Qt.DockWidgetArea.LeftDockWidgetArea
        )
        self.inspector_dock = self._dock(
            "Inspector", self.inspector_stack, Qt.DockWidgetArea.RightDockWidgetArea
        )
        self.table_dock = self._dock(
            "Layers", self.table_stack, Qt.DockWidgetArea.BottomDockWidgetArea
        )
        # ---- Place for the "inside the network" views (feature maps, statistics) ----
        # Others add tabs with add_inside_view(widget, title). The dock shares the bottom
        # area with the layer table, as a tab ("Layers" | "Inside").
        self.inside_tabs = QTabWidget(self)
        self.inside_tabs.setDocumentMode(True)
        self.inside_tabs.tabBar().setAutoHide(True)  # one view: the dock tab says it all
        self.inside_dock = self._dock(
            "Inside", self.inside_tabs, Qt.DockWidgetArea.BottomDockWidgetArea
        )
        self.setTabPosition(Qt.DockWidgetArea.BottomDockWidgetArea, QTabWidget.TabPosition.North)
        self.tabifyDockWidget(self.table_dock, self.inside_dock)
        for dock in (self.table_dock, self.inside_dock):
            # The tab names the dock; a title bar under it would only repeat it.
            dock.setTitleBarWidget(QWidget(dock))
        self.inside_dock.hide()

        self._build_actions()
        self._build_menus()
        self._build_toolbar()
        self._connect()
        # Feature maps etc.: Run/Live/Cancel/Open image, image drops (built after show).
        self.inside_host = install_inside(self)
        self.help_menu = help_menu(self)  # Help → Keyboard shortcuts (F1)
        # Run → Train…, Load/Save weights…, the weights label (training has its own worker).
        self.train_host = install_training(self)
        # Ctrl+Z in an inspector field undoes the document's last edit (the field commits).
        self.undo_keys = DocumentUndoKeys(self, self.undo_action, self.redo_action)
        self._finish_tabs()
        self._build_autosave(autosave)
        self._shown_once = False
        self._fitted = (1.0, 0, 0)  # zoom and scroll of the last automatic fit
        self.resize(*initial_size(self.screen()))
        self.arrange_docks()
        self._update_title()
        for dock in self.findChildren(QDockWidget):
            self.watch_dock(dock)

    # ------------------------------------------------------------------ window size
    def watch_dock(self, dock: QDockWidget) -> None:
        """Keep the window on the screen when ``dock`` opens, and restore the layout (sizes
        of the window and the other docks) when it is closed again."""
        if dock.property("cc_watched"):
            return
        dock.setProperty("cc_watched", True)
        # Bound methods (not lambdas): Qt drops them with the window.
        dock.toggleViewAction().toggled.connect(self._dock_toggled)
        dock.topLevelChanged.connect(self._keep_on_screen_soon)

    def remember_layout(self, dock: QDockWidget) -> None:
        """Before ``dock`` is shown: what closing it brings back (the window's size and
        every dock's place)."""
        sizes = self.__dict__.setdefault("_size_before_dock", {})
        if self.isVisible() and dock.isHidden() and dock not in sizes:
            sizes[dock] = (self.size(), self.saveState())

    def _dock_toggled(self, shown: bool) -> None:
        action = self.sender()
        dock = action.parent() if action is not None else None
        if not isinstance(dock, QDockWidget):
            return
        sizes = self.__dict__.setdefault("_size_before_dock", {})
        if shown:
            self._keep_on_screen_soon()
            return
        saved = sizes.pop(dock, None)
        if saved is not None and not sizes:
            QTimer.singleShot(0, self, lambda s=saved: self._restore_layout(*s))

    def _restore_layout(self, size: QSize, state) -> None:
        self.resize(size)
        self._keep_on_screen()
        self.restoreState(state)

    def _keep_on_screen_soon(self, *_args) -> None:
        QTimer.singleShot(0, self, self._keep_on_screen)

    def _keep_on_screen(self) -> None:
        """Shrink the window back inside the screen's free area (never past its edge)."""
        screen = self.screen()
        if screen is None or self.isMaximized() or self.isFullScreen():
            return
        avail = screen.availableGeometry()
        frame = self.frameGeometry()
        extra_w = frame.width() - self.width()
        extra_h = frame.height() - self.height()
        w = min(self.width(), avail.width() - extra_w)
        h = min(self.height(), avail.height() - extra_h)
        if (w, h) != (self.width(), self.height()):
            self.resize(w, h)
        frame = self.frameGeometry()
        x = min(max(frame.x(), avail.x()), avail.right() - frame.width() + 1)
        y = min(max(frame.y(), avail.y()), avail.bottom() - frame.height() + 1)
        if (x, y) != (frame.x(), frame.y()):
            self.move(x, y)

    # ------------------------------------------------------------------ construction
    def arrange_docks(self) -> None:
        """Palette left, inspector right, "Layers" | "Inside" tabbed below the canvas.

        Sizes scale with the window: the canvas keeps the largest area.
        """
        w, h = self.width(), self.height()
        self.resizeDocks(
            [self.palette_dock, self.inspector_dock],
            [PALETTE_WIDTH, min(INSPECTOR_WIDTH, max(260, w // 5))],
            Qt.Orientation.Horizontal,
        )
        bottom = self.inside_dock if self.inside_dock.isVisible() else self.table_dock
        self.resizeDocks([bottom], [max(220, int(h * BOTTOM_SHARE))], Qt.Orientation.Vertical)

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        if not self._shown_once:
            # Real sizes exist only now: lay the docks out, then fit the design to the canvas.
            self._shown_once = True
            self.arrange_docks()
            self._fit_soon()
            # The feature views arrive ~0.5 s later and take their height from the canvas:
            # fit again then, unless the user has zoomed or panned meanwhile.
            self.inside_host.panel_built.connect(lambda _p: self._refit_if_untouched())

    def _refit_if_untouched(self) -> None:
        view = self.view
        if (
            abs(view.zoom() - self._fitted[0]) < 1e-9
            and view.horizontalScrollBar().value() == self._fitted[1]
            and view.verticalScrollBar().value() == self._fitted[2]
        ):
            QTimer.singleShot(0, self, self._fit_now)  # dropped if the window is deleted first

    def _dock(self, title: str, widget: QWidget, area) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{title.lower()}")
        dock.setWidget(widget)
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetClosable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
        )
        self.addDockWidget(area, dock)
        return dock

    def _action(self, text: str, slot, shortcut=None, tip: str = "") -> QAction:
        act = QAction(text, self)
        if shortcut is not None:
            act.setShortcut(QKeySequence(shortcut))
        if tip:
            act.setStatusTip(tip)
            act.setToolTip(tip)
        act.triggered.connect(lambda _checked=False: slot())
        return act

    def _build_actions(self) -> None:
        K = QKeySequence.StandardKey
        self.new_action = self._action("&New", self.new_design, K.New, "Start a new design")
        self.open_action = self._action("&Open…", self.open_file, K.Open, "Open a graph file")
        self.save_action = self._action("&Save", self.save, K.Save, "Save the design")
        self.save_as_action = self._action(
            "Save &As…", self.save_as, K.SaveAs, "Save the design under a new name"
        )
        self.export_action = self._action(
            "&Export PyTorch code…",
            self.export_code,
            "Ctrl+E",
            "Show the design as a runnable PyTorch file",
        )
        # File → Export ONNX…: torch.onnx runs in a process (widgets.onnx_export).
        self.onnx_export = OnnxExportHost(self)
        self.quit_action = self._action("&Quit", self.close, K.Quit, "Quit ConvCanvas")
        self.undo_action = self.undo_group.createUndoAction(self, "&Undo")
        self.undo_action.setShortcuts([QKeySequence(K.Undo)])
        self.redo_action = self.undo_group.createRedoAction(self, "&Redo")
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        # Their tooltips would default to the text, which quotes node names: plain text.
        g = self.undo_group
        g.undoTextChanged.connect(lambda t: self.undo_action.setToolTip(plain_tip(f"Undo {t}")))
        g.redoTextChanged.connect(lambda t: self.redo_action.setToolTip(plain_tip(f"Redo {t}")))
        self.pin_action = self._action(
            "&Pin baseline",
            lambda: self.totals_bar.pin(),
            "Ctrl+B",
            "Pin the current totals to compare later designs with",
        )

    def _build_menus(self) -> None:
        bar = self.menuBar()
        fm = bar.addMenu("&File")
        fm.addActions([self.new_action, self.open_action])
        self.recent_menu = fm.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        self._fill_recent()
        self.templates_menu = fm.addMenu("&Templates")
        self._fill_templates(self.templates_menu)
        self._build_tab_menu(fm)
        fm.addSeparator()
        fm.addActions([self.save_action, self.save_as_action])
        fm.addSeparator()
        fm.addActions([self.export_action, self.onnx_export.action])
        fm.addSeparator()
        fm.addAction(self.quit_action)

        em = bar.addMenu("&Edit")
        em.addActions([self.undo_action, self.redo_action])
        em.addSeparator()
        for name in EDIT_ACTIONS:
            if name is None:
                em.addSeparator()
            else:
                em.addActions(_canvas_actions(self.canvas_actions, (name,)))
        em.addSeparator()
        em.addActions(self.canvas_actions.block_actions.actions)  # group, ungroup, types
        self.edit_menu = em

        vm = bar.addMenu("&View")
        for act in _canvas_actions(self.canvas_actions, VIEW_ACTIONS):
            vm.addAction(act)
        vm.addSeparator()
        vm.addAction(self.pin_action)
        vm.addSeparator()
        panels = self.panels_menu = vm.addMenu("&Panels")
        for dock in (self.palette_dock, self.inspector_dock, self.table_dock, self.inside_dock):
            panels.addAction(dock.toggleViewAction())
        self.view_menu = vm

    def _fill_templates(self, menu: QMenu) -> None:
        from engine.templates import TEMPLATES

        groups: dict[str, QMenu | None] = {}
        for key, tpl in TEMPLATES.items():
            if tpl.category not in groups:
                if groups:
                    menu.addSeparator()
                groups[tpl.category] = None
                head = menu.addAction(tpl.category)
                head.setEnabled(False)
            act = menu.addAction(tpl.title)
            act.setToolTip(tpl.description)
            act.setStatusTip(tpl.description)
            act.setData(key)
            act.triggered.connect(lambda _c=False, k=key: self.load_template(k))
        menu.setToolTipsVisible(True)

    def _fill_recent(self) -> None:
        menu = self.recent_menu
        menu.clear()
        paths = self.recent.paths()
        for i, path in enumerate(paths):
            act = menu.addAction(f"&{i + 1}  {path.name}")
            act.setToolTip(plain_tip(str(path)))
            act.setStatusTip(str(path))
            act.triggered.connect(lambda _c=False, p=path: self.open_file(p))
        if paths:
            menu.addSeparator()
            menu.addAction("Clear list", self.recent.clear)
        else:
            menu.addAction("No recent files").setEnabled(False)

    def _build_toolbar(self) -> None:
        tb = QToolBar("Main", self)
        tb.setObjectName("toolbar_main")
        tb.setIconSize(QSize(18, 18))
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        tb.addActions([self.new_action, self.open_action, self.save_action])
        tb.addSeparator()
        tb.addActions(self._short_undo_redo())
        view_acts = _canvas_actions(self.canvas_actions, ("zoom_fit", "auto_layout"))
        if view_acts:
            tb.addSeparator()
            tb.addActions(view_acts)
        tb.addSeparator()
        tb.addAction(self.export_action)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, tb)
        self.toolbar = tb

    def _short_undo_redo(self) -> list[QAction]:
        """Toolbar Undo/Redo with fixed labels (the menu's carry the command names)."""
        stack = self.undo_group  # follows the current tab's undo stack
        undo = QAction("Undo", self)
        redo = QAction("Redo", self)
        undo.triggered.connect(lambda _c=False: stack.undo())
        redo.triggered.connect(lambda _c=False: stack.redo())
        stack.canUndoChanged.connect(undo.setEnabled)
        stack.canRedoChanged.connect(redo.setEnabled)
        stack.undoTextChanged.connect(
            lambda t: undo.setToolTip(plain_tip(f"Undo {t}") if t else "Undo")
        )
        stack.redoTextChanged.connect(
            lambda t: redo.setToolTip(plain_tip(f"Redo {t}") if t else "Redo")
        )
        undo.setEnabled(stack.canUndo())
        redo.setEnabled(stack.canRedo())
        self.toolbar_undo, self.toolbar_redo = undo, redo
        return [undo, redo]

    def _connect(self) -> None:
        # Title, selection and focus of each design are wired per tab (DesignTabs._add_tab).
        self.palette_panel.type_activated.connect(self.add_node)
        self.palette_panel.block_activated.connect(self.place_block)
        self.current_design_changed.connect(self._refresh_block_palette)
        self._refresh_block_palette()

    # ------------------------------------------------------------------ inside views
    def add_inside_view(self, widget: QWidget, title: str) -> int:
        """Add a tab to the "Inside" dock (feature maps, statistics); return its index."""
        index = self.inside_tabs.addTab(widget, title)
        self.inside_dock.show()
        self.inside_dock.raise_()
        return index

    # ------------------------------------------------------------------ selection
    def _focus_node(self, node: str) -> None:
        self.scene.block_layer.open_to_show([node])
        self.scene.select_nodes([node])
        item = self.scene.node_item(node)
        if item is not None:
            self.view.centerOn(item)
        self.inspector.set_node(node)
        self.inspector_dock.show()
        self.inspector_dock.raise_()

    def _refresh_block_palette(self, *_args) -> None:
        """The palette's Blocks group: the library and the current design's own types."""
        from engine.blocks import BUILTIN_TYPES, all_types
        from engine.blocks.types import BlockError

        doc = self.current_tab.doc
        try:
            types = all_types(doc.model)
        except BlockError:
            types = BUILTIN_TYPES
        self.palette_panel.set_block_types(types)
        if not getattr(doc, "_palette_follows", False):
            doc._palette_follows = True
            doc.blocks_changed.connect(self._refresh_block_palette)

    def place_block(self, key: str) -> str | None:
        """Place block type ``key`` after the selection (palette double-click or drop)."""
        return self.current_tab.block_actions.place(key)

    def add_node(self, type_name: str) -> str | None:
        """Add a ``type_name`` node at the centre of the view (palette double-click)."""
        return self.view.add_node_at_center(type_name)

    # ------------------------------------------------------------------ title
    def display_name(self) -> str:
        """The file name, or the design's name if it was never saved."""
        return self.doc.path.name if self.doc.path is not None else self.doc.model.name

    def _update_title(self) -> None:
        self.setWindowTitle(f"{self.display_name()}[*] — {APP_NAME}")
        self.setWindowModified(self.doc.modified)

    # ------------------------------------------------------------------ files
    def ask_open_path(self) -> Path | None:
        """Ask for a file to open (tests replace this)."""
        start = str(self.doc.path.parent) if self.doc.path else ""
        path, _ = QFileDialog.getOpenFileName(self, "Open design", start, files.FILE_FILTER)
        return Path(path) if path else None

    def ask_save_path(self) -> Path | None:
        """Ask where to save (tests replace this)."""
        start = str(self.doc.path) if self.doc.path else f"{self.doc.model.name}.json"
        path, _ = QFileDialog.getSaveFileName(self, "Save design", start, files.FILE_FILTER)
        if not path:
            return None
        path = Path(path)
        return path if path.suffix else path.with_suffix(".json")

    def maybe_save(self) -> bool:
        """Offer to save unsaved changes; return ``False`` if the user cancelled."""
        if not self.doc.modified:
            return True
        answer = self.ask_save_changes(self, self.display_name())
        if answer == files.SAVE:
            return self.save()
        return answer == files.DISCARD

    def set_model(self, model: GraphModel, path: Path | None = None) -> None:
        """Show ``model`` (no prompt: callers ask first)."""
        self.doc.replace_model(model, path)
        self.inspector.set_node(None)
        self._fit_soon()

    def _fit_soon(self) -> None:
        QTimer.singleShot(0, self, self._fit_now)  # dropped if the window is deleted first

    def _fit_now(self) -> None:
        self.view.fit_to_view()
        self._fitted = (
            self.view.zoom(),
            self.view.horizontalScrollBar().value(),
            self.view.verticalScrollBar().value(),
        )

    def is_blank(self, tab=None) -> bool:
        """Whether ``tab`` (default: the current one) holds an empty, unmodified, unsaved
        design (nothing but File → New's input, or nothing at all)."""
        tab = tab if tab is not None else self.current_tab
        doc = tab.doc
        if doc.modified or doc.path is not None or doc.undo_stack.count():
            return False
        model = doc.model
        return model.name == UNTITLED and len(model) <= 1 and model.nodes in ([], ["input"])

    def open_design(self, model: GraphModel):
        """Show ``model`` in a new tab, or in the current one if that is blank; the tab's
        pinned baseline and training state are its own (a reused blank tab drops them)."""
        if not self.is_blank():
            return self.new_tab(model)
        tab = self.current_tab
        if tab.totals_bar.baseline is not None:
            tab.totals_bar.unpin()
        self.set_model(model)
        host = getattr(self, "train_host", None)
        if host is not None:
            host.forget(tab)
            if host.panel is not None:
                host.panel.show_state(host.state_for(tab.doc))
        return tab

    def new_design(self) -> bool:
        """File → New: a design holding one 3×224×224 input, in a new tab (the current one
        stays as it is; a blank current tab is reused). Returns whether it happened."""
        if self.is_blank():
            return True
        model = GraphModel(UNTITLED)
        model.add_node("input", {"channels": 3, "height": 224, "width": 224}, "input", (0, 0))
        self.open_design(model)
        return True

    def load_template(self, key: str) -> bool:
        """Open the template ``key`` in a new tab (or the current one if it is blank)."""
        from engine.blocks.layout import apply_block_layout
        from engine.templates import build

        model = build(key)
        # Wrapped to this canvas' shape: a long chain in rows, blocks as cards.
        apply_block_layout(model, self.current_tab.scene.block_layer.view_aspect())
        self.open_design(model)
        self.statusBar().showMessage(f"Template: {model.name}", 4000)
        return True

    def open_file(self, path: str | Path | None = None) -> bool:
        """Open a graph file; on a bad file show why and keep the current design."""
        if path is None:
            path = self.ask_open_path()
            if path is None:
                return False
        path = Path(path)
        try:
            model = fileformat.load(path)
        except FormatError as exc:
            self.show_error(self, "Cannot open design", exc.message)
            return False
        if not self.maybe_save():
            return False
        self.set_model(model, path)
        self.recent.add(path)
        self.statusBar().showMessage(f"Opened {path}", 4000)
        # The design's weights file (after "Opened": a problem with it stays on show).
        self.train_host.restore_design_weights(path)
        return True

    def save(self) -> bool:
        """Save to the current file (or ask for one); return whether it saved."""
        if self.doc.path is None:
            return self.save_as()
        return self._write(self.doc.path)

    def save_as(self, path: str | Path | None = None) -> bool:
        """Save under a new name; return whether it saved."""
        if path is None:
            path = self.ask_save_path()
            if path is None:
                return False
        return self._write(Path(path))

    def _write(self, path: Path) -> bool:
        old_name = self.doc.model.name
        if self.doc.path is None and old_name == UNTITLED:
            self.doc.model.set_name(path.stem)  # an untitled design takes its file's name
        try:
            check_design_path(path)
            weights = design_weights(self.doc, path)
            if weights is not None and self._replaces_other_weights(path, weights[0]):
                if self.doc.model.name != old_name:
                    self.doc.model.set_name(old_name)
                return False
            # NAME.safetensors and the JSON naming it: both written, or neither.
            save_design_with_weights(self.doc.model, path, weights)
        except (OSError, ValueError) as exc:  # ValueError: text the encoding cannot hold
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            self.show_error(self, "Cannot save design", f"{path}: cannot write: {why}")
            if self.doc.model.name != old_name:
                self.doc.model.set_name(old_name)
            return False
        if self.doc.path != path:
            self.doc.set_path(path)
        self.doc.mark_saved()
        self.recent.add(path)
        if self.autosaver is not None:
            self.autosaver.slot.clear()  # nothing unsaved is left
        self._update_title()
        self.statusBar().showMessage(f"Saved {path}", 4000)
        return True

    def _replaces_other_weights(self, path: Path, weights_path: Path) -> bool:
        """Whether saving would replace a weights file that is not this design's and the
        user declined (asked only when ``weights_path`` exists and ``path`` is a new name)."""
        if self.doc.path == path or not weights_path.exists():
            return False
        return not self.ask_replace(
            self,
            "Replace weights file?",
            f"{weights_path.name} already exists beside {path.name} and is not this design's "
            f"weights file. Saving the design with its weights replaces it. Replace it?",
        )

    def export_code(self) -> ExportDialog | None:
        """Generate PyTorch code and show it in a preview dialog (non-blocking)."""
        try:
            code = generate_code(self.doc.model)
        except EngineError as exc:
            self.show_error(
                self,
                "Cannot export",
                f"The design has errors, so it cannot become a model yet:\n{exc.message}",
            )
            return None
        start = self.doc.path.parent if self.doc.path else None
        dlg = ExportDialog(code, default_file_name(self.doc.model), self, start)
        self.export_dialog = dlg
        dlg.open()
        return dlg

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        if not self.maybe_save_all():
            event.ignore()
            return
        self.close_other_autosavers()
        if self.autosaver is not None:
            self.autosaver.close()  # removes this window's autosave, and only it
        event.accept()
