"""Inference in a separate process, so that a busy window never slows the forward pass.

A forward pass in the GUI process competes with the event loop for the GIL (many times
slower while the user drags; numbers in docs/benchmarks.md). :class:`WorkerClient` starts one worker
process (``multiprocessing`` *spawn* context: fork is unsafe with Qt and torch threads)
and talks to it over a pipe:

* requests are plain data: a request id, the graph document
  (:func:`engine.core.fileformat.to_dict`), the image (a path or a uint8 array), the
  preprocessing options and the selected node/channel;
* the worker answers with :class:`Progress` messages, then :class:`Finished` (a
  :class:`~engine.runtime.feature_types.FeatureResult`) or :class:`Failed`;
* feature maps (and the image and input) travel through one shared-memory file
  (``/dev/shm``) that the client maps read-only and unlinks at once: no copy and no large
  unpickling in the GUI thread. The file is private: an unguessable
  name, mode 0600, created with ``O_EXCL | O_NOFOLLOW``; the client refuses a file that
  is not its user's regular, private file. When ``/dev/shm`` is missing or full the maps
  come through the pipe for that run and ``result.extra["notice"]`` says so; a partly
  written file is removed at once. A worker whose pipe closes (the window quit or was
  killed) removes the files the client did not take, and exits;
* a newer request supersedes an older one: the worker aborts the outdated forward pass
  between two layers (a global forward pre-hook) and starts the newest; replies to
  older requests are dropped by the client (latencies: ``bench/bench_worker.py`` and
  docs/benchmarks.md);
* :meth:`WorkerClient.cancel` aborts the same way; when the worker does not acknowledge
  within :attr:`WorkerClient.kill_after` seconds it is killed;
* a crashed worker (e.g. ``kill -9``) is reported as :class:`Crashed`; the next request
  starts a fresh one.

This module imports neither Qt nor torch; torch is imported in the worker process only.

The module is split in three: :mod:`engine.worker.messages` (events and the shared-memory
maps), :mod:`engine.worker.process` (the job and the loop in the worker process) and this
one (the client the window uses).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import stat
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from engine.worker.messages import (  # noqa: F401 - re-exported for callers
    MAPS_NAME,
    Cancelled,
    Crashed,
    Failed,
    Finished,
    MapsError,
    Progress,
    _shm_dir,
    pack_maps,
    remove_quietly,
    unpack_maps,
)
from engine.worker.process import Aborted, FeatureJob, _worker_main  # noqa: F401 - re-exported for callers

__all__ = [
    "Aborted",
    "Cancelled",
    "Crashed",
    "Failed",
    "FeatureJob",
    "Finished",
    "MapsError",
    "Progress",
    "WorkerClient",
    "pack_maps",
    "unpack_maps",
]


# --------------------------------------------------------------------------- the client
class WorkerClient:
    """The GUI side of the worker process (Qt-free; poll it from a timer or notifier).

    Parameters
    ----------
    job : str
        ``"module:Class"`` of the job the worker runs (default :class:`FeatureJob`).
    num_threads : int or None
        Torch threads in the worker; ``None``: one less than the CPU cores (at least 1),
        which leaves a core to the window (with every core, OpenMP's threads stall whenever
        the window or another process takes one of them); 0: torch's default (every core).
    kill_after : float
        Seconds to wait for a cancelled run to stop before killing the worker.
    nice : int
        Added to the worker's niceness (lower CPU priority than the window).
    """

    def __init__(
        self,
        job: str = "engine.worker.process:FeatureJob",
        num_threads: int | None = None,
        kill_after: float = 3.0,
        nice: int = 0,
    ) -> None:
        self.job = job
        if num_threads is None:
            num_threads = max(1, (os.cpu_count() or 2) - 1)
        self.num_threads = num_threads
        self.nice = nice
        self.kill_after = kill_after
        self._ctx = mp.get_context("spawn")
        self._proc = None
        self._conn = None
        self._next_id = 0
        self.latest: int | None = None  # the newest request sent
        self.running: int | None = None  # the request whose answer we wait for
        self._cancel_at: float | None = None
        self._events: list = []
        self.starts = 0

    # ------------------------------------------------------------------ process
    @property
    def pid(self) -> int | None:
        """The worker's process id (None when not started)."""
        return self._proc.pid if self._proc is not None else None

    def alive(self) -> bool:
        """Whether the worker process is running."""
        return self._proc is not None and self._proc.is_alive()

    def start(self) -> None:
        """Start the worker if it is not running (it loads torch in the background)."""
        if self.alive():
            return
        self._discard()
        self.clean_stale_files()
        parent, child = self._ctx.Pipe(duplex=True)
        proc = self._ctx.Process(
            target=_worker_main,
            args=(child, self.job, self.num_threads, self.nice),
            name="convcanvas-worker",
            daemon=True,
        )
        proc.start()
        child.close()
        self._proc, self._conn = proc, parent
        self.starts += 1

    def fileno(self) -> int | None:
        """The pipe's file descriptor (readable when a message or EOF is waiting)."""
        return self._conn.fileno() if self._conn is not None else None

    def _discard(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except OSError:
                pass
        self._conn = None
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.is_alive():
                proc.kill()
            proc.join(2.0)
            self._clean_files(proc.pid)
            proc.close()

    @staticmethod
    def _own_maps_files(pid: int | None = None) -> list[tuple[Path, int]]:
        """``(path, writer pid)`` of this user's regular maps files (of ``pid`` if given).

        Symlinks and other users' files are never touched (``lstat``, owner check).
        """
        directory = _shm_dir()
        if directory is None:
            return []
        found = []
        pattern = f"convcanvas-{pid}-*.maps" if pid is not None else "convcanvas-*-*.maps"
        for p in Path(directory).glob(pattern):
            m = MAPS_NAME.fullmatch(p.name)
            try:
                st = p.lstat()
            except OSError:
                continue
            if m is None or not stat.S_ISREG(st.st_mode):
                continue
            if hasattr(os, "getuid") and st.st_uid != os.getuid():
                continue
            found.append((p, int(m.group(1))))
        return found

    @classmethod
    def _clean_files(cls, pid: int | None) -> None:
        if pid is None:
            return
        for p, _ in cls._own_maps_files(pid):
            remove_quietly(str(p))

    @classmethod
    def clean_stale_files(cls) -> int:
        """Remove this user's maps files left by workers that no longer run (e.g. after a crash)."""
        removed = 0
        for p, pid in cls._own_maps_files():
            if not os.path.exists(f"/proc/{pid}"):
                try:
                    p.unlink()
                    removed += 1
                except OSError:
                    pass
        return removed

    def close(self, timeout: float = 2.0) -> None:
        """Stop the worker (politely when idle, else by force) and drop pending requests."""
        if self._conn is not None and self.alive() and self.running is None:
            try:
                self._conn.send({"kind": "stop"})
            except OSError:
                pass
            self._proc.join(timeout)
        self._discard()
        self.running = None
        self._cancel_at = None

    def kill(self) -> None:
        """Kill the worker at once (its crash is then reported by :meth:`poll`)."""
        if self._proc is not None and self._proc.is_alive():
            self._proc.kill()

    # ------------------------------------------------------------------ requests
    def submit(
        self,
        graph: dict,
        image: Any,
        options: dict | None = None,
        node: str | None = None,
        channel: int | None = None,
        *,
        seed: int = 0,
        weights: bool = True,
        transport: str = "shm",
    ) -> int:
        """Send a request; it supersedes any earlier one. Returns its id.

        Parameters
        ----------
        graph : dict
            The graph document (:func:`engine.core.fileformat.to_dict`).
        image : str or numpy.ndarray
            A path, or the uint8 image itself.
        options : dict
            Keyword arguments of the feature run (``mode``, ``normalize``, ``size`` …).
        """
        self.start()
        self._next_id += 1
        rid = self._next_id
        if isinstance(image, Path):
            image = str(image)
        msg = {
            "kind": "run",
            "id": rid,
            "graph": graph,
            "image": image,
            "options": dict(options or {}),
            "node": node,
            "channel": channel,
            "seed": seed,
            "weights": weights,
            "transport": transport,
        }
        try:
            self._conn.send(msg)
        except OSError:
            self._restart_after_crash()
            self._conn.send(msg)
        self.latest = self.running = rid
        self._cancel_at = None
        return rid

    def _restart_after_crash(self) -> None:
        self._discard()
        self.start()

    def cancel(self) -> int | None:
        """Cancel the running request; a :class:`Cancelled` event follows. Returns its id."""
        rid = self.running
        if rid is None:
            return None
        if self._conn is not None:
            try:
                self._conn.send({"kind": "cancel", "id": rid})
            except OSError:
                pass
        self._cancel_at = time.monotonic()
        return rid

    @property
    def busy(self) -> bool:
        """Whether a request is waiting for its answer."""
        return self.running is not None

    # ------------------------------------------------------------------ replies
    def poll(self, budget: float = 0.004) -> list:
        """Read what the worker sent without blocking; return the events for the newest request.

        Spends at most about ``budget`` seconds; messages left over stay in the pipe and
        keep its descriptor readable.
        """
        events = []
        conn = self._conn
        if conn is None:
            return events
        end = time.perf_counter() + budget
        while True:
            try:
                if not conn.poll(0):
                    break
                msg = conn.recv()
            except (EOFError, OSError):
                events.extend(self._crashed())
                return events
            ev = self._event(msg)
            if ev is not None:
                events.append(ev)
            if time.perf_counter() > end:
                break
        if self._proc is not None and not self._proc.is_alive() and self._conn is not None:
            try:
                pending = conn.poll(0)
            except (EOFError, OSError):
                pending = False
            if not pending:
                events.extend(self._crashed())
        elif (
            self._cancel_at is not None
            and self.running is not None
            and time.monotonic() - self._cancel_at > self.kill_after
        ):
            rid = self.running
            self._discard()
            self.running = None
            self._cancel_at = None
            events.append(Cancelled(rid))
        return events

    def _crashed(self) -> list:
        proc = self._proc
        code = None
        if proc is not None:
            proc.join(0.5)
            code = proc.exitcode
        rid = self.running
        self._discard()
        self.running = None
        self._cancel_at = None
        how = (
            f"exit code {code}"
            if code is not None and code >= 0
            else (f"killed by signal {-code}" if code is not None else "no exit code")
        )
        return [
            Crashed(
                rid,
                f"The inference worker stopped unexpectedly ({how}); "
                f"the next run starts a new one.",
            )
        ]

    def _event(self, msg: dict):
        kind = msg.get("kind")
        rid = msg.get("id")
        if kind == "ready":
            return None
        if kind == "result" and rid != self.running:
            if msg.get("path"):
                remove_quietly(msg["path"])  # a superseded answer: drop its maps unread
            return None
        if kind == "result" and msg.get("path"):
            t0 = time.perf_counter()
            try:
                arrays = unpack_maps(msg["path"], msg["layout"])  # also removes the file
            except MapsError as exc:
                self.running = None
                self._cancel_at = None
                return Failed(rid, f"The feature maps could not be read: {exc}.")
            maps = {k[2:]: a for k, a in arrays.items() if k.startswith("m:")}
            result = replace(
                msg["result"], maps=maps, image=arrays["i:image"], input=arrays["i:input"]
            )
            transfer = time.perf_counter() - t0
        elif kind == "result":
            result, transfer = msg["result"], 0.0
        if rid != self.running:
            return None  # an answer to a superseded request
        if kind == "progress":
            return Progress(rid, msg["percent"], msg["text"])
        self.running = None
        cancelling = self._cancel_at is not None
        self._cancel_at = None
        if kind == "result":
            return Cancelled(rid) if cancelling else Finished(rid, result, transfer)
        if kind == "cancelled":
            return Cancelled(rid)
        if kind == "error":
            return Failed(rid, msg["message"])
        return None

    def wait(self, timeout: float = 60.0) -> list:
        """Block until the newest request ends (for scripts, tests and benches only)."""
        events = []
        end = time.monotonic() + timeout
        while self.running is not None and time.monotonic() < end:
            if self._conn is not None:
                try:
                    self._conn.poll(0.05)
                except (EOFError, OSError):
                    pass
            else:
                time.sleep(0.01)
            events.extend(self.poll(budget=1.0))
        return events

    def __del__(self) -> None:  # pragma: no cover - best effort
        try:
            self._discard()
        except Exception:
            pass
