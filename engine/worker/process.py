"""The worker process side: the job that runs the forward pass, its inbox and main loop.

:func:`_worker_main` runs in the process :class:`engine.worker.client.WorkerClient` spawns;
torch is imported there (by the job), never in the GUI process.
"""

from __future__ import annotations

import importlib
import json
import os
import threading
import time
import traceback
from dataclasses import replace

import numpy as np

from engine.runtime.feature_types import FeatureResult
from engine.worker.messages import _shm_dir, fallback_note, pack_maps, remove_quietly

# --------------------------------------------------------------------------- the job
#: Seconds a worker whose window is gone waits for its run to stop before it exits.
ORPHAN_GRACE = 3.0


class Aborted(Exception):
    """Raised inside the forward pass when a newer request or a cancel arrived."""


def _graph_key(doc: dict) -> str:
    """What decides the built module: node types, params and edges (not names or positions)."""
    nodes = [(n["id"], n["type"], n.get("params", {})) for n in doc.get("nodes", [])]
    edges = [(e["src"], e["dst"], e["port"]) for e in doc.get("edges", [])]
    return json.dumps([nodes, edges], sort_keys=True)


class FeatureJob:
    """Runs :func:`engine.runtime.features.run_features` in the worker, keeping the built module.

    The module is rebuilt only when the graph's nodes, params or edges changed.
    """

    HIST_BINS = 64

    def __init__(self) -> None:
        import torch  # noqa: F401  (load it before the first request: faster first run)

        self._key: str | None = None
        self._runner = None
        self._model = None
        self._hists = None
        self.builds = 0

    def run(self, request: dict, progress) -> FeatureResult:
        """Run one request; ``progress(percent, text)`` may raise :class:`Aborted`."""
        from engine.core.fileformat import from_dict
        from engine.runtime import features

        doc = request["graph"]
        # Trained or loaded weights travel as options["state_file"] (a safetensors file,
        # exported-code keys; nodes without an entry keep the seeded random ones) or
        # options["state"] (numpy arrays), named by "state_key".
        options = request.get("options", {})
        has_state = options.get("state") or options.get("state_file")
        state_key = options.get("state_key") if has_state else None
        key = f"{request.get('seed', 0)}:{state_key}:{_graph_key(doc)}"
        if key != self._key or self._runner is None:
            progress(2, "building the model")
            self._key = None
            self._model = from_dict(doc)
            self._runner = features.FeatureRunner(self._model, seed=request.get("seed", 0))
            if state_key is not None:
                from engine.runtime.weights import apply_partial

                state = options.get("state")
                if state is None:
                    from engine.runtime.weights import read_state_dict

                    state = read_state_dict(options["state_file"])
                apply_partial(self._runner.module, state)
            self._key = key
            self._hists = None
            self.builds += 1
        image = request["image"]
        progress(5, "running the network")
        opts = {
            k: v
            for k, v in request.get("options", {}).items()
            if k in ("mode", "normalize", "near_zero")
        }
        result = self._runner.run(
            image, node=request.get("node"), channel=request.get("channel"), **opts
        )
        result.extra["builds"] = self.builds
        if request.get("weights", True):
            result.extra["weight_hist"] = self._weight_histograms()
        if (options.get("effective") or options.get("localise")) and result.box is not None:
            # Where the network looked, by every method (engine.runtime.localise): the
            # effective field of the localised activation, the class activation map and
            # Grad-CAM of the predicted class, each with its heat map and box.
            from engine.runtime.localise import localise

            progress(96, "tracing the strongest activation back to the image")
            try:
                done, skipped = localise(self._runner, result)
            except Aborted:
                raise
            except Exception as exc:  # the maps are shown anyway; the view says why not these
                done, skipped = {}, {"all": str(exc) or type(exc).__name__}
            result.extra["localised"] = done
            result.extra["localise_skipped"] = skipped
            if "effective" in done:
                result.extra["effective_box"] = done["effective"].box
                result.extra["effective_grad"] = done["effective"].heat
        return result

    def _weight_histograms(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """``node → (counts, bin edges)`` of the weight tensor of every conv/linear node
        (transposed convolutions included)."""
        if self._hists is not None:
            return self._hists
        from engine.codegen.targets import module_targets

        names = module_targets(self._model.graph)
        hists = {}
        module = self._runner.module
        for node, attr in names.items():
            if self._model.node_type(node) not in ("conv", "conv1x1", "conv_transpose", "linear"):
                continue
            try:
                w = module.get_submodule(attr).weight
            except AttributeError:
                continue
            values = w.detach().numpy().ravel()
            counts, edges = np.histogram(values, bins=self.HIST_BINS)
            hists[node] = (counts.astype(np.int64), edges.astype(np.float64))
        self._hists = hists
        return hists


def _resolve(spec: str):
    mod, _, attr = spec.partition(":")
    obj = importlib.import_module(mod)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


class _Inbox:
    """The worker's reader thread: keeps only the newest run request, flags aborts.

    A closed pipe (the client quit or was killed) stops the worker like a ``stop``
    message and sets ``closed``.
    """

    def __init__(self, conn, closed: threading.Event | None = None, on_closed=None) -> None:
        self.conn = conn
        self.closed = closed if closed is not None else threading.Event()
        self.on_closed = on_closed
        self.cond = threading.Condition()
        self.pending: dict | None = None
        self.current: int | None = None
        self.abort = threading.Event()
        self.stopped = False
        self.cancelled: list[int] = []
        threading.Thread(target=self._loop, name="worker-inbox", daemon=True).start()

    def _loop(self) -> None:
        while True:
            try:
                msg = self.conn.recv()
            except (EOFError, OSError):
                self.closed.set()
                if self.on_closed is not None:
                    self.on_closed()
                msg = {"kind": "stop"}
            with self.cond:
                kind = msg.get("kind")
                if kind == "run":
                    self.pending = msg
                    if self.current is not None:
                        self.abort.set()
                elif kind == "cancel":
                    rid = msg.get("id")
                    if self.pending is not None and self.pending["id"] == rid:
                        self.pending = None
                        self.cancelled.append(rid)
                    if self.current == rid:
                        self.abort.set()
                elif kind == "stop":
                    self.stopped = True
                    self.abort.set()
                self.cond.notify_all()
                if kind == "stop":
                    return

    def take(self) -> tuple[dict | None, list[int]]:
        """Wait for the newest request; also return the ids cancelled while queued."""
        with self.cond:
            while self.pending is None and not self.stopped and not self.cancelled:
                self.cond.wait()
            cancelled, self.cancelled = self.cancelled, []
            if self.stopped:
                return None, cancelled
            msg, self.pending = self.pending, None
            self.current = msg["id"] if msg is not None else None
            self.abort.clear()
            return msg, cancelled

    def done(self) -> None:
        with self.cond:
            self.current = None


class _PipeClosed(Exception):
    """The client's end of the pipe is gone (the window quit or was killed)."""


class _Outbox:
    """Sends to the client; remembers the maps files the client has not taken yet.

    The client removes a file's name when it maps it; a file still there when the worker
    leaves (a client that was killed or closed the pipe) is removed by :meth:`close`.
    """

    def __init__(self, conn) -> None:
        self.conn = conn
        self.lock = threading.Lock()
        self.closed = threading.Event()
        self.files: set[str] = set()
        self._files_lock = threading.Lock()
        self._left = False

    def _created(self, path: str) -> None:
        with self._files_lock:
            self.files.add(path)
            if self._left:  # the worker is leaving: nobody will take it
                remove_quietly(path)

    def send(self, msg: dict) -> None:
        """Send ``msg``; raise :class:`_PipeClosed` when the client is gone."""
        if self.closed.is_set():
            raise _PipeClosed()
        try:
            with self.lock:
                self.conn.send(msg)
        except (OSError, EOFError) as exc:
            self.closed.set()
            raise _PipeClosed() from exc

    def send_result(self, rid: int, result: FeatureResult, transport: str) -> None:
        """Send a result: maps through a private shared-memory file, else through the pipe.

        When shared memory is missing or full the maps go through the pipe (once, for
        this result) and ``result.extra["notice"]`` tells the user why.
        """
        t0 = time.perf_counter()
        with self._files_lock:
            self.files = {p for p in self.files if os.path.lexists(p)}  # not taken yet
        if transport == "shm" and getattr(result, "maps", None):  # (other jobs: no maps)
            directory = _shm_dir()
            arrays = {"i:image": result.image, "i:input": result.input}
            arrays.update(("m:" + n, a) for n, a in result.maps.items())
            try:
                if directory is None:
                    raise FileNotFoundError("no shared-memory directory")
                path, layout = pack_maps(arrays, directory, self._created)
            except OSError as exc:
                result.extra["notice"] = fallback_note(None if directory is None else exc)
            else:
                light = replace(result, maps={}, image=None, input=None)
                msg = {"path": path, "layout": layout, "pack": time.perf_counter() - t0}
                self.send({"kind": "result", "id": rid, "result": light, **msg})
                return
        self.send(
            {
                "kind": "result",
                "id": rid,
                "result": result,
                "path": None,
                "layout": None,
                "pack": 0.0,
            }
        )

    def close(self) -> None:
        """Remove the maps files the client never took (and any created from now on)."""
        with self._files_lock:
            self._left = True
            for path in self.files:
                remove_quietly(path)
            self.files.clear()

    def leave_if_stuck(self, grace: float) -> None:
        """Called when the pipe closed: exit after ``grace`` s if the main loop has not.

        A job stuck in one long step never reaches the next abort check; without the
        window nobody waits for it, so the files are removed and the process ends.
        """

        def watchdog() -> None:
            time.sleep(grace)
            self.close()
            os._exit(0)

        threading.Thread(target=watchdog, name="worker-orphaned", daemon=True).start()


def _worker_main(conn, job_spec: str, num_threads: int, nice: int = 0) -> None:  # pragma: no cover
    """Entry point of the worker process."""
    out = _Outbox(conn)
    try:
        _serve(conn, out, job_spec, num_threads, nice)
    except _PipeClosed:
        pass  # the client is gone: nobody to answer
    finally:
        out.close()


def _serve(
    conn, out: _Outbox, job_spec: str, num_threads: int, nice: int
) -> None:  # pragma: no cover
    """Answer requests until the client says stop or closes the pipe."""
    send = out.send
    try:
        import torch

        if nice and hasattr(os, "nice"):
            os.nice(nice)
        if num_threads > 0:
            torch.set_num_threads(num_threads)
        job = _resolve(job_spec)()
    except Exception as exc:  # report and stay alive to answer each request with it
        job = None
        start_error = f"the inference worker could not start: {exc}"
    send({"kind": "ready", "pid": os.getpid()})
    inbox = _Inbox(conn, out.closed, on_closed=lambda: out.leave_if_stuck(ORPHAN_GRACE))

    state = {"rid": None, "calls": 0, "total": 1, "last": 0.0}

    def progress(percent: int, text: str) -> None:
        if inbox.abort.is_set():
            raise Aborted()
        send({"kind": "progress", "id": state["rid"], "percent": int(percent), "text": text})

    def hook(module, args):
        if inbox.abort.is_set():
            raise Aborted()
        state["calls"] += 1
        now = time.perf_counter()
        if now - state["last"] > 0.05:
            state["last"] = now
            pct = 5 + min(90, 90 * state["calls"] // max(1, state["total"]))
            send(
                {
                    "kind": "progress",
                    "id": state["rid"],
                    "percent": pct,
                    "text": f"layer {state['calls']} of {state['total']}",
                }
            )
        return None

    handle = None
    if job is not None:
        import torch

        handle = torch.nn.modules.module.register_module_forward_pre_hook(hook)

    while not out.closed.is_set():
        req, cancelled = inbox.take()
        for rid in cancelled:
            send({"kind": "cancelled", "id": rid})
        if req is None:
            if inbox.stopped:
                break
            continue
        rid = req["id"]
        state.update(rid=rid, calls=0, total=max(1, len(req["graph"].get("nodes", []))), last=0.0)
        try:
            if job is None:
                raise RuntimeError(start_error)
            result = job.run(req, progress)
            if inbox.abort.is_set():
                raise Aborted()
            out.send_result(rid, result, req.get("transport", "shm"))
        except _PipeClosed:
            raise
        except Aborted:
            send({"kind": "cancelled", "id": rid})
        except Exception as exc:  # any failure goes back to the window as text
            msg = getattr(exc, "message", None) or str(exc) or type(exc).__name__
            send(
                {"kind": "error", "id": rid, "message": msg, "trace": traceback.format_exc(limit=6)}
            )
        finally:
            inbox.done()
    if handle is not None:
        handle.remove()
