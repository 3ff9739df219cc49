"""Where the "See inside" panel lives in the window, and how it is built without a stall.

:func:`install_inside` adds an :class:`InsideHost` to the main window's dock with the
run actions on the toolbar and the Run menu. The host shows a placeholder and builds
the panel (:class:`widgets.inside_panel.InsidePanel`) in stages after the window is
shown: pyqtgraph is imported in a thread, then each view is made on its own turn of the
event loop, each step waiting until the design has been left alone for
:data:`QUIET_MS`, so that no step lands in an edit.
"""

from __future__ import annotations

import gc
import sys
import threading

from PySide6.QtCore import QElapsedTimer, Qt, QTimer, Signal
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from widgets.inside_panel import (
    ImageDropFilter,
    InsideActions,
    InsidePanel,
    _import_views,
    view_makers,
)

STAGE_POLL_MS = 20  # how often the staged build looks whether pyqtgraph is imported
QUIET_MS = 400  # the staged build waits until the design has not changed for this long


def freeze_startup_objects(done: bool = False) -> None:
    """Keep the objects made so far out of the cyclic garbage collector's full collections,
    while the start-up loads (pyqtgraph, the feature views) are made; ``done``: the last time.

    They are modules, classes and widgets that live as long as the window. A full
    collection walks every tracked object (~100,000 by then, ~35-40 ms), and the imports
    made one due soon after: it landed in the next edit. Frozen objects are never walked
    (nor collected: ``gc.freeze``), so such a collection walks only what was made since.
    Only the first start-up of the process freezes (later windows and tests do not).
    """
    global _STARTUP_FROZEN
    if not _STARTUP_FROZEN:
        gc.freeze()
        _STARTUP_FROZEN = done


_STARTUP_FROZEN = False


class InsideHost(QWidget):
    """Holds the :class:`InsidePanel` in the main window and builds it on first need.

    The actions exist at once (for the toolbar and menu); the panel, with pyqtgraph, is
    built shortly after the window is shown, or when an action is used before that.
    """

    panel_built = Signal(object)

    def __init__(self, window, delay_ms: int = 500) -> None:
        super().__init__(window)
        self.window_ = window
        self.panel: InsidePanel | None = None
        # What the panel does once built: run once (the app sets this so that a newcomer
        # sees feature maps without looking for Run), and the initial Live state.
        self.autorun = False
        self.live = False
        self.actions_ = InsideActions(self)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._placeholder = QLabel("Preparing the feature views…")
        self._placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._layout.addWidget(self._placeholder)
        a = self.actions_
        a.run.triggered.connect(lambda _c=False: self._first(lambda p: p.run()))
        a.live.toggled.connect(lambda on: self._first(lambda p: p.controller.set_live(on)))
        a.open_image.triggered.connect(
            lambda _c=False: self._first(lambda p: p.image_panel.choose())
        )
        self._drop_filter = ImageDropFilter(self, self._open_dropped)
        window.setAcceptDrops(True)
        window.installEventFilter(self._drop_filter)
        self._views: dict = {}  # views made so far by the staged build
        self._importer: threading.Thread | None = None
        self._edited = QElapsedTimer()  # since the last edit (invalid: none yet)
        self._watched: list = []  # documents whose edits postpone the staged build
        self._watch_edits(getattr(window, "doc", None))
        if hasattr(window, "current_design_changed"):
            window.current_design_changed.connect(self._on_design_changed)
        if delay_ms >= 0:
            QTimer.singleShot(delay_ms, self, self.build_in_stages)

    def build_in_stages(self) -> None:
        """Build the panel without stalling the window: pyqtgraph and the views' modules are
        imported in a thread,
        then each view is made in its own turn of the event loop, then the panel (an edit
        in between waits for one piece, never for the whole ~0.3 s build)."""
        if self.panel is not None:
            return
        wait = self.quiet_left()
        if wait > 0:  # the user is editing: build in the next pause, not in between edits
            QTimer.singleShot(wait, self, self.build_in_stages)
            return
        if self._importer is None and "pyqtgraph" not in sys.modules:
            self._importer = threading.Thread(
                target=_import_views, name="import-views", daemon=True
            )
            self._importer.start()
        # (sys.modules holds pyqtgraph from the start of its import: ask the thread.)
        if self._importer is not None and self._importer.is_alive():
            QTimer.singleShot(STAGE_POLL_MS, self, self.build_in_stages)
            return
        freeze_startup_objects()  # (pyqtgraph and the views' modules are imported now)
        for key, make in view_makers(self.window_.scene):
            if key not in self._views:
                self._views[key] = make()
                QTimer.singleShot(0, self, self.build_in_stages)
                return
        self.ensure_panel()
        freeze_startup_objects(done=True)

    def quiet_left(self) -> int:
        """Milliseconds until the design has been left alone for :data:`QUIET_MS` (0: now).

        Importing pyqtgraph in its thread slows the window's thread (both want the
        interpreter), and each view takes tens of milliseconds to make: an edit that came
        in meanwhile would wait for them. So the staged build runs in pauses between edits.
        """
        if not self._edited.isValid():
            return 0
        return max(0, QUIET_MS - int(self._edited.elapsed()))

    def _watch_edits(self, doc) -> None:
        if doc is None or self.panel is not None or any(d is doc for d in self._watched):
            return
        self._watched.append(doc)
        for sig in (doc.analysis_changed, doc.nodes_moved, doc.graph_reset):
            sig.connect(self._on_edited)

    def _on_design_changed(self, tab) -> None:
        self._watch_edits(getattr(tab, "doc", None))  # (an edit in another tab counts too)

    def _on_edited(self, *_args) -> None:
        self._edited.start()

    def _open_dropped(self, path: str) -> None:
        """An image dropped on the window: open it in the panel (built if need be)."""
        self.ensure_panel().open_image(path)

    def _first(self, what) -> None:
        """Before the panel exists, an action builds it and does its job once."""
        if self.panel is None:
            what(self.ensure_panel())

    def ensure_panel(self) -> InsidePanel:
        """The panel (built now if it was not yet)."""
        if self.panel is None:
            w = self.window_
            views, self._views = self._views, {}
            panel = InsidePanel(
                w.doc, scene=w.scene, parent=self, actions=self.actions_, views=views
            )
            self._layout.removeWidget(self._placeholder)
            self._placeholder.hide()  # (never drawn over the panel before it is deleted)
            self._placeholder.deleteLater()
            self._layout.addWidget(panel)
            # The dock takes the panel's minimum height now, not at the first notice
            # (which then moved the canvas): every container up to it re-reads its hints.
            up = panel
            while up is not None and up is not w:
                up.updateGeometry()
                up = up.parentWidget()
            panel.status_message.connect(w.statusBar().showMessage)
            self.panel = panel
            self.panel_built.emit(panel)
            if self.live:
                panel.controller.set_live(True)
            if self.autorun:
                panel.run()  # (stops the live timer: one run, not two)
        return self.panel


def install_inside(window, delay_ms: int = 500) -> InsideHost:
    """Add the feature views to a main window: dock tab, toolbar, Run menu, drops, status.

    ``window`` provides ``doc``, ``scene``, ``toolbar``, ``add_inside_view`` and a status
    bar (:class:`widgets.main_window.MainWindow`). The panel is built ``delay_ms`` after
    this call (or on first use); the worker process starts on the first run.
    """
    host = InsideHost(window, delay_ms)
    window.add_inside_view(host, "Feature maps")
    toolbar = getattr(window, "toolbar", None)
    if toolbar is not None:
        toolbar.addSeparator()
        toolbar.addActions(host.actions_.all)
    menu = window.menuBar().addMenu("&Run")
    menu.addActions(host.actions_.all)
    return host
