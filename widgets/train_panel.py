"""Run → Train…: train the open design in the worker process, with live curves; load and save weights.

:class:`TrainController` owns a :class:`~engine.worker.client.WorkerClient` running
:class:`engine.training.job.TrainJob` (a second worker process: the feature worker stays
free for the views) and polls it from a 50 ms timer, reading at most ~4 ms per tick, so
the window never waits on training. :class:`TrainPanel` is the dock: data (``shapes`` or
a folder), a time or step budget, the learning rate and batch, Train / Cancel, a progress
bar, loss and accuracy curves (pyqtgraph) and sparsity by depth, random against trained.
When training ends the document uses the trained weights
(:meth:`designer.document.Document.set_weights`) and the feature views run again.
:func:`widgets.train_host.install_training` adds the dock and the Run menu's Train…, Load weights… and
Save weights… to a main window.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from designer.document import Document
from designer.head import AddHeadCommand
from designer.plaintext import plain_label
from engine.analysis.head import head_plan, head_problem
from engine.core.fileformat import to_dict
from engine.recipes.shapes import CLASSES as SHAPE_CLASSES
from engine.weights.files import weights_meta
from engine.worker.client import Cancelled, Crashed, Failed, Finished, Progress, WorkerClient
from widgets.localisation_table import LocalisationTable
from widgets.plot_theme import legend_label, theme_plot
from widgets.train_state import IDLE_TEXT, TrainState

# pyqtgraph (~0.25 s to import) is imported when the panel is first shown, not at start-up.

TRAIN_JOB = "engine.training.job:TrainJob"
#: Each plot's smallest size: its title ("sparsity by depth"), axes and a curve fit.
#: (the dock scrolls if the window is smaller than all of it: widgets/train_host.py)
#: The default budget: steps (the same on a busy or a quiet machine; the learning rate's
#: cosine schedule spans them). 800 steps of 64 take the Tiny CNN past the README's 97 %
#: held-out accuracy (docs/teaching.md); a time budget stays an option.
DEFAULT_STEPS = 800
DEFAULT_SECONDS = 120
PLOT_MIN_WIDTH = 180
PLOT_MIN_HEIGHT = 120
BLUE = (31, 119, 180)
POLL_MS = 50
#: Niceness added to the training worker: the window wins the CPU whenever it needs it.
NICE = 10
WEIGHT_FILTER = (
    "Weights (*.safetensors *.pt *.pth);;safetensors (*.safetensors);;PyTorch (*.pt *.pth)"
)


def folder_classes(path: str) -> list[str]:
    """The class subfolders of an image folder (sorted, hidden ones left out)."""
    try:
        return sorted(
            p.name for p in Path(path).iterdir() if p.is_dir() and not p.name.startswith(".")
        )
    except OSError:
        return []


class TrainController(QObject):
    """Training, weight loading and saving in a worker process; one request at a time.

    Signals
    -------
    progressed(int, object)   percent, list of step records (``step, loss, acc, …``)
    phase_changed(str)        what the worker is doing (preparing the data, …)
    finished(object)          :class:`~engine.training.loop.TrainResult`
    loaded(object)            :class:`~engine.training.job.WeightsReply`
    saved(str)                path
    failed(str)               a message for the user
    cancelled()
    """

    progressed = Signal(int, object)
    phase_changed = Signal(str)
    finished = Signal(object)
    loaded = Signal(object)
    saved = Signal(str)
    failed = Signal(str)
    cancelled = Signal()

    def __init__(self, parent: QObject | None = None, client: WorkerClient | None = None) -> None:
        super().__init__(parent)
        self.client = (
            client
            if client is not None
            else WorkerClient(
                job=TRAIN_JOB, num_threads=os.cpu_count() or 1, kill_after=0.8, nice=NICE
            )
        )
        self.action: str | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._drain)

    @property
    def busy(self) -> bool:
        """Whether a request is in flight."""
        return self.action is not None and self.client.busy

    def _submit(self, action: str, graph: dict, options: dict) -> int:
        options = dict(options, action=action)
        rid = self.client.submit(graph, None, options, transport="pipe")
        self.action = action
        self._timer.start()
        return rid

    def train(
        self, graph: dict, config: dict, state: dict | None = None, init_path: str | None = None
    ) -> int:
        """Start training ``graph`` (a document dict) with ``config`` (TrainConfig fields).

        ``init_path``: fine-tune from this weights file (read and checked in the worker).
        """
        opts = {"config": dict(config), "state": state}
        if init_path:
            opts["init_path"] = str(init_path)
        return self._submit("train", graph, opts)

    def load(self, graph: dict, path: str) -> int:
        """Read and check a weights file against ``graph``."""
        return self._submit("load", graph, {"path": str(path)})

    def save(self, graph: dict, path: str, state: dict, meta: dict) -> int:
        """Write ``state`` to ``path`` (format by suffix)."""
        return self._submit("save", graph, {"path": str(path), "state": state, "meta": meta})

    def cancel(self) -> None:
        """Stop the request in flight (``cancelled`` follows, within ~1 s)."""
        if self.client.busy:
            self.client.cancel()

    def close(self) -> None:
        """Stop polling and the worker process."""
        self._timer.stop()
        self.client.close()

    def _drain(self) -> None:
        events = self.client.poll(budget=0.004)
        for ev in events:
            if isinstance(ev, Progress):
                if not ev.text.startswith("{"):
                    continue  # the worker's own "layer N of M" messages
                msg = json.loads(ev.text)
                if msg.get("phase"):
                    self.phase_changed.emit(msg["phase"])
                if msg.get("points"):
                    self.progressed.emit(ev.percent, msg["points"])
            elif isinstance(ev, Finished):
                action, self.action = self.action, None
                if action == "train":
                    self.finished.emit(ev.result)
                elif action == "load":
                    self.loaded.emit(ev.result)
                else:
                    self.saved.emit(ev.result.path)
            elif isinstance(ev, Failed):
                self.action = None
                self.failed.emit(ev.message)
            elif isinstance(ev, Cancelled):
                self.action = None
                self.cancelled.emit()
            elif isinstance(ev, Crashed):
                self.action = None
                self.failed.emit(ev.message.replace("inference worker", "training worker"))
        if not self.client.busy:
            self._timer.stop()


def eta_text(point: dict) -> str:
    """``about 1 min 20 s left`` from a progress point (``step``, ``total``, ``elapsed``)."""
    step, total, elapsed = point["step"], point["total"], float(point["elapsed"])
    if step <= 0 or total <= step:
        return "finishing"
    # A time budget's total is its projected step count, so this is its time left, too.
    left = int(round(elapsed / step * (total - step)))
    if left >= 60:
        return f"about {left // 60} min {left % 60:02d} s left"
    return f"about {left} s left"


def _smooth(values: list[float], k: int = 20) -> np.ndarray:
    """Running mean over the last ``k`` values (shorter at the start)."""
    v = np.asarray(values, float)
    if len(v) == 0:
        return v
    c = np.cumsum(np.insert(v, 0, 0.0))
    idx = np.arange(1, len(v) + 1)
    lo = np.maximum(0, idx - k)
    return (c[idx] - c[lo]) / (idx - lo)


class TrainPanel(QWidget):
    """The Train dock's content. ``ask(title, text) -> bool`` asks the user (tests replace it)."""

    status_message = Signal(str)

    def __init__(self, window, host) -> None:  # host: widgets.train_host.TrainHost
        super().__init__(window)
        self.window_ = window
        self.host = host
        self.controller = host.controller
        self.ask = self._ask
        # The shown design's state, and the one a run in flight belongs to (with its doc).
        self.state: TrainState = host.state_for(window.doc)
        self.training_doc: Document | None = None
        self.training_state: TrainState | None = None
        self.extra_config: dict = {}  # further TrainConfig fields (tests: a small shapes pool)
        self._build()
        c = self.controller
        c.progressed.connect(self._on_progress)
        c.phase_changed.connect(self._on_phase)
        c.finished.connect(self._on_finished)
        c.failed.connect(self._on_failed)
        c.cancelled.connect(self._on_cancelled)

    # ------------------------------------------------------------------ layout
    def heightForWidth(self, width: int) -> int:  # noqa: N802 - Qt's name
        """None: the wrapped status line would make the dock's scroll area size the panel
        to its preferred height (plots cut off below a scroll bar); it takes the dock's
        height instead, down to its minimum."""
        return -1

    def _build(self) -> None:
        import pyqtgraph as pg

        self.data_box = QComboBox()
        self.data_box.addItem("shapes (built in, 6 classes)", "shapes")
        self.data_box.addItem("a folder of images…", "folder")
        self.folder_edit = QLineEdit()
        self.folder_edit.setPlaceholderText("folder with one subfolder per class")
        self.browse = QPushButton("Browse…")
        self.browse.clicked.connect(self.choose_folder)
        self.data_box.currentIndexChanged.connect(self._data_changed)
        self.start_box = QComboBox()
        self.start_box.addItem("random weights", "random")
        self.start_box.addItem("a weights file… (fine-tune)", "file")
        self.init_edit = QLineEdit()
        self.init_edit.setPlaceholderText(".safetensors, .pt or .pth (e.g. torchvision's)")
        self.init_browse = QPushButton("Browse…")
        self.init_browse.clicked.connect(self.choose_init_file)
        self.start_box.currentIndexChanged.connect(self._start_changed)
        self.budget_kind = QComboBox()
        self.budget_kind.addItem("seconds", "seconds")
        self.budget_kind.addItem("steps", "steps")
        self.budget = QSpinBox()
        self.budget.setRange(1, 10_000_000)
        self.budget_kind.setCurrentIndex(self.budget_kind.findData("steps"))
        self.budget.setValue(DEFAULT_STEPS)
        self.budget_kind.setToolTip(
            "steps: the same training on any machine (800 reach about 97 % on shapes); "
            "seconds: as many steps as fit in the time"
        )
        self.budget_kind.currentIndexChanged.connect(
            lambda _i: self.budget.setValue(
                DEFAULT_SECONDS if self.budget_kind.currentData() == "seconds" else DEFAULT_STEPS
            )
        )
        self.lr = QDoubleSpinBox()
        self.lr.setDecimals(5)
        self.lr.setRange(1e-5, 1.0)
        self.lr.setSingleStep(0.0005)
        self.lr.setValue(0.003)
        self.batch = QSpinBox()
        self.batch.setRange(1, 4096)
        self.batch.setValue(64)
        self.train_button = QPushButton("Train")
        self.train_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        self.status = plain_label(QLabel(IDLE_TEXT))
        self.status.setWordWrap(True)

        form = QFormLayout()
        data_row = QHBoxLayout()
        data_row.addWidget(self.data_box)
        data_row.addWidget(self.folder_edit, 1)
        data_row.addWidget(self.browse)
        form.addRow("Data", data_row)
        start_row = QHBoxLayout()
        start_row.addWidget(self.start_box)
        start_row.addWidget(self.init_edit, 1)
        start_row.addWidget(self.init_browse)
        form.addRow("Start from", start_row)
        budget_row = QHBoxLayout()
        budget_row.addWidget(self.budget)
        budget_row.addWidget(self.budget_kind)
        budget_row.addWidget(QLabel("learning rate"))
        budget_row.addWidget(self.lr)
        budget_row.addWidget(QLabel("batch"))
        budget_row.addWidget(self.batch)
        budget_row.addStretch(1)
        form.addRow("Budget", budget_row)
        buttons = QHBoxLayout()
        buttons.addWidget(self.train_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.progress, 1)

        self.loss_plot = pg.PlotWidget()
        self.acc_plot = pg.PlotWidget()
        self.sparsity_plot = pg.PlotWidget()
        for plot, title, left in (
            (self.loss_plot, "training loss", "cross-entropy"),
            (self.acc_plot, "accuracy", "fraction right"),
            (self.sparsity_plot, "sparsity by depth", "ReLU zeros (%)"),
        ):
            plot.setMenuEnabled(False)
            plot.setMinimumSize(PLOT_MIN_WIDTH, PLOT_MIN_HEIGHT)  # the title is never cut
            plot.setTitle(title, size="10pt")
            plot.setLabel("left", left)
            plot.showGrid(x=True, y=True, alpha=0.2)
            theme_plot(plot)
        self.loss_plot.setLabel("bottom", "step")
        self.acc_plot.setLabel("bottom", "step")
        self.sparsity_plot.setLabel("bottom", "depth")
        self.acc_plot.setYRange(0, 1)
        self.sparsity_plot.setYRange(0, 100)
        self.loss_raw = self.loss_plot.plot([], [], pen=pg.mkPen((150, 150, 150, 90)))
        self.loss_curve = self.loss_plot.plot([], [], pen=pg.mkPen(BLUE, width=2))
        self.acc_curve = self.acc_plot.plot([], [], pen=pg.mkPen(BLUE, width=2))
        orange, grey, red = (255, 127, 14), (150, 150, 150), (214, 39, 40)
        dots = {"symbol": "o", "symbolSize": 6}
        self.held_curve = self.acc_plot.plot(
            [], [], pen=pg.mkPen(orange, width=2), symbol="o", symbolSize=5, symbolBrush=orange
        )
        self.random_curve = self.sparsity_plot.plot(
            [], [], pen=pg.mkPen(grey, width=2), symbolBrush=grey, **dots
        )
        self.trained_curve = self.sparsity_plot.plot(
            [], [], pen=pg.mkPen(red, width=2), symbolBrush=red, **dots
        )
        # Each legend is a line of text under its plot: inside the plot it covered curves.
        self.legends = {
            "loss": legend_label([("━", (150, 150, 150), "each batch"), ("━", BLUE, "mean of 20")]),
            "accuracy": legend_label([("━", BLUE, "training"), ("━●━", orange, "held-out")]),
            "sparsity": legend_label([("━●━", grey, "random"), ("━●━", red, "trained")]),
        }
        plots = QHBoxLayout()
        for plot, legend in zip(
            (self.loss_plot, self.acc_plot, self.sparsity_plot), self.legends.values()
        ):
            column = QVBoxLayout()
            column.setSpacing(0)
            column.addWidget(plot, 1)
            column.addWidget(legend)
            plots.addLayout(column, 3)
        self.localisation = LocalisationTable()  # filled after training on shapes
        plots.addWidget(self.localisation)

        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addLayout(buttons)
        lay.addWidget(self.status)
        lay.addLayout(plots, 1)
        self._data_changed()
        self._start_changed()
        self.show_state(self.state)

    # ------------------------------------------------------------------ per design
    @property
    def steps(self) -> list[int]:
        """The shown design's training steps (x of the loss and accuracy curves)."""
        return self.state.steps

    @property
    def series(self) -> dict[str, list[tuple[int, float]]]:
        """The shown design's sparsity by depth: ``random`` and ``trained`` series."""
        return self.state.series

    @property
    def last_result(self):
        """The shown design's last training result (``None`` before one finished)."""
        return self.state.last_result

    def show_state(self, state: TrainState) -> None:
        """Show one design's curves, sparsity series, progress and status (a tab switch)."""
        self.state = state
        self.progress.setValue(state.progress)
        busy = self.controller.busy and self.training_state is not None
        if busy and self.training_state is not state:
            name = self.training_doc.model.name if self.training_doc is not None else "?"
            self.status.setText(f"Training '{name}' (its tab shows the curves); wait or cancel.")
        else:
            self.status.setText(state.status)
        self._redraw()
        self._draw_series()
        self.localisation.set_report(getattr(state.last_result, "localisation", None))

    def _data_changed(self, *_a) -> None:
        folder = self.data_box.currentData() == "folder"
        self.folder_edit.setEnabled(folder)
        self.browse.setEnabled(folder)

    def choose_folder(self) -> None:
        """Pick the image folder."""
        path = QFileDialog.getExistingDirectory(self, "Folder of class subfolders")
        if path:
            self.folder_edit.setText(path)
            self.data_box.setCurrentIndex(1)

    def choose_init_file(self) -> None:
        """Pick the weights file to fine-tune from."""
        path, _ = QFileDialog.getOpenFileName(self, "Start from weights", "", WEIGHT_FILTER)
        if path:
            self.init_edit.setText(path)
            self.start_box.setCurrentIndex(1)

    def _start_changed(self, *_args) -> None:
        on = self.start_box.currentData() == "file"
        self.init_edit.setEnabled(on)
        self.init_browse.setEnabled(on)

    def init_path(self) -> str | None:
        """The weights file to start from, ``""`` when one is wanted but not chosen."""
        if self.start_box.currentData() != "file":
            return None
        return self.init_edit.text().strip()

    def _ask(self, title: str, text: str) -> bool:
        answer = QMessageBox.question(self, title, text)
        return answer == QMessageBox.StandardButton.Yes

    def _say(self, text: str, state: TrainState | None = None) -> None:
        state = state if state is not None else self.state
        state.status = text
        if state is self.state:
            self.status.setText(text)
        self.status_message.emit(text)

    def _on_phase(self, text: str) -> None:
        if self.training_state is not None:
            self._say(f"Training worker: {text}…", self.training_state)

    # ------------------------------------------------------------------ train
    @property
    def doc(self) -> Document:
        """The window's current document."""
        return self.window_.doc

    def data_spec(self) -> str | None:
        """``"shapes"`` or the folder path (``None`` and a message when none is chosen)."""
        if self.data_box.currentData() == "shapes":
            return "shapes"
        path = self.folder_edit.text().strip()
        if not path:
            self._say("Choose a folder of images (one subfolder per class) first.")
            return None
        return path

    def ensure_head(self, n_classes: int) -> bool:
        """Check the classifier head; offer to add it (one undoable edit). True if ready."""
        a = self.doc.analysis
        if a.errors:
            self._say(f"Fix the graph first: {a.errors[0][1]}")
            return False
        problem = head_problem(a, n_classes)
        if problem is None:
            return True
        plan = head_plan(a, n_classes)
        out = [n for n in a.order if a.graph.out_degree(n) == 0]
        if plan is None and len(out) == 1 and a.graph.nodes[out[0]]["type"] == "linear":
            # A linear head with the wrong output count: offer to set it (one undoable edit).
            last = out[0]
            if not self.ask(
                "Set the output count?", f"{problem}.\n\nSet '{last}' to {n_classes} outputs?"
            ):
                self._say(f"Cannot train: {problem}.")
                return False
            from designer.commands import SetParamCommand

            self.doc.undo_stack.push(SetParamCommand(self.doc, last, "out_features", n_classes))
            return head_problem(self.doc.analysis, n_classes) is None
        if plan is None:
            self._say(f"Cannot train: {problem}.")
            return False
        after, nodes = plan
        chain = " → ".join(
            {"global_avgpool": "global avg pool", "flatten": "flatten"}.get(
                t, f"linear {n_classes}"
            )
            for t, _ in nodes
        )
        if not self.ask(
            "Add a classifier head?",
            f"Training needs a classifier: {problem}.\n\nAdd {chain} after '{after}'?",
        ):
            self._say(f"Cannot train: {problem}.")
            return False
        self.doc.undo_stack.push(AddHeadCommand(self.doc, after, nodes))
        return head_problem(self.doc.analysis, n_classes) is None

    def config(self, data: str) -> dict:
        """The TrainConfig fields the controls say."""
        kind = self.budget_kind.currentData()
        cfg = {"data": data, "batch": self.batch.value(), "lr": float(self.lr.value())}
        cfg[kind] = float(self.budget.value()) if kind == "seconds" else int(self.budget.value())
        cfg.update(self.extra_config)
        return cfg

    def start(self) -> bool:
        """Check the design and data, then start training in the worker."""
        if self.controller.busy:
            self._say("Training is already running.")
            return False
        data = self.data_spec()
        if data is None:
            return False
        classes = list(SHAPE_CLASSES) if data == "shapes" else folder_classes(data)
        if data != "shapes" and len(classes) < 2:
            self._say(
                f"'{data}' needs at least two class subfolders with images (found {len(classes)})."
            )
            return False
        init = self.init_path()
        if init == "":
            self._say("Choose the weights file to start from first (or start from random weights).")
            return False
        if not self.ensure_head(len(classes)):
            return False
        self.training_doc, self.training_state = self.doc, self.state
        self.state.clear_run()
        self._redraw()
        self.progress.setValue(0)
        self.train_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self._say("Starting the training worker (loading torch)…")
        self.controller.train(to_dict(self.doc.model), self.config(data), init_path=init)
        return True

    def cancel(self) -> None:
        """Stop training; nothing changes in the design."""
        self.controller.cancel()
        self._say("Cancelling…")

    def _on_progress(self, percent: int, points: list) -> None:
        st = self.training_state if self.training_state is not None else self.state
        for p in points:
            st.steps.append(p["step"])
            st.losses.append(p["loss"])
            st.accs.append(p["acc"])
            if "held_out" in p:
                st.held.append((p["step"], p["held_out"]))
        st.progress = percent
        last = points[-1]
        held = f", held-out {st.held[-1][1]:.1%}" if st.held else ""
        st.status = (
            f"Training: step {last['step']} of {last['total']}, loss {last['loss']:.3f}{held}; "
            f"{last['elapsed']:.0f} s, {eta_text(last)}"
        )
        self.status_message.emit(st.status)  # the status bar follows the worker, too
        if st is self.state:
            self.progress.setValue(percent)
            self.status.setText(st.status)
            self._redraw()

    def _redraw(self) -> None:
        st = self.state
        x = np.asarray(st.steps, float)
        self.loss_raw.setData(x, np.asarray(st.losses, float))
        self.loss_curve.setData(x, _smooth(st.losses))
        self.acc_curve.setData(x, _smooth(st.accs))
        if st.held:
            hx, hy = zip(*st.held)
            self.held_curve.setData(np.asarray(hx, float), np.asarray(hy, float))
        else:
            self.held_curve.setData([], [])

    def _done(self) -> tuple[Document, TrainState]:
        """The run is over: the buttons are back; returns the run's document and state."""
        self.train_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        doc = self.training_doc if self.training_doc is not None else self.doc
        st = self.training_state if self.training_state is not None else self.state
        self.training_doc = self.training_state = None
        if st is not self.state:
            self.status.setText(self.state.status)
        return doc, st

    def _on_finished(self, result) -> None:
        doc, st = self._done()
        st.last_result = result
        st.progress = 100
        if st is self.state:
            self.progress.setValue(100)
        name = "shapes" if result.data_name == "shapes" else Path(result.data_name).name
        acc = result.accuracy
        origin = f"trained on {name}, {acc:.1%}" if not math.isnan(acc) else f"trained on {name}"
        meta = weights_meta(result)
        doc.set_weights(result.state, "trained", origin, meta)
        skipped = f"; {result.skipped} unreadable image(s) skipped" if result.skipped else ""
        self._say(
            f"Trained {result.steps} steps in {result.seconds:.0f} s "
            f"({result.samples_per_second:.0f} images/s): held-out accuracy {acc:.1%}{skipped}.",
            st,
        )
        if st is self.state:
            self.localisation.set_report(getattr(result, "localisation", None))
        self.host.rerun(doc)

    def _on_failed(self, message: str) -> None:
        _doc, st = self._done()
        self._say(f"Training failed: {message}", st)

    def _on_cancelled(self) -> None:
        _doc, st = self._done()
        self._say("Training cancelled; the weights in use did not change.", st)

    # ------------------------------------------------------------------ sparsity by depth
    def record_result(self, result, doc: Document | None = None) -> None:
        """Keep a feature run of ``doc`` (default: the shown design) as its random or trained
        ReLU sparsity-by-depth series; redraw if that design is shown."""
        doc = doc if doc is not None else self.doc
        st = self.host.state_for(doc)
        record_sparsity(st, result, doc.weights.kind)
        if st is self.state:
            self._draw_series()

    def _draw_series(self) -> None:
        for key, curve in (("random", self.random_curve), ("trained", self.trained_curve)):
            data = self.state.series.get(key) or []
            curve.setData([p[0] for p in data], [p[1] for p in data])


def record_sparsity(state: TrainState, result, weights_kind: str) -> None:
    """Store a feature run's ReLU sparsity by depth in ``state`` (random or trained series)."""
    nodes = [n for n in result.order if result.types.get(n) == "relu"] or list(result.order)
    pts = [(result.depth[n], 100.0 * result.stats[n].sparsity) for n in nodes if n in result.stats]
    state.series["random" if weights_kind == "random" else "trained"] = pts
