"""No lost work: per-window autosaves, recovery after a crash, unreadable autosaves kept,
a data folder that falls back, a visible autosave failure."""

from __future__ import annotations

import errno
import json
import os
import selectors
import signal
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from designer.commands import SetParamCommand
from designer.document import Document
from engine.core import fileformat
from engine.templates import DEFAULT_TEMPLATE, build
from widgets import autosave, files
from widgets.app import create_window

ROOT = Path(__file__).resolve().parent.parent

# A window that edits its design, autosaves every 50 ms and says so, then waits to be killed.
CRASHING_WINDOW = """
import sys
sys.path.insert(0, sys.argv[1])
from PySide6.QtWidgets import QApplication
app = QApplication([])
from designer.commands import SetParamCommand
from widgets.app import create_window
win = create_window(sys.argv[2:], autorun=False, live=False)
win.doc.undo_stack.push(SetParamCommand(win.doc, "branch1_1x1", "out_channels", 40))
win.autosaver.saved.connect(lambda path: print("autosaved", path, flush=True))
win.autosaver.timer.setInterval(50)
app.exec()
"""


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """The data folder, and a temporary directory of the test's own (fallback autosaves)."""
    d = tmp_path / "data"
    monkeypatch.setenv("CONVCANVAS_DATA_DIR", str(d))
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    return d


@pytest.fixture
def offers(monkeypatch):
    """Recovery offers are made at start (as outside tests) and answered "restore"."""
    asked: list[str] = []
    monkeypatch.delenv("CONVCANVAS_NO_AUTOSAVE_PROMPT", raising=False)
    monkeypatch.setattr(files, "ask_restore", lambda parent, what: asked.append(what) or "restore")
    monkeypatch.setattr(
        files, "show_notice", lambda parent, title, text: pytest.fail(f"unexpected: {text}")
    )
    return asked


def _window(qtbot, argv=()):
    w = create_window(list(argv), autorun=False, live=False)
    qtbot.addWidget(w)
    w.ask_save_changes = lambda *a: "discard"
    return w


def _edit(win, value=32, node="branch1_1x1"):
    win.doc.undo_stack.push(SetParamCommand(win.doc, node, "out_channels", value))


def _crash(data_dir: Path, *argv: str) -> Path:
    """Run a window in its own process, wait for its autosave, SIGKILL it; the autosave path."""
    env = dict(
        os.environ,
        QT_QPA_PLATFORM="offscreen",
        CONVCANVAS_DATA_DIR=str(data_dir),
        CONVCANVAS_NO_AUTOSAVE_PROMPT="1",
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", CRASHING_WINDOW, str(ROOT), *argv],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        sel = selectors.DefaultSelector()
        sel.register(proc.stdout, selectors.EVENT_READ)
        assert sel.select(timeout=60), "the window never autosaved"
        line = proc.stdout.readline()
        assert line.startswith("autosaved "), line
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    return Path(line.split(" ", 1)[1].strip())


def _autosaved_design(data_dir: Path, value: int) -> autosave.Autosaver:
    """A design open elsewhere (a document and its autosaver, no window) with an autosave."""
    doc = Document(build(DEFAULT_TEMPLATE))
    saver = autosave.Autosaver(doc, data_dir)
    doc.undo_stack.push(SetParamCommand(doc, "branch1_1x1", "out_channels", value))
    assert saver.autosave()
    return saver


def _autosave_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("autosave-"))


def _dead_autosave(folder: Path, text: str, ident: str = "1-dead") -> Path:
    """Autosave files as a killed process leaves them (the lock file is not held)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"autosave-{ident}.lock").write_text("1\n")
    design = folder / f"autosave-{ident}.convcanvas.json"
    design.write_text(text, encoding="utf-8")
    return design


# --------------------------------------------------------------------------- crashes
def test_crash_offered_at_start_without_file(qtbot, data_dir, offers):
    """After a SIGKILL, starting without a file offers the autosave and restores it."""
    autosaved = _crash(data_dir)
    win = _window(qtbot)
    assert len(offers) == 1 and "never saved" in offers[0]
    assert win.doc.model.params("branch1_1x1")["out_channels"] == 40
    assert win.isWindowModified() and win.doc.path is None
    assert not autosaved.exists()  # taken over by the new window's own autosave:
    assert fileformat.load(win.autosaver.path).params("branch1_1x1")["out_channels"] == 40
    slot = win.autosaver.slot
    assert _autosave_files(data_dir) == sorted(
        p.name for p in (slot.lock_path, slot.design_path, slot.owner_path)
    )


def test_crash_offered_at_start_with_file(qtbot, data_dir, tmp_path, offers):
    """After a SIGKILL, starting with FILE still offers the autosave of FILE's edits."""
    design = tmp_path / "mine.json"
    fileformat.save(build(DEFAULT_TEMPLATE), design)
    _crash(data_dir, str(design))
    win = _window(qtbot, [str(design)])
    assert len(offers) == 1 and f"opened from {design}" in offers[0]
    assert win.doc.path == design and win.isWindowModified()
    assert win.doc.model.params("branch1_1x1")["out_channels"] == 40
    assert fileformat.load(design).params("branch1_1x1")["out_channels"] == 64  # not saved


def test_clean_close_of_another_window_keeps_a_crashed_autosave(qtbot, data_dir, monkeypatch):
    """A window that closes cleanly after another one crashed leaves the crashed autosave."""
    autosaved = _crash(data_dir)
    other = _window(qtbot)  # CONVCANVAS_NO_AUTOSAVE_PROMPT=1: it does not take the autosave
    _edit(other, 8)
    assert other.autosaver.autosave()
    other.show()
    assert other.close()
    assert not other.autosaver.path.exists()
    assert fileformat.load(autosaved).params("branch1_1x1")["out_channels"] == 40
    found = autosave.find_orphans(data_dir)
    assert [o.design for o in found] == [autosaved]
    found[0].release()


def test_second_orphan_opens_in_a_new_tab(qtbot, data_dir, offers):
    """Two crashed designs' autosaves are both restored, the second in a new tab."""
    for value in (8, 16):
        _autosaved_design(data_dir, value).slot.abandon()  # as a crash leaves it
    win = _window(qtbot)
    assert len(offers) == 2 and len(win.tabs_list()) == 2
    values = [t.doc.model.params("branch1_1x1")["out_channels"] for t in win.tabs_list()]
    assert sorted(values) == [8, 16]
    assert all(t.doc.modified and t.autosaver.path.exists() for t in win.tabs_list())


def test_later_keeps_the_autosave_for_the_next_start(qtbot, data_dir, monkeypatch):
    """Answering "Later" keeps the autosave; it is offered again at the next start."""
    _autosaved_design(data_dir, 8).slot.abandon()
    monkeypatch.delenv("CONVCANVAS_NO_AUTOSAVE_PROMPT", raising=False)
    monkeypatch.setattr(files, "ask_restore", lambda parent, what: files.KEEP)
    first = _window(qtbot)
    assert first.doc.model.params("branch1_1x1")["out_channels"] == 64
    found = autosave.find_orphans(data_dir)
    assert len(found) == 1
    found[0].release()


# --------------------------------------------------------------------------- windows
def test_each_window_has_its_own_autosave(qtbot, data_dir):
    """Two windows autosave to two files; closing one leaves the other's autosave."""
    a, b = _window(qtbot), _window(qtbot)
    _edit(a, 8)
    _edit(b, 16)
    assert a.autosaver.autosave() and b.autosaver.autosave()
    assert a.autosaver.path != b.autosaver.path
    a.show()
    assert a.close()
    assert not a.autosaver.path.exists()
    assert fileformat.load(b.autosaver.path).params("branch1_1x1")["out_channels"] == 16


def test_running_design_autosave_is_not_offered(qtbot, data_dir, offers):
    """A design still open keeps its autosave: a new window does not offer it."""
    open_elsewhere = _autosaved_design(data_dir, 8)
    win = _window(qtbot)
    assert offers == [] and win.doc.model.params("branch1_1x1")["out_channels"] == 64
    assert open_elsewhere.path.exists()


def test_save_removes_the_autosave(qtbot, data_dir, tmp_path):
    """Saving the design removes its autosave (nothing unsaved is left)."""
    win = _window(qtbot)
    _edit(win, 8)
    assert win.autosaver.autosave()
    assert win.save_as(tmp_path / "saved.json")
    assert not win.autosaver.path.exists()


# --------------------------------------------------------------------------- unreadable
@pytest.mark.parametrize(
    "text, reason",
    [
        (json.dumps({"format": "convcanvas.graph", "version": 99, "nodes": []}), "version 99"),
        ('{"format": "convcanvas.graph", "version": 1, "nodes": [{"id": "in', "JSON"),
    ],
    ids=["newer_version", "cut_short"],
)
def test_unreadable_autosave_is_kept_aside(qtbot, data_dir, monkeypatch, text, reason):
    """An autosave that cannot be read is moved to unreadable/ and the user told where."""
    design = _dead_autosave(data_dir, text)
    told: list[str] = []
    monkeypatch.delenv("CONVCANVAS_NO_AUTOSAVE_PROMPT", raising=False)
    monkeypatch.setattr(files, "ask_restore", lambda *a: pytest.fail("offered an unreadable file"))
    monkeypatch.setattr(files, "show_notice", lambda parent, title, t: told.append(t))
    _window(qtbot)
    kept = data_dir / "unreadable" / design.name
    assert kept.read_text(encoding="utf-8") == text
    assert len(told) == 1 and str(kept) in told[0] and reason in told[0]
    assert _autosave_files(data_dir) == []
    assert autosave.find_orphans(data_dir) == []


# --------------------------------------------------------------------------- data folder
@pytest.fixture
def temp_root(tmp_path, monkeypatch):
    """The temporary directory the data folder falls back to."""
    root = tmp_path / "tmp"
    root.mkdir(exist_ok=True)
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    return root


def _assert_fell_back(win, temp_root):
    folder = win.data_folder
    assert folder.parent == temp_root and folder.is_dir()
    assert (folder.stat().st_mode & 0o777) == 0o700
    assert not win.data_folder_note.isHidden()
    assert str(folder) in win.data_folder_note.text()
    _edit(win, 8)
    assert win.autosaver.autosave() and win.autosaver.path.parent == folder


def test_data_folder_is_a_file_falls_back(qtbot, tmp_path, temp_root, monkeypatch):
    """A file where the data folder should be: autosaves go to a temporary folder, said so."""
    blocker = tmp_path / "blocked"
    blocker.write_text("not a folder")
    monkeypatch.setenv("CONVCANVAS_DATA_DIR", str(blocker))
    win = _window(qtbot)
    _assert_fell_back(win, temp_root)
    assert "a file is in its place" in win.data_folder_note.toolTip()
    assert blocker.read_text() == "not a folder"


def test_data_folder_without_permission_falls_back(tmp_path, temp_root, monkeypatch):
    """A data folder that may not be created: the temporary folder is used, said so."""
    wanted = tmp_path / "locked" / "data"
    monkeypatch.setenv("CONVCANVAS_DATA_DIR", str(wanted))
    real_mkdir = os.mkdir

    def refuse(path, *args, **kwargs):
        if Path(path).is_relative_to(tmp_path / "locked"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", refuse)
    location = files.data_location()
    assert location.path.parent == temp_root and location.path.is_dir()
    assert location.problem == (
        f"cannot use the data folder {wanted} ($CONVCANVAS_DATA_DIR): Permission denied"
    )


def test_no_home_falls_back(qtbot, temp_root, monkeypatch):
    """Without HOME the editor starts; autosaves go to the temporary folder, said so."""
    monkeypatch.delenv("CONVCANVAS_DATA_DIR", raising=False)
    monkeypatch.delenv("HOME", raising=False)
    win = _window(qtbot)
    _assert_fell_back(win, temp_root)
    assert "HOME is not set" in win.data_folder_note.toolTip()


def test_temp_folder_of_another_user_is_not_used(tmp_path, temp_root, monkeypatch):
    """A link planted at the fallback's name is not followed: a fresh private folder is made."""
    elsewhere = tmp_path / "attacker"
    elsewhere.mkdir()
    (temp_root / f"convcanvas-{os.getuid()}").symlink_to(elsewhere)
    monkeypatch.setenv("CONVCANVAS_DATA_DIR", str(tmp_path / "file"))
    (tmp_path / "file").write_text("")
    folder = files.data_location().path
    assert folder.parent == temp_root and not folder.is_symlink()
    assert folder != temp_root / f"convcanvas-{os.getuid()}"


# --------------------------------------------------------------------------- failures
def test_failing_autosave_warns_until_it_succeeds(qtbot, data_dir):
    """A failed autosave shows a warning that stays until an autosave succeeds again."""
    win = _window(qtbot)
    _edit(win, 8)
    win.autosaver.path.parent.mkdir(parents=True, exist_ok=True)
    win.autosaver.path.mkdir()  # the autosave cannot replace a folder
    assert not win.autosaver.autosave()
    assert not win.autosave_warning.isHidden()
    assert "Autosave failed" in win.autosave_warning.text()
    assert str(win.autosaver.path) in win.autosave_warning.toolTip()
    _edit(win, 16)
    assert not win.autosaver.autosave()
    assert not win.autosave_warning.isHidden()
    win.autosaver.path.rmdir()
    assert win.autosaver.autosave()
    assert win.autosave_warning.isHidden()


def test_save_through_symlink_from_the_window(qtbot, data_dir, tmp_path):
    """Save writes through a link to the design: the target changes, the link stays."""
    real = tmp_path / "projects" / "design.json"
    real.parent.mkdir()
    fileformat.save(build(DEFAULT_TEMPLATE), real)
    link = tmp_path / "design.json"
    link.symlink_to(real)
    win = _window(qtbot, [str(link)])
    _edit(win, 8)
    assert win.save()
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert fileformat.load(real).params("branch1_1x1")["out_channels"] == 8


# --------------------------------------------------------------------------- races, old files
def test_autosave_being_offered_is_not_offered_twice(data_dir):
    """While one window offers an autosave, a window starting at the same time skips it."""
    _dead_autosave(data_dir, fileformat.dumps(build(DEFAULT_TEMPLATE)))
    first = autosave.find_orphans(data_dir)
    assert len(first) == 1
    assert autosave.find_orphans(data_dir) == []
    first[0].release()
    again = autosave.find_orphans(data_dir)
    assert [o.design for o in again] == [first[0].design]
    again[0].release()


def test_recovery_file_of_an_earlier_version_is_offered(qtbot, data_dir, tmp_path, offers):
    """The single recovery file of earlier versions is offered and restored too."""
    model = build(DEFAULT_TEMPLATE)
    model.set_param("branch1_1x1", "out_channels", 24)
    data_dir.mkdir()
    fileformat.save(model, data_dir / "recovery.convcanvas.json")
    origin = tmp_path / "old.json"
    fileformat.save(build(DEFAULT_TEMPLATE), origin)
    (data_dir / "recovery.path.txt").write_text(str(origin))
    win = _window(qtbot)
    assert len(offers) == 1 and f"opened from {origin}" in offers[0]
    assert win.doc.path == origin
    assert win.doc.model.params("branch1_1x1")["out_channels"] == 24
    assert not (data_dir / "recovery.convcanvas.json").exists()
    assert not (data_dir / "recovery.path.txt").exists()


# --------------------------------------------------------------------------- tabs
def test_each_tab_has_its_own_autosave(qtbot, data_dir):
    """Two tabs autosave to two private files; closing one tab removes only its own."""
    win = _window(qtbot)
    first = win.current_tab
    _edit(win, 8)
    second = win.new_tab(build(DEFAULT_TEMPLATE))
    _edit(win, 16)
    assert first.autosaver.autosave() and second.autosaver.autosave()
    assert first.autosaver.path != second.autosaver.path
    assert stat.S_IMODE(second.autosaver.path.stat().st_mode) == 0o600
    assert win.close_tab(second)
    assert not second.autosaver.path.exists()
    assert fileformat.load(first.autosaver.path).params("branch1_1x1")["out_channels"] == 8


def test_warning_stays_while_another_tab_fails(qtbot, data_dir):
    """A tab whose autosave works does not hide the warning of a tab whose autosave fails."""
    win = _window(qtbot)
    first = win.current_tab
    _edit(win, 8)
    data_dir.mkdir(parents=True, exist_ok=True)
    first.autosaver.path.mkdir()
    assert not first.autosaver.autosave()
    win.new_tab(build(DEFAULT_TEMPLATE))
    _edit(win, 16)
    assert win.autosaver.autosave()
    assert not win.autosave_warning.isHidden()


def test_autosave_in_an_earlier_fallback_folder_is_offered(qtbot, data_dir, tmp_path, offers):
    """An autosave left in the temporary fallback folder is offered once the data folder works."""
    fallback = tmp_path / "tmp" / f"convcanvas-{os.getuid()}"
    fallback.mkdir(mode=0o700)
    model = build(DEFAULT_TEMPLATE)
    model.set_param("branch1_1x1", "out_channels", 24)
    left = _dead_autosave(fallback, fileformat.dumps(model))
    win = _window(qtbot)
    assert len(offers) == 1
    assert win.doc.model.params("branch1_1x1")["out_channels"] == 24
    assert not left.exists() and win.autosaver.path.parent == data_dir


def test_without_file_locks_the_process_id_decides(data_dir, monkeypatch):
    """Where files cannot be locked, autosave works and only a dead owner's autosave is offered."""

    def no_locks(fd, operation):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(autosave.fcntl, "flock", no_locks)
    running = _autosaved_design(data_dir, 8)  # owned by this process
    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    gone = int(ended.stdout)
    left = _dead_autosave(data_dir, fileformat.dumps(build(DEFAULT_TEMPLATE)), f"{gone}-x")
    (data_dir / f"autosave-{gone}-x.lock").write_text(f"{gone}\n")
    found = autosave.find_orphans(data_dir)
    assert [o.design for o in found] == [left]
    assert running.path.exists()
    found[0].release()


def test_deleted_folder_is_made_again_with_its_lock(data_dir):
    """When the data folder is removed while a design is open, the next autosave remakes it,
    lock included, so the running design's autosave is still not offered to others."""
    saver = _autosaved_design(data_dir, 8)
    for path in data_dir.iterdir():
        path.unlink()
    data_dir.rmdir()
    saver.doc.undo_stack.push(SetParamCommand(saver.doc, "branch1_1x1", "out_channels", 12))
    assert saver.autosave()
    assert saver.slot.lock_path.exists() and autosave.find_orphans(data_dir) == []
