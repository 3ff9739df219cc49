"""Several designs in one window: the main window's tabs (a mixin of ``MainWindow``).

Every open design is a :class:`~widgets.design_tab.DesignTab` with its own document,
undo stack, canvas, totals bar, inspector, layer table, autosave and feature-map run.
The window's ``doc``, ``scene``, ``view``, ``totals_bar``, ``inspector``,
``layer_table``, ``canvas_actions``, ``inside_host`` and ``autosaver`` are the current
tab's, so code written for one design keeps working. Window-wide actions (Undo/Redo
through a ``QUndoGroup``, the Edit/View canvas actions, Run/Live/Cancel/Open image) act
on the current tab: on a switch the tab's own actions take the old ones' places in
menus and toolbars, so shortcuts and enabled states are always the current design's.

``current_design_changed(tab)`` is emitted after a switch: panels that follow one
document rebind there.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QStackedWidget, QTabWidget, QToolBar

from designer.document import Document
from designer.plaintext import tip as plain_tip
from engine.core.graph import GraphModel
from widgets.design_tab import DesignTab
from widgets.import_dialog import ImportHost

VARIANT_SUFFIX = " (variant)"


def swap_actions(old: list[QAction], new: list[QAction]) -> None:
    """Put each ``new`` action where its ``old`` counterpart is, in every menu and toolbar."""
    for a, b in zip(old, new):
        if a is b:
            continue
        for w in list(a.associatedObjects()):
            if isinstance(w, (QMenu, QToolBar)):
                w.insertAction(a, b)
                w.removeAction(a)


def _canvas_list(actions) -> list[QAction]:
    return list(actions.edit_actions) + list(actions.view_actions)


def _same_file(a, b) -> bool:
    """Whether two paths name the same file (by resolved path)."""
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return a == b


def variant_name(name: str, taken: set[str]) -> str:
    """``ResNet`` → ``ResNet (variant)``, then ``ResNet (variant 2)``… not in ``taken``."""
    base = name[: -len(VARIANT_SUFFIX)] if name.endswith(VARIANT_SUFFIX) else name
    candidate = base + VARIANT_SUFFIX
    k = 2
    while candidate in taken:
        candidate = f"{base} (variant {k})"
        k += 1
    return candidate


class DesignTabs:
    """Tab handling for :class:`~widgets.main_window.MainWindow` (mixed in before QMainWindow)."""

    # ------------------------------------------------------------------ construction
    def _init_tabs(self, doc: Document | None) -> None:
        """Create the tab widget, the panel stacks and the first tab (call first in __init__)."""
        from PySide6.QtGui import QUndoGroup

        self.undo_group = QUndoGroup(self)
        self.design_tabs = QTabWidget(self)
        self.design_tabs.setObjectName("design_tabs")
        self.design_tabs.setDocumentMode(True)
        self.design_tabs.setTabsClosable(True)
        self.design_tabs.setMovable(True)
        self.design_tabs.setElideMode(Qt.TextElideMode.ElideRight)  # many tabs still fit
        self.design_tabs.tabCloseRequested.connect(
            lambda i: self.close_tab(self.design_tabs.widget(i))
        )
        bar = self.design_tabs.tabBar()
        bar.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        bar.customContextMenuRequested.connect(
            lambda pos: self._tab_menu(bar.tabAt(pos)).popup(bar.mapToGlobal(pos))
        )
        self.inspector_stack = QStackedWidget(self)
        self.table_stack = QStackedWidget(self)
        self.inside_stack: QStackedWidget | None = None
        self._active: DesignTab | None = None
        self._add_tab(DesignTab(self, doc if doc is not None else Document()))
        self._activate(self.tabs_list()[0])

    def _finish_tabs(self) -> None:
        """After menus, toolbar and the feature views exist: follow tab switches."""
        host = self.tabs_list()[0].inside_host
        if host is not None:
            # The "Feature maps" tab holds one host per design, the current one shown.
            idx = self.inside_tabs.indexOf(host)
            self.inside_stack = QStackedWidget(self)
            title = self.inside_tabs.tabText(idx)
            self.inside_tabs.removeTab(idx)
            self.inside_stack.addWidget(host)
            self.inside_tabs.insertTab(idx, self.inside_stack, title)
        self.design_tabs.currentChanged.connect(self._on_tab_changed)

    def _add_tab(self, tab: DesignTab) -> DesignTab:
        self.undo_group.addStack(tab.doc.undo_stack)
        self.inspector_stack.addWidget(tab.inspector)
        self.table_stack.addWidget(tab.layer_table)
        self.design_tabs.addTab(tab, tab.tab_text())
        tab.label_changed.connect(lambda t=tab: self._relabel(t))
        tab.scene.selection_changed_nodes.connect(
            lambda nodes, t=tab: self._tab_selection(t, nodes)
        )
        tab.layer_table.nodes_selected.connect(lambda nodes, t=tab: self._tab_table(t, nodes))
        for sig in (tab.layer_table.node_activated, tab.totals_bar.error_clicked):
            sig.connect(lambda node, t=tab: self._tab_focus(t, node))
        if hasattr(tab.scene, "node_activated"):
            tab.scene.node_activated.connect(lambda node, t=tab: self._tab_focus(t, node))
        self._relabel(tab)
        return tab

    # ------------------------------------------------------------------ current tab
    def tabs_list(self) -> list[DesignTab]:
        """The open designs, in tab order."""
        w = self.design_tabs
        return [w.widget(i) for i in range(w.count())]

    @property
    def current_tab(self) -> DesignTab:
        """The design being edited."""
        return self._active

    @property
    def doc(self) -> Document:
        """The current design's document."""
        return self._active.doc

    @property
    def scene(self):
        """The current design's scene."""
        return self._active.scene

    @property
    def view(self):
        """The current design's canvas view."""
        return self._active.view

    @property
    def canvas_actions(self):
        """The current design's canvas actions (cut, copy, zoom…)."""
        return self._active.canvas_actions

    @property
    def totals_bar(self):
        """The current design's totals bar."""
        return self._active.totals_bar

    @property
    def inspector(self):
        """The current design's inspector."""
        return self._active.inspector

    @property
    def layer_table(self):
        """The current design's layer table."""
        return self._active.layer_table

    @property
    def inside_host(self):
        """The current design's feature-map host (built on first need)."""
        tab = self._active
        if tab.inside_host is None and self.inside_stack is not None:
            self._build_host(tab)
        return tab.inside_host

    @inside_host.setter
    def inside_host(self, host) -> None:
        self._active.inside_host = host

    @property
    def autosaver(self):
        """The current design's autosaver (``None`` when autosave is off)."""
        return getattr(self._active, "autosaver", None)

    @autosaver.setter
    def autosaver(self, saver) -> None:
        self._active.autosaver = saver

    def _build_host(self, tab: DesignTab) -> None:
        from widgets.inside_host import InsideHost

        first = self.tabs_list()[0].inside_host if self.tabs_list() else None
        host = InsideHost(tab, delay_ms=-1)
        if first is not None:
            host.live = first.live
            host.actions_.live.setChecked(first.actions_.live.isChecked())
        tab.inside_host = host
        self.inside_stack.addWidget(host)
        if first is not None and first.panel is not None:
            host.ensure_panel()  # the first design's views are up: this one's too

    def _activate(self, tab: DesignTab) -> None:
        """Make ``tab`` the design the window's panels, menus and actions act on."""
        old = self._active
        if old is tab:
            return
        self._active = tab
        self.undo_group.setActiveStack(tab.doc.undo_stack)
        self.inspector_stack.setCurrentWidget(tab.inspector)
        self.table_stack.setCurrentWidget(tab.layer_table)
        if old is not None:
            swap_actions(_canvas_list(old.canvas_actions), _canvas_list(tab.canvas_actions))
            if self.inside_stack is not None:
                host = self.inside_host  # built now if need be
                self.inside_stack.setCurrentWidget(host)
                if old.inside_host is not None:
                    swap_actions(old.inside_host.actions_.all, host.actions_.all)

    def _on_tab_changed(self, index: int) -> None:
        if index < 0:
            return
        tab = self.design_tabs.widget(index)
        self._activate(tab)
        self._update_title()
        self.current_design_changed.emit(tab)
        if getattr(tab, "needs_fit", False):
            self._fit_tab_soon(tab)

    def _relabel(self, tab: DesignTab) -> None:
        i = self.design_tabs.indexOf(tab)
        if i >= 0:
            self.design_tabs.setTabText(i, tab.tab_text())
            self.design_tabs.setTabToolTip(i, plain_tip(tab.tab_tooltip()))
        if tab is self._active and hasattr(self, "toolbar"):
            self._update_title()

    # ------------------------------------------------------------------ per-tab wiring
    def _tab_selection(self, tab: DesignTab, nodes: list) -> None:
        tab.inspector.set_selection(nodes)
        tab.layer_table.select_nodes(nodes)

    def _tab_table(self, tab: DesignTab, nodes: list) -> None:
        if len(nodes) == 1:  # a row of a node inside a collapsed block opens the block
            tab.scene.block_layer.open_to_show(nodes)
        tab.scene.select_nodes(nodes)
        tab.inspector.set_selection(nodes)
        if len(nodes) == 1:
            item = tab.scene.node_item(nodes[0])
            if item is not None:
                tab.view.ensureVisible(item, 40, 40)

    def _tab_focus(self, tab: DesignTab, node: str) -> None:
        if tab is self._active:
            self._focus_node(node)

    def _tab_menu(self, index: int) -> QMenu:
        """The tab bar's right-click menu for the tab at ``index``."""
        menu = QMenu(self)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)  # one menu per right-click
        tab = self.design_tabs.widget(index) if index >= 0 else None
        if tab is None:
            menu.addAction("New Tab", lambda: self.new_tab())
            return menu
        current = self._active

        def variant() -> None:
            self.design_tabs.setCurrentWidget(tab)
            self.duplicate_as_variant()

        menu.addAction("Duplicate as Variant", variant)
        act = menu.addAction(
            f"Compare with '{current.display_name()}'",
            lambda: self.show_compare([tab, current]),
        )
        act.setEnabled(tab is not current)
        menu.addSeparator()
        menu.addAction("Close Tab", lambda: self.close_tab(tab))
        return menu

    # ------------------------------------------------------------------ opening and closing
    def new_tab(self, model: GraphModel | None = None, path=None) -> DesignTab:
        """Open ``model`` (default: a new design with one 3×224×224 input) in a new tab."""
        if model is None:
            model = GraphModel("Untitled")
            model.add_node("input", {"channels": 3, "height": 224, "width": 224}, "input", (0, 0))
        tab = self._add_tab(DesignTab(self, Document()))
        tab.doc.replace_model(model, path)
        first = self.tabs_list()[0]
        if getattr(first, "autosaver", None) is not None:
            self._add_autosaver(tab)
        # Fitted when first shown, at its real size (several tabs opened at once, from
        # Compare, each get their own fit, not only the last one).
        tab.needs_fit = True
        self.design_tabs.setCurrentWidget(tab)
        self._fit_tab_soon(tab)
        return tab

    def _fit_tab_soon(self, tab: DesignTab) -> None:
        from PySide6.QtCore import QTimer

        QTimer.singleShot(0, tab, lambda t=tab: self._fit_tab(t))

    def _fit_tab(self, tab: DesignTab) -> None:
        """Fit ``tab``'s design to its canvas if it is the one shown (else when it is)."""
        if tab is not self._active or not getattr(tab, "needs_fit", False):
            return
        tab.needs_fit = False
        if tab is self._active:
            self._fit_now()

    def _add_autosaver(self, tab: DesignTab) -> None:
        """Give ``tab`` an autosaver of the first tab's kind (one autosave per design)."""
        folder = getattr(self, "data_folder", None)
        if folder is None:
            return  # a single shared recovery file: only the first design is autosaved
        saver = self.tabs_list()[0].autosaver
        tab.autosaver = type(saver)(tab.doc, folder, tab)
        for signal, slot in (("failed", "_autosave_failed"), ("saved", "_autosave_succeeded")):
            if hasattr(tab.autosaver, signal) and hasattr(self, slot):
                getattr(tab.autosaver, signal).connect(getattr(self, slot))

    def open_in_new_tab(self, path=None) -> DesignTab | None:
        """Open a graph file in a new tab; on a bad file show why and open nothing."""
        from pathlib import Path

        from engine.core import fileformat
        from engine.core.errors import FormatError

        if path is None:
            path = self.ask_open_path()
            if path is None:
                return None
        path = Path(path)
        for tab in self.tabs_list():  # already open: show that tab, do not open it twice
            if tab.doc.path is not None and _same_file(tab.doc.path, path):
                self.design_tabs.setCurrentWidget(tab)
                self.statusBar().showMessage(f"{path} is already open", 4000)
                return tab
        try:
            model = fileformat.load(path)
        except FormatError as exc:
            self.show_error(self, "Cannot open design", exc.message)
            return None
        tab = self.new_tab(model, path)
        self.recent.add(path)
        self.statusBar().showMessage(f"Opened {path} in a new tab", 4000)
        return tab

    def duplicate_as_variant(self) -> DesignTab:
        """Copy the current design into a new tab named after it, for a what-if edit."""
        src = self.doc.model
        model = src.copy()
        model.set_name(variant_name(src.name, {t.doc.model.name for t in self.tabs_list()}))
        tab = self.new_tab(model)
        # The copy is new work: unsaved until the user saves it under a name of its own.
        tab.doc.undo_stack.resetClean()
        self.statusBar().showMessage(f"{model.name}: a copy of {src.name} to change", 4000)
        return tab

    def close_tab(self, tab: DesignTab | None = None) -> bool:
        """Close ``tab`` (default: the current one), asking first about unsaved changes.

        Closing the last tab leaves a new empty design. Returns whether it closed.
        """
        tab = tab if tab is not None else self._active
        if tab is not self._active:
            self.design_tabs.setCurrentWidget(tab)
        if not self.maybe_save():
            return False
        if self.design_tabs.count() == 1:
            model = GraphModel("Untitled")
            model.add_node("input", {"channels": 3, "height": 224, "width": 224}, "input", (0, 0))
            self.set_model(model)
            return True
        saver = getattr(tab, "autosaver", None)
        if saver is not None:
            getattr(saver, "close", saver.stop)()  # removes this design's autosave
        host = tab.inside_host
        index = self.design_tabs.indexOf(tab)
        self.design_tabs.setCurrentIndex(index - 1 if index > 0 else 1)
        self.design_closed.emit(tab)
        self.design_tabs.removeTab(self.design_tabs.indexOf(tab))
        self.undo_group.removeStack(tab.doc.undo_stack)
        for w in (tab.inspector, tab.layer_table):
            w.setParent(None)
            w.deleteLater()
        if host is not None:
            if host.panel is not None:
                host.panel.close_worker()
            host.setParent(None)
            host.deleteLater()
        tab.deleteLater()
        return True

    def maybe_save_all(self) -> bool:
        """Offer to save every tab with unsaved changes; ``False`` if the user cancelled."""
        for tab in self.tabs_list():
            if tab.doc.modified:
                self.design_tabs.setCurrentWidget(tab)
                if not self.maybe_save():
                    return False
        return True

    def close_other_autosavers(self) -> None:
        """On quit: every tab but the current removes its autosave (the window does its own)."""
        for tab in self.tabs_list():
            saver = getattr(tab, "autosaver", None)
            if tab is not self._active and saver is not None:
                getattr(saver, "close", saver.stop)()

    # ------------------------------------------------------------------ menus
    def _build_tab_menu(self, file_menu: QMenu) -> None:
        """File: New Tab, Open in New Tab, Import PyTorch Model, Duplicate as Variant, Close
        Tab; View: Compare; Templates: the lesson's comparisons, one click each."""
        from PySide6.QtGui import QKeySequence

        K = QKeySequence.StandardKey  # noqa: N806 - short alias for Qt's enum
        self.new_tab_action = self._action(
            "New &Tab", lambda: self.new_tab(), K.AddTab, "Start a new design in a new tab"
        )
        self.open_tab_action = self._action(
            "Open in New Ta&b…",
            lambda: self.open_in_new_tab(),
            "Ctrl+Shift+O",
            "Open a graph file in a new tab, keeping the current design open",
        )
        self.variant_action = self._action(
            "Duplicate as &Variant",
            self.duplicate_as_variant,
            "Ctrl+Shift+D",
            "Copy the design into a new tab for a what-if edit",
        )
        self.close_tab_action = self._action(
            "&Close Tab", lambda: self.close_tab(), K.Close, "Close the current design"
        )
        self.compare_action = self._action(
            "&Compare Designs…",
            lambda: self.show_compare(),
            "Ctrl+Shift+C",
            "Totals and per-block costs of 2–4 open designs side by side",
        )
        # File → Import PyTorch Model…: the import runs in a process, opens in a new tab.
        self.import_host = ImportHost(self)
        self.import_action = self.import_host.action
        first = file_menu.actions()[2] if len(file_menu.actions()) > 2 else None
        file_menu.insertActions(
            first, [self.new_tab_action, self.open_tab_action, self.import_action]
        )
        file_menu.addSeparator()
        file_menu.addActions([self.variant_action, self.compare_action, self.close_tab_action])
        self.templates_menu.addSeparator()
        head = self.templates_menu.addAction("Compare")
        head.setEnabled(False)
        self.comparison_actions: dict[str, QAction] = {}
        for key, (title, keys) in TEACHING_COMPARISONS.items():
            act = self.templates_menu.addAction(title)
            tip = "Open " + ", ".join(keys) + " in tabs and compare them"
            act.setToolTip(tip)
            act.setStatusTip(tip)
            act.triggered.connect(lambda _c=False, k=key: self.open_comparison(k))
            self.comparison_actions[key] = act

    # ------------------------------------------------------------------ compare
    def show_compare(self, tabs: list | None = None):
        """Open (or raise) the compare view on ``tabs`` (default: up to 4 open designs)."""
        from widgets.compare_view import CompareView

        view = getattr(self, "compare_view", None)
        if view is None:
            view = self.compare_view = CompareView(self)
        if tabs is None:
            current = self._active
            others = [t for t in self.tabs_list() if t is not current]
            tabs = (others + [current])[-4:] if others else [current]
        view.set_designs(tabs)
        view.show()
        view.raise_()
        return view

    def open_comparison(self, key: str):
        """Open one of :data:`TEACHING_COMPARISONS` in tabs and compare them."""
        from engine.templates import build

        _title, keys = TEACHING_COMPARISONS[key]
        tabs = []
        for k in keys:
            model = build(k)
            found = next(
                (
                    t
                    for t in self.tabs_list()
                    if t.doc.model.name == model.name and not t.doc.modified and t not in tabs
                ),
                None,
            )
            tabs.append(found if found is not None else self.new_tab(model))
        self.design_tabs.setCurrentWidget(tabs[-1])
        return self.show_compare(tabs)


#: The lesson's comparisons: key → (menu title, template keys; the first is the baseline).
TEACHING_COMPARISONS = {
    "inception": (
        "Inception 3a: naive / 1×1 reductions / GoogLeNet's",
        ("inception3a_naive", "inception3a_reduced", "inception3a_googlenet"),
    ),
    "resnet": (
        "ResNet: basic 64 / basic 256 / bottleneck",
        ("resnet_basic_64", "resnet_basic_256", "resnet_bottleneck"),
    ),
}
