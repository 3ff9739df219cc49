""" "See inside": the image, the run controls and every view of one forward pass, in one widget.

The main window adds :class:`InsidePanel` as a dock and puts :attr:`InsidePanel.toolbar_actions`
(Run, Live, Cancel, Open image) on its toolbar; :meth:`InsidePanel.install_drop_target`
lets image files be dropped anywhere on the window, and :attr:`InsidePanel.status_message`
goes to the status bar (failures, crashes, timings).

Under the run controls a notice band of two wrapped lines (always held, so it never
resizes the panel) says what the user must know about the maps shown: that they are
stale (dimmed, naming the edit since the run), which nodes a partial run left out and
why, or why a run was refused. The weights in use are named above the
maps (:meth:`InsidePanel.set_weights_text`).
"""

from __future__ import annotations

import importlib
import math
from pathlib import Path

import numpy as np
import shiboken6
from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QColor, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from designer.document import Document
from designer.plaintext import plain_label
from designer.plaintext import tip as plain_tip
from widgets.flow_layout import FlowLayout
from widgets.image_panel import ImagePanel, image_path_from_mime
from widgets.plot_theme import status_colors
from widgets.run_controller import SAMPLE_IMAGE, RunController, blocker

# The views import pyqtgraph (~0.25 s): InsidePanel imports them when it is built, and
# widgets.inside_host builds it after the window is shown, so start-up does not pay for it.

TINT_NONE, TINT_SPARSITY, TINT_RF = "none", "sparsity", "rf"
TINT_MAP = "viridis"
STAGE_MS = 2  # pause between the stages of showing a result
STALE_OPACITY = 0.35  # of the views while they show maps of an older graph


def _colors(values: dict[str, float], lo: float, hi: float) -> dict[str, QColor]:
    import pyqtgraph as pg

    cmap = pg.colormap.get(TINT_MAP)
    span = hi - lo if hi > lo else 1.0
    keys = list(values)
    if not keys:
        return {}
    pos = np.clip((np.array([values[k] for k in keys]) - lo) / span, 0.0, 1.0)
    qcolors = cmap.mapToQColor(pos)
    return {k: QColor(c) for k, c in zip(keys, qcolors)}


def sparsity_tint(result) -> tuple[dict[str, QColor], str]:
    """Node colours by the fraction of zeros in the output, and the legend text."""
    values = {n: result.stats[n].sparsity for n in result.order if n in result.stats}
    return _colors(values, 0.0, 1.0), "colour = zeros in the output: 0% (purple) → 100% (yellow)"


def rf_tint(analysis) -> tuple[dict[str, QColor], str]:
    """Node colours by receptive-field size (log scale, up to the input size)."""
    sizes = {}
    for n in analysis.order:
        r = analysis.nodes[n]
        if r.rf is not None:
            sizes[n] = max(r.rf[0][0], r.rf[1][0])
    if not sizes:
        return {}, "no receptive fields"
    top = max(sizes.values())
    values = {n: math.log(s) for n, s in sizes.items()}
    return (
        _colors(values, 0.0, math.log(top) if top > 1 else 1.0),
        f"colour = receptive field: 1 px (purple) → {top} px (yellow), log scale",
    )


class InsideActions(QObject):
    """Run, Live, Cancel and Open image: plain actions, cheap to make before the panel exists."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.run = QAction("Run", self)
        self.run.setShortcut(QKeySequence("F5"))
        self.run.setToolTip("Run the image through the network (F5)")
        self.live = QAction("Live", self)
        self.live.setCheckable(True)
        self.live.setToolTip("Rerun 300 ms after every edit")
        self.cancel = QAction("Cancel", self)
        self.cancel.setShortcut(QKeySequence("Shift+F5"))
        self.cancel.setToolTip("Stop the run in progress (Shift+F5)")
        self.cancel.setEnabled(False)
        self.open_image = QAction("Open image…", self)
        self.open_image.setToolTip("Choose the photo to run (or drop one on the window)")
        self.all = [self.run, self.live, self.cancel, self.open_image]


class ImageDropFilter(QObject):
    """Accepts image files dropped on a widget and hands each path to ``open_image``."""

    def __init__(self, parent: QObject, open_image) -> None:
        super().__init__(parent)
        self.open_image = open_image

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt API)
        t = event.type()
        if t in (QEvent.Type.DragEnter, QEvent.Type.DragMove):
            if image_path_from_mime(event.mimeData()) is not None:
                event.acceptProposedAction()
                return True
        elif t == QEvent.Type.Drop:
            path = image_path_from_mime(event.mimeData())
            if path is not None:
                self.open_image(path)
                event.acceptProposedAction()
                return True
        return False


class InsidePanel(QWidget):
    """Run the network on an image and look at what every node produced.

    Signals
    -------
    status_message(str, int)   text and milliseconds, for the status bar
    result_shown(object)       every view shows this FeatureResult
    """

    status_message = Signal(str, int)
    result_shown = Signal(object)

    def __init__(
        self,
        document: Document,
        scene=None,
        controller: RunController | None = None,
        parent: QWidget | None = None,
        actions: InsideActions | None = None,
        views: dict | None = None,
    ) -> None:
        super().__init__(parent)
        self.document = document
        self.scene = scene
        self.controller = controller if controller is not None else RunController(document, self)
        # Every run also traces where the network looked (all localisation methods).
        self.controller.options.setdefault("localise", True)
        self.result = None
        self.node: str | None = None
        self.tint: dict[str, QColor] | None = None

        self.image_panel = ImagePanel()
        self.image_panel.set_image(SAMPLE_IMAGE, emit=False)
        self.image_panel.set_compact(True)  # the photo is in the RF view; Open image on the toolbar
        self.run_button = QPushButton("Run")
        self.live_box = QCheckBox("Live")
        self.live_box.setToolTip("Rerun 300 ms after every edit")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setFixedWidth(90)
        self.progress.setTextVisible(True)
        self.status = plain_label(QLabel("Ready."))
        self.status.setMinimumWidth(80)
        # A long status never widens the dock: the notice line below carries long text.
        self.status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.notice = plain_label(QLabel())
        self.notice.setWordWrap(True)
        self.notice.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.notice.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        # Two lines, always held (shown or not): a notice coming or going never resizes
        # the panel, so the canvas above never jumps (the full text is in its tooltip).
        self.notice.setFixedHeight(round(2 * self.notice.fontMetrics().lineSpacing()) + 2)
        keep = self.notice.sizePolicy()
        keep.setRetainSizeWhenHidden(True)
        self.notice.setSizePolicy(keep)
        self.notice.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.notice.hide()
        self.refused: str | None = None  # the last refusal, until a run is sent
        self.stale = False  # whether the views show maps of an older graph
        self.tint_box = QComboBox()
        self.tint_box.addItem("Nodes: plain", TINT_NONE)
        self.tint_box.addItem("Nodes: sparsity", TINT_SPARSITY)
        self.tint_box.addItem("Nodes: receptive field", TINT_RF)
        self.tint_box.setToolTip(
            "Colour the canvas nodes by their output's sparsity or by their receptive-field size"
        )

        # The views, made now or already made one by one (InsideHost builds them in stages).
        views = dict(views or {})
        for key, make in view_makers(scene):
            setattr(self, key, views.pop(key, None) or make())
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.sparsity, "Sparsity by depth")
        self.tabs.addTab(self.hist, "Histograms")
        # Side by side: the maps | where on the image | statistics by depth.
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setChildrenCollapsible(False)
        # Each view keeps a readable minimum (the dock never crushes the image or the plot).
        for w, stretch, least in ((self.grid, 5, 150), (self.rf, 3, 130), (self.tabs, 4, 180)):
            w.setMinimumWidth(least)
            self.splitter.addWidget(w)
            self.splitter.setStretchFactor(self.splitter.count() - 1, stretch)
        self.splitter.setSizes([500, 300, 400])

        row = FlowLayout(spacing=6)  # wraps onto two rows in a narrow window
        row.addWidget(self.run_button)
        row.addWidget(self.live_box)
        row.addWidget(self.cancel_button)
        row.addWidget(self.progress)
        row.addWidget(self.status, 1)
        row.addWidget(self.image_panel)
        row.addWidget(self.tint_box)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 4, 6, 4)
        lay.setSpacing(4)
        lay.addLayout(row)
        lay.addWidget(self.notice)
        lay.addWidget(self.splitter, 1)

        self._make_actions(actions if actions is not None else InsideActions(self))
        self._connect()

    # ------------------------------------------------------------------ wiring
    def _make_actions(self, actions: InsideActions) -> None:
        self.run_action = actions.run
        self.live_action = actions.live
        self.cancel_action = actions.cancel
        self.open_image_action = actions.open_image
        self.toolbar_actions = actions.all
        self.run_action.triggered.connect(self.run)
        self.live_action.toggled.connect(self.controller.set_live)
        self.cancel_action.triggered.connect(self.controller.cancel)
        self.open_image_action.triggered.connect(self.image_panel.choose)

    def _connect(self) -> None:
        c = self.controller
        self.run_button.clicked.connect(self.run)
        self.cancel_button.clicked.connect(c.cancel)
        self.live_box.toggled.connect(c.set_live)
        c.live_changed.connect(self._on_live)
        c.run_started.connect(self._on_started)
        c.run_progressed.connect(self._on_progress)
        c.run_finished.connect(self.show_result)
        c.run_failed.connect(self._on_failed)
        c.run_cancelled.connect(self._on_cancelled)
        self.image_panel.image_changed.connect(self._on_image)
        self.image_panel.options_changed.connect(lambda o: c.set_options(**o))
        c.set_options(**self.image_panel.options())
        self.grid.pixel_hovered.connect(self.rf.hover)
        self.grid.channel_clicked.connect(self._on_channel)
        self.sparsity.node_clicked.connect(self.select_node)
        self.tint_box.currentIndexChanged.connect(self.apply_tint)
        self.grid.reason_for = self.why_missing
        self.grid.blocked_for = self.why_blocked
        self.document.analysis_changed.connect(self._on_analysis)
        self.document.graph_reset.connect(self._on_reset)
        self.document.node_removed.connect(self._on_node_removed)
        self.document.node_renamed.connect(self._on_node_renamed)
        for sig in (
            self.document.node_added,
            self.document.edge_added,
            self.document.edge_removed,
            self.document.params_changed,
            self.document.graph_reset,
            self.document.undo_stack.indexChanged,  # the controller names the edit first
        ):
            sig.connect(self._after_edit)
        if self.scene is not None and hasattr(self.scene, "selection_changed_nodes"):
            self.scene.selection_changed_nodes.connect(self._on_scene_selection)
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(c.close)

    def install_drop_target(self, widget: QWidget) -> None:
        """Let image files dropped on ``widget`` (e.g. the main window) become the image."""
        widget.setAcceptDrops(True)
        self._drop_filter = ImageDropFilter(self, self.open_image)
        widget.installEventFilter(self._drop_filter)

    # ------------------------------------------------------------------ actions
    def run(self) -> int | None:
        """Run the current graph on the current image."""
        return self.controller.run()

    def open_image(self, path: str | Path) -> None:
        """Use the image at ``path`` (and rerun when live)."""
        self.image_panel.set_image(path)

    def set_weights_text(self, text: str) -> None:
        """Name the weights the maps come from, e.g. ``trained on shapes, 97.3%``."""
        self.grid.set_weights_text(text)
        self.hist.note.setText(f"Weights: {text}.")

    @property
    def weights_text(self) -> str:
        """The weights named next to the maps."""
        return self.grid.weights_text

    def select_node(self, node: str | None) -> None:
        """Show ``node`` in the grid, histograms, sparsity ring and localisation box."""
        self.node = node
        if node is None:
            return
        self.grid.set_node(node)
        if self.result is None or node not in self.result.maps:
            return  # the grid says why; the other views keep the node they show
        self.hist.set_node(node)
        self.sparsity.select(node)
        self.rf.show_node(node)

    def why_blocked(self, node: str) -> str | None:
        """Why ``node`` shows no maps even if an older run has some: it has no output now."""
        if node not in self.document.model:
            return f"'{node}' was deleted: select a node to see its maps."
        r = self.document.analysis.nodes.get(node)
        if r is not None and not r.ok:
            return f"'{node}' has no output, so no maps: {blocker(self.document.analysis, node)}"
        return None

    def why_missing(self, node: str) -> str:
        """Why the newest result has no maps of ``node`` (and what will bring them)."""
        blocked = self.why_blocked(node)
        if blocked:
            return blocked
        c = self.controller
        if c.busy:
            return f"'{node}' is new since the last run: running now…"
        if c.live:
            return f"'{node}' is new since the last run: it runs in a moment (Live)."
        return f"'{node}' is not in the last run: press Run (F5) to see it."

    def update_notice(self) -> None:
        """Dim stale maps and say why; name what a partial run left out; or a refusal."""
        if not shiboken6.isValid(self.notice) or not shiboken6.isValid(self.grid.plot):
            return  # the panel is being deleted while the document still talks
        result = self.result
        stale = self.controller.stale_reason(result) if result is not None else None
        parts = []
        if self.refused:
            parts.append(self.refused)
        if stale is not None:
            again = (
                "running again…"
                if self.controller.busy
                else "Live reruns in a moment."
                if self.controller.live_pending
                else "press Run (F5) to update them."
            )
            parts.append(f"Stale: these maps are from before the last edit ({stale}); {again}")
        left = result.extra.get("left_out", []) if result is not None else []
        if left:
            n_all = len(left) + len(result.order)
            names = "; ".join(f"'{n}': {why}" for n, why in left[:3])
            more = f"; and {len(left) - 3} more" if len(left) > 3 else ""
            parts.append(
                f"Ran the valid part ({len(result.order)} of {n_all} nodes). Left out {names}{more}"
            )
        for view in (self.grid, self.sparsity, self.rf, self.hist):
            plots = [view.plot] if hasattr(view, "plot") else []
            plots += [getattr(view, a) for a in ("act_plot", "weight_plot") if hasattr(view, a)]
            for plot in plots:
                item = plot.getPlotItem() if shiboken6.isValid(plot) else None
                if item is not None and shiboken6.isValid(item):
                    item.setOpacity(STALE_OPACITY if stale else 1.0)
        self.stale = stale is not None
        if parts:
            bad = self.refused is not None or stale is not None
            color = status_colors(self.palette())[2 if not self.refused else 1] if bad else None
            self.notice.setStyleSheet(f"color: {color};" if color else "")
            self.notice.setText("\n".join(parts))
            self.notice.setToolTip("\n".join(parts))
            self.notice.show()
        else:
            self.notice.hide()
            self.notice.setText("")

    # ------------------------------------------------------------------ slots
    def _on_scene_selection(self, nodes) -> None:
        nodes = list(nodes)
        if len(nodes) == 1:
            self.select_node(nodes[0])

    def _after_edit(self, *_args) -> None:
        self.grid.refresh_reason()
        self.update_notice()

    def _on_node_removed(self, node: str) -> None:
        if self.node == node:
            self.node = None
        if self.grid.wanted == node:
            self.grid.set_node(None)
        self._after_edit()

    def _on_node_renamed(self, old: str, new: str) -> None:
        if self.node == old:
            self.node = new
        if self.grid.wanted == old:
            self.grid.set_node(new)
        self._after_edit()

    def _on_image(self, path: str) -> None:
        self.controller.set_image(path)
        self.status.setText(f"Image: {Path(path).name}. Press Run.")

    def _on_live(self, on: bool) -> None:
        for w in (self.live_box, self.live_action):
            w.blockSignals(True)
            w.setChecked(on)
            w.blockSignals(False)

    def _on_started(self, rid: int) -> None:
        self.progress.setValue(0)
        self.cancel_button.setEnabled(True)
        self.cancel_action.setEnabled(True)
        self.status.setText(f"Running (request {rid})…")
        self.refused = None
        self.grid.refresh_reason()
        self.update_notice()

    def _on_progress(self, percent: int, text: str) -> None:
        self.progress.setValue(percent)
        self.status.setText(text)

    def _idle(self) -> None:
        busy = self.controller.busy
        self.cancel_button.setEnabled(busy)
        self.cancel_action.setEnabled(busy)

    def _on_failed(self, message: str) -> None:
        self._idle()
        self.progress.setValue(0)
        line = " ".join(part.strip(" -") for part in message.splitlines() if part.strip())
        self.status.setText("Run refused." if message.startswith("Cannot") else "Run failed.")
        self.status.setToolTip(plain_tip(message))
        self.refused = line
        self.update_notice()
        self.status_message.emit(line, 10000)

    def _on_cancelled(self, rid: int) -> None:
        self._idle()
        self.progress.setValue(0)
        self.status.setText("Cancelled.")
        self.status_message.emit("Run cancelled.", 3000)

    def _on_channel(self, node: str, channel: int) -> None:
        self.rf.show_node(node, channel if channel >= 0 else None)

    def _on_reset(self) -> None:
        # Another design: the node shown and the last run's sparsity belong to the old one.
        self.node = None
        if self.grid.wanted is not None and self.grid.wanted not in self.document.model:
            self.grid.set_node(None)
        if (
            self.tint_box.currentData() == TINT_SPARSITY
            and self.scene is not None
            and hasattr(self.scene, "set_node_tint")
        ):
            self.tint = None
            self.scene.set_node_tint(None, "")

    def _on_analysis(self, _changed) -> None:
        if self.tint_box.currentData() == TINT_RF:
            self.apply_tint()

    def show_result(self, result) -> None:
        """Show a finished run in every view.

        The grid and the image come first; the sparsity plot, then the histograms and the
        canvas tint follow on short timers (not zero-time posts, which Qt would run back to
        back with the paints), so that input and other timers get a turn in between and
        no single step holds the window for long. ``result_shown`` follows.
        """
        self._idle()
        self.result = result
        self.refused = None
        self.progress.setValue(100)
        if self.node is not None and self.node not in self.document.model:
            self.node = None
        if self.grid.wanted is not None and self.grid.wanted not in self.document.model:
            self.grid.wanted = None  # (another design was loaded since it was chosen)
        if self.node is not None:
            self.grid.wanted = self.node
        self.grid.set_result(result)
        node = self.node if self.node is not None else self.grid.node
        self.node = node
        self._select_default(node)
        self.rf.class_names = self._class_names()
        self.rf.set_result(result)
        if node in result.maps and result.box is not None and node != result.box.node:
            self.rf.show_node(node)
        latency = result.extra.get("latency")
        text = f"Forward pass {1000 * result.seconds:.0f} ms"
        if latency is not None:
            text += f", result here {1000 * latency:.0f} ms after Run"
        notice = result.extra.get("notice")  # e.g. the maps came through the pipe: why
        text = f"{text}. {notice}" if notice else text + "."
        self.status.setText(f"Done: {1000 * result.seconds:.0f} ms")
        self.status.setToolTip(plain_tip(text))
        self.status_message.emit(text, 15000 if notice else 5000)
        self.update_notice()
        QTimer.singleShot(STAGE_MS, lambda: self._show_sparsity(result))

    def _class_names(self) -> list[str]:
        """The class names the weights in use list (trained or loaded), else none."""
        import json

        meta = getattr(getattr(self.document, "weights", None), "meta", None) or {}
        try:
            names = json.loads(meta.get("classes") or "null")
        except (TypeError, ValueError):
            return []
        return [str(n) for n in names] if isinstance(names, list) else []

    def _select_default(self, node: str | None) -> None:
        """With nothing selected on the canvas, select the node the views show.

        After the first run that is the last spatial node (the localisation box's), so
        the inspector and the maps describe the same node from the start.
        """
        scene = self.scene
        if node is None or scene is None or not hasattr(scene, "selected_nodes"):
            return
        if not scene.selected_nodes():
            scene.select_nodes([node])

    def _show_sparsity(self, result) -> None:
        if self.result is not result:
            return  # a newer result took over
        self.sparsity.set_result(result)
        self.sparsity.select(self.node)
        QTimer.singleShot(STAGE_MS, lambda: self._show_rest(result))

    def _show_rest(self, result) -> None:
        if self.result is not result:
            return
        self.hist.set_result(result)
        self.hist.set_node(self.node)
        if self.tint_box.currentData() == TINT_SPARSITY:
            self.apply_tint()
        self.result_shown.emit(result)

    def apply_tint(self, *_args) -> None:
        """Colour the canvas nodes by the chosen measure (or clear the colours)."""
        mode = self.tint_box.currentData()
        if mode == TINT_SPARSITY and self.result is not None:
            tint, legend = sparsity_tint(self.result)
        elif mode == TINT_RF:
            tint, legend = rf_tint(self.document.analysis)
        else:
            tint, legend = None, ""
        self.tint = tint
        if self.scene is not None and hasattr(self.scene, "set_node_tint"):
            self.scene.set_node_tint(tint, legend)

    def close_worker(self) -> None:
        """Stop the worker process."""
        self.controller.close()


def view_makers(scene) -> list[tuple[str, object]]:
    """The panel's views, each a ``(attribute, maker)``: the feature grid, sparsity by
    depth, the receptive-field view and the histograms (pyqtgraph plots, each some tens of
    milliseconds to make)."""
    from widgets.feature_grid import FeatureGrid
    from widgets.histograms import Histograms
    from widgets.rf_view import RFView
    from widgets.sparsity_plot import SparsityPlot

    return [
        ("grid", FeatureGrid),
        ("sparsity", lambda: SparsityPlot(scene=scene)),
        ("rf", RFView),
        ("hist", Histograms),
    ]


#: Imported off the window's thread before the views are made (pure Python, ~0.3 s).
VIEW_MODULES = (
    "pyqtgraph",
    "widgets.feature_grid",
    "widgets.histograms",
    "widgets.rf_view",
    "widgets.sparsity_plot",
)


def _import_views() -> None:
    """Import :data:`VIEW_MODULES`; a failure is left for the window's own import to report."""
    try:
        for name in VIEW_MODULES:
            importlib.import_module(name)
    except Exception:  # noqa: BLE001 - reported by the import on the window's thread
        pass
