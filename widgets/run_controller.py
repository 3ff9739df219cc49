"""Runs the document's network on an image in the worker process, without blocking the window.

:class:`RunController` owns one :class:`engine.worker.client.WorkerClient`. It sends the current
graph, image and preprocessing options; it reads the worker's replies when the pipe
becomes readable (a ``QSocketNotifier``) and every 100 ms while a run is in flight (to
notice a dead worker and enforce the cancel timeout), never blocking for more than a few
milliseconds. In live mode it reruns 300 ms after the last ``analysis_changed``.

While the graph has errors (the normal state while building) a run takes the valid
part: every node with an output (their ancestors all have one too), so one unwired
node does not block the maps of the rest. Every document change bumps
:attr:`RunController.revision`; a result carries the revision it was sent at, and
:meth:`RunController.stale_reason` names the edit made since.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QSocketNotifier, QTimer, Signal

from designer.document import Document
from engine.analysis.analyzer import analyze
from engine.core.fileformat import to_dict
from engine.core.graph import GraphModel
from engine.worker.client import Cancelled, Crashed, Failed, Finished, Progress, WorkerClient

LIVE_DELAY_MS = 300
RESET_EDIT = "another design was loaded"
SAMPLE_IMAGE = Path(__file__).resolve().parent.parent / "resources" / "sample.png"


class RunController(QObject):
    """Run / cancel / live mode for the feature views.

    Signals
    -------
    run_started(int)            request id
    run_progressed(int, str)    percent, what the worker is doing
    run_finished(object)        the :class:`~engine.runtime.feature_types.FeatureResult`; its
                                ``extra`` holds ``analysis`` (the graph's analysis when
                                the run was sent), ``request``, ``latency`` (seconds
                                from :meth:`run` to the result arriving), ``revision``
                                (:attr:`revision` when sent) and ``left_out`` (the
                                ``(node, reason)`` pairs a partial run left out)
    run_failed(str)             a message for the status bar (errors, crashes)
    run_cancelled(int)          request id
    live_changed(bool)
    """

    run_started = Signal(int)
    run_progressed = Signal(int, str)
    run_finished = Signal(object)
    run_failed = Signal(str)
    run_cancelled = Signal(int)
    live_changed = Signal(bool)

    def __init__(
        self, document: Document, parent: QObject | None = None, client: WorkerClient | None = None
    ) -> None:
        super().__init__(parent)
        self.document = document
        self.client = client if client is not None else WorkerClient()
        self.image: Any = str(SAMPLE_IMAGE)
        self.options: dict = {"mode": "resize", "normalize": "imagenet"}
        self.node: str | None = None
        self.channel: int | None = None
        self._live = False
        self._notifier: QSocketNotifier | None = None
        self._notifier_fd: int | None = None
        self._sent: dict[int, tuple[float, Any]] = {}
        self.last_result = None
        self.revision = 0  # bumped by every change of the document's graph
        self.last_edit = ""  # what the newest change was (an undo-stack text)
        self.left_out: list[tuple[str, str]] = []  # of the last run sent
        self._poll_timer = QTimer(self)
        self._poll_timer.setInterval(100)
        self._poll_timer.timeout.connect(self._drain)
        self._live_timer = QTimer(self)
        self._live_timer.setSingleShot(True)
        self._live_timer.setInterval(LIVE_DELAY_MS)
        self._live_timer.timeout.connect(self._live_run)
        document.analysis_changed.connect(self._on_changed)
        document.graph_reset.connect(self._on_changed)
        for sig in (
            document.node_added,
            document.node_removed,
            document.edge_added,
            document.edge_removed,
            document.params_changed,
            document.node_renamed,
        ):
            sig.connect(self._bump)
        document.graph_reset.connect(self._on_reset)
        self._undo_index = document.undo_stack.index()
        document.undo_stack.indexChanged.connect(self._on_undo_index)

    # ------------------------------------------------------------------ state
    @property
    def busy(self) -> bool:
        """Whether a run is in flight."""
        return self.client.busy

    @property
    def live(self) -> bool:
        """Whether edits rerun the network (debounced)."""
        return self._live

    def set_live(self, on: bool) -> None:
        """Turn live mode on or off (turning it on runs once)."""
        on = bool(on)
        if on == self._live:
            return
        self._live = on
        self.live_changed.emit(on)
        if on:
            self._live_timer.start()
        else:
            self._live_timer.stop()

    def set_image(self, image: Any) -> None:
        """Use ``image`` (a path or a uint8 array) for the next runs."""
        self.image = str(image) if isinstance(image, Path) else image
        if self._live:
            self._live_timer.start()

    def set_options(self, **options) -> None:
        """Change preprocessing options (``mode``, ``normalize``)."""
        self.options.update(options)
        if self._live:
            self._live_timer.start()

    def warm_up(self) -> None:
        """Start the worker now so that it has loaded torch by the first run."""
        self.client.start()
        self._watch()

    # ------------------------------------------------------------------ actions
    def run(self) -> int | None:
        """Send the current graph (or its valid part) and image; supersedes a run in flight.

        Returns the request id, or ``None`` when nothing can run (``run_failed`` says why).
        """
        self._live_timer.stop()
        model = self.document.model
        if len(model) == 0:
            self.run_failed.emit("Nothing to run: the graph is empty.")
            return None
        analysis = self.document.analysis
        left_out = [(n, blocker(analysis, n)) for n in model.nodes if not analysis.nodes[n].ok]
        if left_out:
            model = valid_part(model, analysis)
            if model is None:
                errors = analysis.errors
                lines = "\n".join(f"  - {m}" for _, m in errors[:5])
                more = f"\n  … and {len(errors) - 5} more" if len(errors) > 5 else ""
                self.run_failed.emit(
                    f"Cannot run: no node has an output yet; {len(errors)} error(s):\n{lines}{more}"
                )
                return None
        doc = to_dict(model)
        snapshot = analyze(model.snapshot())  # not model.copy(): a deep copy stalled edits
        node = self.node if self.node in snapshot.nodes else None
        starting = not self.client.alive()
        t0 = time.perf_counter()
        options = dict(self.options)
        weights = getattr(self.document, "weights", None)
        if weights is not None and weights.kind != "random":
            # Trained/loaded tensors (exported-code keys) go through a file written once per
            # version (a big pipe write would block the window); a new key rebuilds the model.
            from engine.weights.files import handover_file

            owner = f"{id(weights):x}"
            options["state_file"] = handover_file(weights.state(model), owner, weights.version)
            options["state_key"] = f"{owner}:{weights.version}"
        rid = self.client.submit(
            doc, self.image, options, node=node, channel=self.channel if node else None
        )
        self.left_out = left_out
        self._sent = {rid: (t0, snapshot, self.revision, left_out)}
        self._watch()
        self._poll_timer.start()
        self.run_started.emit(rid)
        if starting:
            self.run_progressed.emit(1, "starting the inference worker (loading torch)…")
        return rid

    def cancel(self) -> int | None:
        """Cancel the run in flight (``run_cancelled`` follows)."""
        rid = self.client.cancel()
        if rid is not None:
            self.run_progressed.emit(0, "cancelling…")
        return rid

    def close(self, stop_worker: bool = True) -> None:
        """Stop listening and (unless ``stop_worker`` is false) stop the worker process."""
        for timer in (self._live_timer, self._poll_timer):
            if shiboken6.isValid(timer):  # (at exit it may have gone with its window)
                timer.stop()
        self._unwatch()
        if stop_worker:
            self.client.close()

    # ------------------------------------------------------------------ internals
    @property
    def live_pending(self) -> bool:
        """Whether a live rerun is scheduled (never, once the timer is gone with its window)."""
        return shiboken6.isValid(self._live_timer) and self._live_timer.isActive()

    def is_stale(self, result) -> bool:
        """Whether the graph changed since ``result`` was sent."""
        return result is not None and result.extra.get("revision", -1) != self.revision

    def stale_reason(self, result) -> str | None:
        """What changed since ``result`` was sent (``None``: it shows the current graph)."""
        if not self.is_stale(result):
            return None
        return self.last_edit or "the graph changed"

    def _bump(self, *_args) -> None:
        self.revision += 1

    def _on_reset(self) -> None:
        self.last_edit = RESET_EDIT

    def _on_undo_index(self, index: int) -> None:
        stack = self.document.undo_stack
        if not shiboken6.isValid(stack):  # emitted while the document is deleted
            return
        before, self._undo_index = self._undo_index, index
        if index > before:
            self.last_edit = stack.text(index - 1)
        elif index < before:
            self.last_edit = f"undo of {stack.text(index)}"

    def _on_changed(self, *_args) -> None:
        self._bump()
        if self._live:
            self._live_timer.start()  # restarts: 300 ms after the last change

    def _live_run(self) -> None:
        analysis = self.document.analysis
        if not analysis.order or not any(r.ok for r in analysis.nodes.values()):
            return  # nothing has an output: the panel says what blocks it
        self.run()

    def _watch(self) -> None:
        fd = self.client.fileno()
        if fd == self._notifier_fd:
            return
        self._unwatch()
        if fd is None:
            return
        self._notifier = QSocketNotifier(fd, QSocketNotifier.Type.Read, self)
        self._notifier.activated.connect(self._drain)
        self._notifier_fd = fd

    def _unwatch(self) -> None:
        if self._notifier is not None:
            self._notifier.setEnabled(False)
            self._notifier.deleteLater()
        self._notifier = None
        self._notifier_fd = None

    def _drain(self, *_args) -> None:
        events = self.client.poll(budget=0.004)
        if self.client.fileno() != self._notifier_fd:
            self._unwatch()  # the worker died or was replaced: its pipe is gone
            self._watch()
        for ev in events:
            if isinstance(ev, Progress):
                self.run_progressed.emit(ev.percent, ev.text)
            elif isinstance(ev, Finished):
                t0, snapshot, revision, left_out = self._sent.pop(ev.id, (None, None, -1, []))
                result = ev.result
                result.extra["analysis"] = snapshot
                result.extra["revision"] = revision
                result.extra["left_out"] = left_out
                result.extra["request"] = ev.id
                result.extra["transfer"] = ev.transfer
                if t0 is not None:
                    result.extra["latency"] = time.perf_counter() - t0
                self.last_result = result
                self.run_finished.emit(result)
            elif isinstance(ev, Failed):
                self._sent.pop(ev.id, None)
                self.run_failed.emit(f"Run failed: {ev.message}")
            elif isinstance(ev, Cancelled):
                self._sent.pop(ev.id, None)
                self.run_cancelled.emit(ev.id)
            elif isinstance(ev, Crashed):
                self._sent.clear()
                self.run_failed.emit(ev.message)
        if not self.client.busy:
            self._poll_timer.stop()


def blocker(analysis, node: str) -> str:
    """Why ``node`` has no output: its own error, or the broken node it waits on."""
    r = analysis.nodes.get(node)
    if r is None:
        return f"'{node}' is not in the graph"
    if r.error:
        return r.error
    if r.waiting_on:
        return f"'{node}' waits on '{r.waiting_on}', which has an error"
    return ""


def valid_part(model: GraphModel, analysis) -> GraphModel | None:
    """A copy of ``model`` without the nodes that have no output (``None``: nothing left).

    Every ancestor of a node with an output has one too, so what is left is a valid graph.
    """
    part = model.copy()
    for n in model.nodes:
        if not analysis.nodes[n].ok:
            part.remove_node(n)
    return part if len(part) else None
