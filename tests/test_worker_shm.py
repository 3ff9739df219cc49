"""The worker's shared memory is private: planted files and symlinks, full or missing
/dev/shm, and a killed window leave nothing behind and leak nothing."""

from __future__ import annotations

import errno
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from worker_jobs import small_graph

import engine.worker.messages as messages
from engine.core.fileformat import to_dict
from engine.worker.client import Finished, MapsError, WorkerClient, pack_maps, unpack_maps
from engine.worker.process import ORPHAN_GRACE

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = str(ROOT / "resources" / "sample.png")
MAPS = {"a": np.arange(12, dtype=np.float32).reshape(3, 4), "b": np.ones(5, np.uint8)}


def finished(events) -> list[Finished]:
    return [e for e in events if isinstance(e, Finished)]


def worker_files(directory: str, pid: int) -> list[Path]:
    return sorted(Path(directory).glob(f"convcanvas-{pid}-*.maps"))


def gone(pid: int) -> bool:
    """Whether process ``pid`` has exited (a zombie nobody reaped counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state in ("Z", "X")


@pytest.fixture
def shm(tmp_path, monkeypatch):
    """A private shared-memory directory for this test (inherited by workers it starts)."""
    d = tmp_path / "shm"
    d.mkdir()
    monkeypatch.setenv("CONVCANVAS_SHM_DIR", str(d))
    return d


def test_maps_file_has_mode_0600_and_an_unguessable_name(shm):
    """Even with umask 0 the file is 0600; two files get different 128-bit random names."""
    old = os.umask(0)
    try:
        p1, layout = pack_maps(MAPS, str(shm))
        p2, _ = pack_maps(MAPS, str(shm))
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(p1).st_mode) == 0o600
    n1, n2 = Path(p1).name, Path(p2).name
    assert n1 != n2
    assert messages.MAPS_NAME.fullmatch(n1).group(1) == str(os.getpid())
    assert len(messages.MAPS_NAME.fullmatch(n1).group(2)) == 32
    np.testing.assert_array_equal(unpack_maps(p1, layout)["a"], MAPS["a"])


def test_symlink_planted_at_the_name_is_not_followed(shm, tmp_path, monkeypatch):
    """A symlink at the name the worker would use makes it refuse; its target is untouched."""
    monkeypatch.setattr(messages.secrets, "token_hex", lambda n: "ab" * n)
    victim = tmp_path / "victim.txt"
    victim.write_text("the user's own file")
    link = shm / f"convcanvas-{os.getpid()}-{'ab' * 16}.maps"
    link.symlink_to(victim)
    with pytest.raises(FileExistsError):
        pack_maps(MAPS, str(shm))
    assert victim.read_text() == "the user's own file" and link.is_symlink()


def test_file_planted_at_the_name_is_not_written(shm, monkeypatch):
    """A file planted at the name the worker would use receives nothing."""
    monkeypatch.setattr(messages.secrets, "token_hex", lambda n: "cd" * n)
    planted = shm / f"convcanvas-{os.getpid()}-{'cd' * 16}.maps"
    planted.write_bytes(b"")
    planted.chmod(0o666)
    with pytest.raises(FileExistsError):
        pack_maps(MAPS, str(shm))
    assert planted.read_bytes() == b""


def test_worker_ignores_symlinks_at_the_old_predictable_names(client, tmp_path):
    """Symlinks at convcanvas-<pid>-<request>.maps: the run succeeds, the targets are intact."""
    victim = tmp_path / "victim.txt"
    victim.write_text("the user's own file")
    shm = messages._shm_dir()
    client.start()
    links = [Path(shm) / f"convcanvas-{client.pid}-{client._next_id + k}.maps" for k in (1, 2, 3)]
    for link in links:
        link.symlink_to(victim)
    try:
        client.submit(to_dict(small_graph()), SAMPLE)
        (fin,) = finished(client.wait(60))
        assert fin.result.maps["c1"].shape == (8, 32, 32)
        assert "notice" not in fin.result.extra  # shared memory was used
        assert victim.read_text() == "the user's own file"
        assert all(link.is_symlink() for link in links)
    finally:
        for link in links:
            link.unlink()


def test_client_refuses_a_maps_file_others_can_read(shm):
    """A maps file with mode 0644 is refused with a message naming it, and removed."""
    path, layout = pack_maps(MAPS, str(shm))
    os.chmod(path, 0o644)
    with pytest.raises(MapsError, match="not private"):
        unpack_maps(path, layout)
    assert not os.path.lexists(path)


def test_client_refuses_a_symlink_in_place_of_the_maps_file(shm, tmp_path):
    """A symlink where the maps file should be is not opened; the symlink is removed."""
    path, layout = pack_maps(MAPS, str(shm))
    target = tmp_path / "other.bin"
    target.write_bytes(Path(path).read_bytes())
    os.unlink(path)
    os.symlink(target, path)
    with pytest.raises(MapsError, match="cannot open"):
        unpack_maps(path, layout)
    assert not os.path.lexists(path) and target.exists()


def test_client_refuses_a_truncated_maps_file(shm):
    """A maps file shorter than its layout needs is refused (no read past its end)."""
    path, layout = pack_maps(MAPS, str(shm))
    os.truncate(path, 16)
    with pytest.raises(MapsError, match="16 bytes"):
        unpack_maps(path, layout)


def test_too_little_free_space_creates_no_file(shm, monkeypatch):
    """When statvfs reports less room than the maps need, ENOSPC is raised before any file."""

    class Full:
        f_bavail, f_frsize = 10, 4096

    monkeypatch.setattr(messages.os, "statvfs", lambda _d: Full())
    with pytest.raises(OSError) as info:
        pack_maps(MAPS, str(shm))
    assert info.value.errno == errno.ENOSPC
    assert list(shm.iterdir()) == []


def test_enospc_mid_write_falls_back_to_the_pipe_and_says_so(shm):
    """Shared memory full halfway: same maps via the pipe, a notice, no partial file left."""
    from engine.runtime.features import run_features

    c = WorkerClient(job="worker_jobs:FullShmJob")
    try:
        c.submit(to_dict(small_graph()), SAMPLE)
        (fin,) = finished(c.wait(60))
        assert worker_files(str(shm), c.pid) == []  # removed before the result was sent
        notice = fin.result.extra["notice"]
        assert "through the pipe" in notice and "is full" in notice and str(shm) in notice
        ref = run_features(small_graph(), SAMPLE)
        for n in ref.order:
            np.testing.assert_array_equal(fin.result.maps[n], ref.maps[n])
        c.submit(to_dict(small_graph()), SAMPLE)  # the next run tries shared memory again
        (again,) = finished(c.wait(60))
        assert "through the pipe" in again.result.extra["notice"]
    finally:
        c.close()


def test_missing_shared_memory_falls_back_to_the_pipe_and_says_so(tmp_path, monkeypatch):
    """With no shared-memory directory the maps come through the pipe, with a notice."""
    missing = tmp_path / "no-such-dir"
    monkeypatch.setenv("CONVCANVAS_SHM_DIR", str(missing))
    c = WorkerClient()
    try:
        c.submit(to_dict(small_graph()), SAMPLE)
        (fin,) = finished(c.wait(60))
        assert fin.result.maps["c2"].shape == (16, 14, 14)
        assert f"{missing} is missing" in fin.result.extra["notice"]
        assert not missing.exists()
    finally:
        c.close()


def test_maps_of_a_superseded_answer_are_removed_unread(client):
    """An answer that arrives after a newer request was sent: its maps file is removed."""
    shm = messages._shm_dir()
    doc = to_dict(small_graph())
    client.start()
    client.submit(doc, SAMPLE)
    end = time.monotonic() + 60
    while not worker_files(shm, client.pid) and time.monotonic() < end:
        time.sleep(0.02)  # the answer waits in the pipe, its maps in shared memory
    (old,) = worker_files(shm, client.pid)
    newer = client.submit(doc, SAMPLE, {"mode": "crop"})
    (fin,) = finished(client.wait(60))
    assert fin.id == newer and not old.exists()
    assert worker_files(shm, client.pid) == []


_CLIENT = """
import sys, time
sys.path[:0] = [sys.argv[1], sys.argv[2]]
from engine.core.fileformat import to_dict
from engine.worker.client import WorkerClient
from worker_jobs import small_graph

if __name__ == "__main__":
    c = WorkerClient(num_threads=1)
    c.submit(to_dict(small_graph()), sys.argv[3])
    print(c.pid, flush=True)
    time.sleep(600)  # never reads the answer: the maps file waits in shared memory
"""


def test_sigkill_of_the_client_leaves_nothing_in_shared_memory():
    """kill -9 of the window with an untaken maps file: the worker removes it and exits."""
    shm = messages._shm_dir()
    proc = subprocess.Popen(
        [sys.executable, "-c", _CLIENT, str(ROOT), str(ROOT / "tests"), SAMPLE],
        stdout=subprocess.PIPE,
        text=True,
    )
    worker = None
    try:
        worker = int(proc.stdout.readline())
        end = time.monotonic() + 60
        while not worker_files(shm, worker) and time.monotonic() < end:
            time.sleep(0.05)
        (left,) = worker_files(shm, worker)  # the image and maps wait for the window
        assert stat.S_IMODE(left.stat().st_mode) == 0o600
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        end = time.monotonic() + 20
        while not gone(worker) and time.monotonic() < end:
            time.sleep(0.05)
        assert gone(worker)
        assert worker_files(shm, worker) == []
    finally:
        proc.kill()
        proc.wait(10)
        proc.stdout.close()
        if worker is not None and not gone(worker):
            os.kill(worker, signal.SIGKILL)  # a worker that failed to leave on its own


_STUCK_CLIENT = """
import sys, time
sys.path[:0] = [sys.argv[1], sys.argv[2]]
from engine.core.fileformat import to_dict
from engine.worker.client import Progress, WorkerClient
from worker_jobs import small_graph

if __name__ == "__main__":
    c = WorkerClient("worker_jobs:StuckJob", num_threads=1)
    c.submit(to_dict(small_graph()), sys.argv[3])
    while not any(isinstance(e, Progress) and e.text == "stuck" for e in c.wait(0.05)):
        pass
    print(c.pid, flush=True)
    time.sleep(600)
"""


def test_sigkill_of_the_client_mid_run_stops_a_stuck_worker():
    """kill -9 of the window while the run is stuck in one step: the worker exits anyway."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _STUCK_CLIENT, str(ROOT), str(ROOT / "tests"), SAMPLE],
        stdout=subprocess.PIPE,
        text=True,
    )
    worker = None
    try:
        worker = int(proc.stdout.readline())
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        t0 = time.monotonic()
        while not gone(worker) and time.monotonic() - t0 < 20:
            time.sleep(0.05)
        assert gone(worker) and time.monotonic() - t0 < ORPHAN_GRACE + 5  # not after 30 s
    finally:
        proc.kill()
        proc.wait(10)
        proc.stdout.close()
        if worker is not None and not gone(worker):
            os.kill(worker, signal.SIGKILL)
