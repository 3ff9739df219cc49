"""The inference worker process: parity with the engine, caching, supersede, cancel, crash."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from worker_jobs import SlowJob, assert_same_stats, small_graph

from engine.core.fileformat import to_dict
from engine.worker.client import (
    Cancelled,
    Crashed,
    Failed,
    Finished,
    Progress,
    WorkerClient,
    pack_maps,
    unpack_maps,
)

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = str(ROOT / "resources" / "sample.png")


def finished(events) -> list[Finished]:
    return [e for e in events if isinstance(e, Finished)]


def wait_mid_run(c: WorkerClient, timeout: float = 30.0) -> list:
    """Poll until the worker reports progress inside the forward pass; return the events."""
    events = []
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        events += c.poll()
        if any(isinstance(e, Progress) and e.text.startswith("layer") for e in events):
            return events
        time.sleep(0.01)
    raise AssertionError("the worker never reached the forward pass")


def test_pack_unpack_roundtrip_removes_file(tmp_path):
    """Maps written to one file come back equal (dtype, shape) and the file is unlinked."""
    maps = {
        "a": np.arange(24, dtype=np.float32).reshape(2, 3, 4),
        "b": np.array([1.5, -2.0], dtype=np.float32),
        "c": np.zeros((0,), np.float32),
    }
    path, layout = pack_maps(maps, str(tmp_path))
    assert all(off % 64 == 0 for *_, off in layout)
    out = unpack_maps(path, layout)
    assert not os.path.exists(path)
    for k, v in maps.items():
        assert out[k].dtype == v.dtype and out[k].shape == v.shape
        np.testing.assert_array_equal(out[k], v)


def test_stale_maps_files_of_dead_workers_are_removed(tmp_path, monkeypatch):
    """Files of a worker pid that no longer exists are removed; a live pid's file stays."""
    monkeypatch.setenv("CONVCANVAS_SHM_DIR", str(tmp_path))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f"convcanvas-{dead.pid}-3.maps"
    live = tmp_path / f"convcanvas-{os.getpid()}-4.maps"
    stale.write_bytes(b"x")
    live.write_bytes(b"x")
    assert WorkerClient.clean_stale_files() == 1
    assert not stale.exists() and live.exists()


def test_stale_cleanup_leaves_symlinks_and_their_targets(tmp_path, monkeypatch):
    """A symlink named like a dead worker's maps file is not followed or counted."""
    monkeypatch.setenv("CONVCANVAS_SHM_DIR", str(tmp_path / "shm"))
    (tmp_path / "shm").mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    link = tmp_path / "shm" / f"convcanvas-{dead.pid}-5.maps"
    link.symlink_to(victim)
    assert WorkerClient.clean_stale_files() == 0
    assert link.is_symlink() and victim.read_text() == "keep me"


def test_worker_result_equals_in_process_run(client):
    """The worker's maps and box equal run_features in this process bit for bit, stats too."""
    from engine.runtime.features import run_features

    m = small_graph()
    client.submit(to_dict(m), SAMPLE, {"mode": "crop", "normalize": "unit"})
    events = client.wait(60)
    (fin,) = finished(events)
    ref = run_features(m, SAMPLE, mode="crop", normalize="unit")
    r = fin.result
    assert r.order == ref.order and r.preprocess == ref.preprocess
    for n in ref.order:
        np.testing.assert_array_equal(r.maps[n], ref.maps[n])
    assert r.box == ref.box
    assert_same_stats(r.stats, ref.stats)
    np.testing.assert_array_equal(r.image, ref.image)


def test_shared_maps_file_is_removed(client):
    """After the result is received no maps file of the worker is left in shared memory."""
    client.submit(to_dict(small_graph()), SAMPLE)
    assert finished(client.wait(60))
    left = list(Path("/dev/shm").glob(f"convcanvas-{client.pid}-*.maps"))
    assert left == []


def test_pipe_transport_gives_same_maps(client):
    """Sending the maps through the pipe instead of shared memory gives equal maps."""
    doc = to_dict(small_graph())
    client.submit(doc, SAMPLE)
    (a,) = finished(client.wait(60))
    client.submit(doc, SAMPLE, transport="pipe")
    (b,) = finished(client.wait(60))
    for n in a.result.order:
        np.testing.assert_array_equal(a.result.maps[n], b.result.maps[n])


def test_module_rebuilt_only_when_graph_changes(client):
    """Same graph (even moved nodes) reuses the module; a changed param rebuilds it."""
    m = small_graph(width=5)
    client.submit(to_dict(m), SAMPLE)
    (first,) = finished(client.wait(60))
    m.set_pos("c1", (100.0, 50.0))
    client.submit(to_dict(m), SAMPLE)
    (same,) = finished(client.wait(60))
    assert same.result.extra["builds"] == first.result.extra["builds"]
    m.set_param("c1", "out_channels", 6)
    client.submit(to_dict(m), SAMPLE)
    (changed,) = finished(client.wait(60))
    assert changed.result.extra["builds"] == first.result.extra["builds"] + 1
    assert changed.result.maps["c1"].shape == (6, 32, 32)


def test_weight_histograms_for_conv_and_linear(client):
    """The reply holds weight histograms of exactly the conv/linear nodes, counting every weight."""
    client.submit(to_dict(small_graph()), SAMPLE)
    (fin,) = finished(client.wait(60))
    hist = fin.result.extra["weight_hist"]
    assert set(hist) == {"c1", "c2", "fc"}
    counts, edges = hist["c2"]
    assert counts.sum() == 16 * 8 * 3 * 3 and len(edges) == len(counts) + 1


def test_invalid_graph_fails_with_node_named(client):
    """A graph with an analysis error fails with a message naming the node."""
    m = small_graph()
    m.set_param("c2", "kernel_size", 40)  # larger than the 16×16 map
    client.submit(to_dict(m), SAMPLE)
    events = client.wait(60)
    (fail,) = [e for e in events if isinstance(e, Failed)]
    assert "c2" in fail.message


def test_progress_messages_precede_result(client):
    """Progress events arrive before the result, with percentages between 0 and 100."""
    client.submit(to_dict(small_graph()), SAMPLE)
    events = client.wait(60)
    assert isinstance(events[-1], Finished)
    prog = [e for e in events if isinstance(e, Progress)]
    assert prog and all(0 <= p.percent <= 100 for p in prog)


def test_newer_request_supersedes_older(slow_client):
    """Only the newest request is answered, and the older run is aborted, not finished."""
    doc = to_dict(small_graph())
    old = slow_client.submit(doc, SAMPLE)
    wait_mid_run(slow_client)
    t0 = time.perf_counter()
    new = slow_client.submit(doc, SAMPLE, {"mode": "crop"})
    events = slow_client.wait(60)
    elapsed = time.perf_counter() - t0
    assert [e.id for e in events if not isinstance(e, Progress)] == [new]
    assert all(e.id == new for e in events) and old != new
    (fin,) = finished(events)
    assert fin.result.preprocess.mode == "crop"
    # one run of ~10 sleeping layers: the old run did not finish first
    assert elapsed < 2 * 10 * SlowJob.DELAY + 1.0


def test_cancel_stops_run_and_worker_stays(slow_client):
    """Cancel mid-run yields Cancelled quickly, keeps the worker, and the next run works."""
    doc = to_dict(small_graph())
    rid = slow_client.submit(doc, SAMPLE)
    wait_mid_run(slow_client)
    pid = slow_client.pid
    t0 = time.perf_counter()
    assert slow_client.cancel() == rid
    events = slow_client.wait(10)
    assert time.perf_counter() - t0 < 1.0
    assert [type(e) for e in events if not isinstance(e, Progress)] == [Cancelled]
    assert slow_client.pid == pid and slow_client.alive()
    slow_client.submit(doc, SAMPLE)
    assert finished(slow_client.wait(60))


def test_crash_is_reported_and_next_run_starts_fresh_worker(slow_client):
    """kill -9 of the worker mid-run gives Crashed; the next request gets a new process."""
    doc = to_dict(small_graph())
    rid = slow_client.submit(doc, SAMPLE)
    wait_mid_run(slow_client)
    old_pid = slow_client.pid
    os.kill(old_pid, 9)
    events = slow_client.wait(10)
    crashes = [e for e in events if isinstance(e, Crashed)]
    assert len(crashes) == 1 and crashes[0].id == rid and "signal 9" in crashes[0].message
    assert not slow_client.busy
    slow_client.submit(doc, SAMPLE)
    assert finished(slow_client.wait(60))
    assert slow_client.pid != old_pid


def test_stuck_worker_is_killed_after_cancel_timeout():
    """A run that cannot stop between layers is killed kill_after seconds after Cancel."""
    c = WorkerClient(job="worker_jobs:StuckJob", kill_after=0.3)
    try:
        rid = c.submit(to_dict(small_graph()), SAMPLE)
        time.sleep(0.2)
        pid = c.pid
        c.cancel()
        t0 = time.perf_counter()
        events = c.wait(10)
        assert time.perf_counter() - t0 < 2.0
        assert [e for e in events if not isinstance(e, Progress)] == [Cancelled(rid)]
        assert not c.alive()
        c.submit(to_dict(small_graph()), SAMPLE)  # starts a new StuckJob worker
        assert c.pid != pid
    finally:
        c.close()
