"""Inference in the worker process while the window is busy: run time, event-loop stalls.

Run with ``python -m bench.bench_worker`` (headless: ``QT_QPA_PLATFORM=offscreen``).
Everything is ResNet-18 at 224×224 on the sample photo, measured in this one run, for
the worker's default torch threads (cores - 1) and for all cores:

1. idle UI: Run → result (round trip) and the worker's forward time, standalone reference;
2. busy UI: a 4 ms timer drags canvas nodes (moves items, repaints the view) during the
   runs; idle and busy runs alternate, so that other load on the machine hits both alike;
   target: round trip ≤ 1.3× the idle one; event loop never stalls > 50 ms (max gap
   between two timer ticks while runs are in flight, next to the max gap of the same
   busy UI with no run);
3. Run → maps shown (the grid and the sparsity plot updated and painted on screen);
4. transport of the maps: shared-memory file vs pickled through the pipe (time the GUI
   thread spends receiving, and round trip); the private maps file (unguessable name,
   0600, ``O_EXCL | O_NOFOLLOW``, free-space check, owner check on reading) next to a
   plain ``open(path, "wb")`` file, 32 MB written and mapped;
5. a newer request while the worker is busy with an outdated run: abort between layers
   (what the worker does) vs finishing the old run first vs restarting the worker;
6. the worker's forward next to another process that is ~27% busy (as busy as the
   dragging GUI) with pure computation, or with 4 MB memory copies like a repaint.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

RUNS = 8
TICK_MS = 4


def _median(xs):
    return statistics.median(xs) if xs else float("nan")


class Dragger:
    """Simulates dragging canvas nodes: every few ms move items and repaint the view."""

    def __init__(self, scene, view) -> None:
        from PySide6.QtCore import QTimer

        self.scene, self.view = scene, view
        self.items = list(scene.nodes.values())[:3]  # a small multi-selection
        self.ticks: list[float] = []
        self.step = 0
        self.timer = QTimer()
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self.tick)

    def tick(self) -> None:
        self.ticks.append(time.perf_counter())
        self.step += 1
        dx = 3.0 if (self.step // 20) % 2 == 0 else -3.0
        for item in self.items:
            item.moveBy(dx, 0.0)
        self.view.viewport().update()

    def max_gap(self, windows) -> float:
        """The longest time between two ticks that fall inside one of ``windows``."""
        worst = 0.0
        for a, b in windows:
            inside = [t for t in self.ticks if a <= t <= b]
            pts = [a] + inside + [b]
            worst = max(worst, max(q - p for p, q in zip(pts, pts[1:])))
        return worst


def _wait(ms: int) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


class _PaintWatch:
    """Records when the grid's and the sparsity plot's viewports were last painted."""

    def __init__(self, panel) -> None:
        from PySide6.QtCore import QEvent, QObject

        watch = self

        class Filter(QObject):
            def eventFilter(self, obj, event):  # noqa: N802 (Qt API)
                if event.type() == QEvent.Type.Paint:
                    watch.last[obj] = time.perf_counter()
                return False

        self.last: dict = {}
        self.filter = Filter()
        self.targets = [panel.grid.plot.viewport(), panel.sparsity.plot.viewport()]
        for w in self.targets:
            w.installEventFilter(self.filter)

    def painted_after(self, t: float) -> float | None:
        """When both views had painted after ``t`` (None if one has not yet)."""
        times = [self.last.get(w, 0.0) for w in self.targets]
        return max(times) if min(times) > t else None


def _one_run(panel, watch) -> tuple[float, float, float, float, float]:
    """One run through the panel: (start, result arrived, maps shown and painted, forward, end)."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    got = []

    def arrived(_r):
        got.append(time.perf_counter())

    def shown(_r):
        got.append(time.perf_counter())
        poll()

    def poll():
        t = watch.painted_after(got[0])
        if t is not None and t > got[0]:
            got.append(t)
            loop.quit()
        else:
            QTimer.singleShot(1, poll)

    def failed(msg):
        print("FAILED", msg)
        got.extend([float("nan")] * 3)
        loop.quit()

    c = panel.controller
    c.run_finished.connect(arrived)
    panel.result_shown.connect(shown)
    c.run_failed.connect(failed)
    t0 = time.perf_counter()
    panel.run()
    loop.exec()
    c.run_finished.disconnect(arrived)
    panel.result_shown.disconnect(shown)
    c.run_failed.disconnect(failed)
    return t0, got[0] - t0, got[2] - t0, panel.result.seconds, time.perf_counter()


def _case(app, doc, scene, view, threads: int | None, runs: int, nice: int = 0) -> dict:
    """Interleaved idle/busy runs with ``threads`` torch threads in the worker."""
    from engine.worker.client import WorkerClient
    from widgets.inside_panel import InsidePanel
    from widgets.run_controller import RunController

    ctrl = RunController(doc, client=WorkerClient(num_threads=threads, nice=nice))
    panel = InsidePanel(doc, scene=scene, controller=ctrl)
    panel.resize(1400, 900)
    panel.show()
    watch = _PaintWatch(panel)
    t0 = time.perf_counter()
    _one_run(panel, watch)
    first = time.perf_counter() - t0
    for _ in range(2):
        _one_run(panel, watch)  # warm
    drag = Dragger(scene, view)
    out = {"first": first, "idle": [], "busy": [], "windows": [], "quiet": [], "cpu": []}
    for _ in range(runs):
        _wait(30)
        out["idle"].append(_one_run(panel, watch)[1:4])
        drag.timer.start()
        _wait(60)  # the UI is busy before Run is pressed
        q0, c0 = time.perf_counter(), time.process_time()
        _wait(120)  # busy UI, no run: the reference gap
        out["quiet"].append((q0, time.perf_counter()))
        out["cpu"].append((time.process_time() - c0) / (time.perf_counter() - q0))
        start, trip, shown, fwd, end = _one_run(panel, watch)
        out["busy"].append((trip, shown, fwd))
        out["windows"].append((start, end))
        drag.timer.stop()
    out["gap"] = drag.max_gap(out["windows"])
    out["quiet_gap"] = drag.max_gap(out["quiet"])
    out["ticks"] = len(drag.ticks)
    panel.close_worker()
    panel.deleteLater()
    return out


def _report(name: str, r: dict) -> tuple[float, float]:
    idle = [list(x) for x in zip(*r["idle"])]
    busy = [list(x) for x in zip(*r["busy"])]
    ti, si, fi = (_median(x) for x in idle)
    tb, sb, fb = (_median(x) for x in busy)
    print(f"[{name}] first run (worker start, torch import, build) {r['first']:.2f} s")
    print(
        f"  idle UI: run→result {1000 * ti:6.1f} ms, forward {1000 * fi:6.1f} ms, "
        f"run→maps shown {1000 * si:6.1f} ms"
    )
    print(
        f"  busy UI: run→result {1000 * tb:6.1f} ms, forward {1000 * fb:6.1f} ms, "
        f"run→maps shown {1000 * sb:6.1f} ms  ({r['ticks']} drag ticks; the dragging "
        f"alone keeps the GUI process {100 * _median(r['cpu']):.0f}% busy)"
    )
    print(f"  ratio busy/idle: run→result {tb / ti:.2f}, forward {fb / fi:.2f}  (target ≤ 1.3)")
    print(
        f"  longest event-loop gap: during runs {1000 * r['gap']:.1f} ms (target ≤ 50), "
        f"busy UI without a run {1000 * r['quiet_gap']:.1f} ms; timer every {TICK_MS} ms"
    )
    return tb / ti, r["gap"]


def _transport(doc, image, transport: str, n: int):
    """Direct client runs: (round trips, longest GUI-side poll, median GUI receive)."""
    from engine.worker.client import Finished, WorkerClient

    c = WorkerClient()
    try:
        c.submit(doc, image, transport=transport)
        c.wait(120)
        trips, polls = [], []
        for _ in range(n):
            t0 = time.perf_counter()
            c.submit(doc, image, transport=transport)
            longest = 0.0
            fin = None
            while fin is None:
                c._conn.poll(0.05)
                p0 = time.perf_counter()
                events = c.poll(budget=1.0)
                longest = max(longest, time.perf_counter() - p0)
                fin = next((e for e in events if isinstance(e, Finished)), None)
            trips.append(time.perf_counter() - t0)
            polls.append(longest)
        return trips, polls
    finally:
        c.close()


def _private_vs_plain(n: int) -> tuple[list[float], list[float]]:
    """Seconds to write and map 32 MB: the private maps file vs a plain file (reference)."""
    import mmap

    import numpy as np

    from engine.worker.messages import _shm_dir, pack_maps, unpack_maps

    directory = _shm_dir() or "/tmp"
    rng = np.random.default_rng(0)
    maps = {f"n{i}": rng.standard_normal((64, 56, 56), dtype=np.float32) for i in range(42)}

    def plain(k: int) -> None:
        path = os.path.join(directory, f"bench-plain-{os.getpid()}-{k}.maps")
        views, offset = [], 0
        with open(path, "wb") as fh:
            for arr in maps.values():
                pad = (-offset) % 64
                fh.write(b"\0" * pad)
                offset += pad
                views.append((arr.dtype, arr.shape, offset))
                fh.write(memoryview(arr).cast("B"))
                offset += arr.nbytes
        with open(path, "rb") as fh:
            mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        os.unlink(path)
        for dt, shape, off in views:
            np.frombuffer(mm, dt, count=int(np.prod(shape)), offset=off).reshape(shape)

    private, reference = [], []
    for k in range(n):
        t0 = time.perf_counter()
        plain(k)
        reference.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        unpack_maps(*pack_maps(maps, directory))
        private.append(time.perf_counter() - t0)
    return private, reference


def _supersede(doc, image, n: int):
    """Seconds from the newer request to its result: abort, wait-for-old, restart."""
    from engine.worker.client import Finished, WorkerClient

    def finish(c):
        return [e for e in c.wait(120) if isinstance(e, Finished)]

    c = WorkerClient()
    try:
        c.submit(doc, image)
        finish(c)
        abort, waits = [], []
        for _ in range(n):
            c.submit(doc, image)
            time.sleep(0.01)  # the old run is in its forward pass
            t0 = time.perf_counter()
            c.submit(doc, image, {"mode": "crop"})
            assert finish(c)
            abort.append(time.perf_counter() - t0)
            # waiting: let the old run finish, then send the new one
            c.submit(doc, image)
            time.sleep(0.01)
            t0 = time.perf_counter()
            finish(c)
            c.submit(doc, image, {"mode": "crop"})
            assert finish(c)
            waits.append(time.perf_counter() - t0)
        restart = []
        for _ in range(2):
            c.submit(doc, image)
            time.sleep(0.01)
            t0 = time.perf_counter()
            c.close()
            c.submit(doc, image, {"mode": "crop"})
            assert finish(c)
            restart.append(time.perf_counter() - t0)
        return abort, waits, restart
    finally:
        c.close()


_HOG = """
import sys, time
import numpy as np
a = np.ones(1 << 20, np.float32)   # 4 MB, like a repaint's framebuffer
b = np.empty_like(a)
while True:
    t = time.perf_counter()
    while time.perf_counter() - t < 0.0011:
        if sys.argv[1] == "memory":
            np.copyto(b, a)
    time.sleep(0.003)
"""


def _hogs(doc, image, n: int) -> dict:
    """Forward time next to a ~27% busy process: pure compute vs memory copies."""
    import subprocess

    from engine.worker.client import Finished, WorkerClient

    c = WorkerClient()

    def run():
        c.submit(doc, image)
        return next(e for e in c.wait(120) if isinstance(e, Finished)).result.seconds

    try:
        for _ in range(2):
            run()
        out = {"idle": [], "compute": [], "memory": []}
        for _ in range(n):
            out["idle"].append(run())
            for kind in ("compute", "memory"):
                hog = subprocess.Popen([sys.executable, "-c", _HOG, kind])
                time.sleep(0.2)
                out[kind].append(run())
                hog.kill()
                hog.wait()
        return {k: _median(v) for k, v in out.items()}
    finally:
        c.close()


def main() -> int:
    """Run the benchmark and print the numbers and ratios."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from designer.document import Document
    from designer.scene import GraphScene
    from designer.view import GraphView
    from engine.core.fileformat import to_dict
    from engine.templates import build
    from widgets.run_controller import SAMPLE_IMAGE

    runs = int(sys.argv[1]) if len(sys.argv) > 1 else RUNS
    app = QApplication.instance() or QApplication([])
    doc = Document(build("resnet18"))
    scene = GraphScene(doc)
    view = GraphView(scene)
    view.resize(1200, 800)
    view.show()
    app.processEvents()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"ResNet-18 at 224×224 on the sample photo, {runs} idle/busy run pairs per case, "
        f"{os.cpu_count()} cores, load average {load:.1f} at start"
    )
    ok = True
    for name, threads, nice in (
        ("torch threads: cores - 1", None, 0),
        ("torch threads: cores - 1, worker nice +5", None, 5),
        ("torch threads: all cores", 0, 0),
    ):
        ratio, gap = _report(name, _case(app, doc, scene, view, threads, runs, nice))
        if threads is None and not nice:  # the targets hold for the default worker
            ok = ok and ratio <= 1.3 and gap <= 0.05

    graph = to_dict(doc.model)
    image = str(SAMPLE_IMAGE)
    shm_trip, shm_poll = _transport(graph, image, "shm", runs)
    pipe_trip, pipe_poll = _transport(graph, image, "pipe", runs)
    print(
        f"maps transport (34 MB): shared memory: round trip {1000 * _median(shm_trip):.1f} ms, "
        f"GUI thread blocked ≤ {1000 * max(shm_poll):.1f} ms; pipe: round trip "
        f"{1000 * _median(pipe_trip):.1f} ms, GUI thread blocked ≤ {1000 * max(pipe_poll):.1f}"
        f" ms  (ratio pipe/shm: round trip {_median(pipe_trip) / _median(shm_trip):.2f}, "
        f"blocked {max(pipe_poll) / max(shm_poll):.1f})"
    )

    private, plain = _private_vs_plain(max(10, 2 * runs))
    print(
        f"maps file, 32 MB written and mapped: private (0600, O_EXCL|O_NOFOLLOW, space and "
        f"owner checks) {1000 * _median(private):.1f} ms, plain open() {1000 * _median(plain):.1f}"
        f" ms  (ratio {_median(private) / _median(plain):.2f})"
    )

    abort, waits, restart = _supersede(graph, image, max(3, runs // 2))
    print(
        f"newer request while busy: abort the old run {1000 * _median(abort):.1f} ms, "
        f"let it finish first {1000 * _median(waits):.1f} ms, restart the worker "
        f"{1000 * _median(restart):.0f} ms  (ratios to abort: finish "
        f"{_median(waits) / _median(abort):.2f}, restart {_median(restart) / _median(abort):.1f})"
    )
    h = _hogs(graph, image, max(4, runs // 2))
    print(
        f"worker forward next to another process busy ~27% of the time (no GUI): idle "
        f"{1000 * h['idle']:.1f} ms, compute-only {1000 * h['compute']:.1f} ms "
        f"(ratio {h['compute'] / h['idle']:.2f}), copying 4 MB buffers {1000 * h['memory']:.1f} ms "
        f"(ratio {h['memory'] / h['idle']:.2f})"
    )
    print(
        "PASS (default worker)"
        if ok
        else "FAIL (default worker; see the load average: 2 shared cores)"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
