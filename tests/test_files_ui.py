"""Files through the window: save/reopen, bad files, unsaved-changes prompts, autosave, recent."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from designer.commands import SetParamCommand
from engine.core import fileformat
from widgets import files
from widgets.app import create_window
from widgets.main_window import MainWindow


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """The data folder, and a temporary directory of the test's own (fallback autosaves)."""
    d = tmp_path / "data"
    monkeypatch.setenv("CONVCANVAS_DATA_DIR", str(d))
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    return d


@pytest.fixture
def win(qtbot, data_dir):
    w = create_window([], autorun=False, live=False)
    w.ask_save_changes = lambda *a: "discard"
    w.show_error = lambda parent, title, text: pytest.fail(f"unexpected error box: {text}")
    qtbot.addWidget(w)
    return w


def _edit(win, node="branch1_1x1", value=32):
    win.doc.undo_stack.push(SetParamCommand(win.doc, node, "out_channels", value))


def test_save_as_then_reopen_round_trip(qtbot, win, tmp_path):
    """Save As writes the design; opening the file in a new window gives the same graph."""
    _edit(win)
    target = tmp_path / "mine.json"
    win.ask_save_path = lambda: target
    assert win.save_action.trigger() is None and target.exists()
    assert not win.isWindowModified()
    assert win.windowTitle() == "mine.json[*] — ConvCanvas"
    other = MainWindow(autosave=False)
    qtbot.addWidget(other)
    assert other.open_file(target)
    assert fileformat.dumps(other.doc.model) == fileformat.dumps(win.doc.model)
    assert other.doc.model.params("branch1_1x1")["out_channels"] == 32
    assert other.totals_bar.weights.value.text() == win.totals_bar.weights.value.text()


def test_save_goes_to_the_same_file(win, tmp_path):
    """After a first Save As, Save writes the same file without asking."""
    target = tmp_path / "a.json"
    win.save_as(target)
    win.ask_save_path = lambda: pytest.fail("Save asked for a path again")
    _edit(win, value=40)
    assert win.save()
    assert fileformat.load(target).params("branch1_1x1")["out_channels"] == 40


def test_corrupt_file_shows_error_and_keeps_work(win, tmp_path):
    """Opening a broken file names the file and the problem and leaves the design alone."""
    _edit(win)
    bad = tmp_path / "broken.json"
    bad.write_text(
        '{"format": "convcanvas.graph", "version": 1, "nodes": [{"id": "c", '
        '"type": "conv", "params": {"out_channels": -3, "kernel_size": 3}}]}'
    )
    shown = []
    win.show_error = lambda parent, title, text: shown.append(text)
    before = fileformat.dumps(win.doc.model)
    assert not win.open_file(bad)
    assert len(shown) == 1
    assert "broken.json" in shown[0] and "out_channels" in shown[0]
    assert fileformat.dumps(win.doc.model) == before
    assert win.isWindowModified() and win.doc.undo_stack.count() == 1


def test_new_with_unsaved_changes_keeps_the_design_in_its_tab(win):
    """File → New asks nothing: the edited design keeps its tab and history; New gets its own."""
    _edit(win)
    edited = win.current_tab
    asked = []
    win.ask_save_changes = lambda parent, name: asked.append(name) or "cancel"
    assert win.new_design()
    assert asked == [] and win.current_tab is not edited
    assert len(edited.doc.model) == 13 and edited.doc.undo_stack.count() == 1


def test_new_with_unsaved_changes_discard(win):
    """Discard starts the new design: a single 3×224×224 input."""
    _edit(win)
    win.ask_save_changes = lambda parent, name: "discard"
    assert win.new_design()
    assert win.doc.model.nodes == ["input"]
    assert win.totals_bar.weights.value.text() == "0"


def test_a_template_opens_beside_an_edited_design(win):
    """A template opens in a new tab without a prompt; the edited design keeps its change."""
    _edit(win, value=48)
    edited = win.current_tab
    asked = []
    win.ask_save_changes = lambda parent, name: asked.append(name) or "discard"
    assert win.load_template("resnet_bottleneck")
    assert asked == [] and win.current_tab is not edited
    assert edited.doc.model.params("branch1_1x1")["out_channels"] == 48
    assert win.totals_bar.weights.value.text() == "69,632"


def test_close_with_unsaved_changes_can_be_cancelled(qtbot, win):
    """Cancel on close keeps the window open."""
    win.show()
    _edit(win)
    win.ask_save_changes = lambda parent, name: "cancel"
    assert not win.close()
    assert win.isVisible()
    win.ask_save_changes = lambda parent, name: "discard"


def test_autosave_only_when_modified(win, data_dir):
    """The autosave writes the window's autosave file only while there are unsaved changes."""
    assert not win.autosaver.autosave()
    assert not win.autosaver.path.exists()
    _edit(win, value=24)
    assert win.autosaver.autosave()
    assert win.autosaver.path.parent == data_dir
    assert fileformat.load(win.autosaver.path).params("branch1_1x1")["out_channels"] == 24
    assert win.autosaver.timer.interval() == 30_000 and win.autosaver.timer.isActive()


def test_clean_exit_removes_recovery(qtbot, win, data_dir):
    """Closing the window (changes discarded) removes its autosave and its lock."""
    win.show()
    _edit(win)
    win.autosaver.autosave()
    assert win.autosaver.path.exists()
    assert win.close()
    assert sorted(p.name for p in data_dir.iterdir() if p.name.startswith("autosave-")) == []


def test_recovery_offered_and_restored(qtbot, win, data_dir):
    """An autosave left by a crash is offered at start and restores the unsaved design."""
    _edit(win, value=8)
    win.autosaver.autosave()
    win.autosaver.stop()
    win.autosaver.slot.abandon()  # as the kernel does when the process dies
    fresh = create_window(
        [], autorun=False, live=False
    )  # CONVCANVAS_NO_AUTOSAVE_PROMPT=1: not offered automatically
    qtbot.addWidget(fresh)
    fresh.ask_save_changes = lambda *a: "discard"
    assert fresh.doc.model.params("branch1_1x1")["out_channels"] == 64
    fresh.ask_restore = lambda parent, what: "restore"
    assert fresh.offer_recovery(force=True)
    assert fresh.doc.model.params("branch1_1x1")["out_channels"] == 8
    assert fresh.isWindowModified()


def test_recovery_declined_is_deleted(qtbot, win, data_dir):
    """Discarding the recovery offer deletes that autosave."""
    _edit(win)
    win.autosaver.autosave()
    win.autosaver.slot.abandon()
    fresh = MainWindow(autosave=False)
    qtbot.addWidget(fresh)
    fresh.ask_restore = lambda parent, what: files.DISCARD
    assert not fresh.offer_recovery(force=True)
    assert not win.autosaver.path.exists()


def test_recent_files_menu(win, tmp_path):
    """Saved files appear first in Open Recent, and its entries open them."""
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    win.save_as(a)
    win.save_as(b)
    assert [p.name for p in win.recent.paths()] == ["b.json", "a.json"]
    win._fill_recent()
    texts = [act.text() for act in win.recent_menu.actions()]
    assert texts[:2] == ["&1  b.json", "&2  a.json"]
    win.recent_menu.actions()[1].trigger()
    assert win.doc.path == Path(a)


def test_open_file_from_command_line(qtbot, data_dir, tmp_path):
    """create_window([FILE]) opens FILE."""
    from engine.templates import build

    f = tmp_path / "bottleneck.json"
    fileformat.save(build("resnet_bottleneck"), f)
    w = create_window([str(f)], autorun=False, live=False)
    qtbot.addWidget(w)
    assert w.doc.path == f and w.windowTitle() == "bottleneck.json[*] — ConvCanvas"
    assert w.totals_bar.weights.value.text() == "69,632"


def test_open_with_unsaved_changes_cancel_keeps_design(win, tmp_path):
    """Opening a file over unsaved work asks first; Cancel keeps the work."""
    from engine.templates import build

    f = tmp_path / "other.json"
    fileformat.save(build("resnet_basic_64"), f)
    _edit(win)
    win.ask_save_changes = lambda parent, name: "cancel"
    assert not win.open_file(f)
    assert win.doc.path is None and win.doc.model.params("branch1_1x1")["out_channels"] == 32


def test_startup_pins_the_naive_block(qtbot):
    """Without a file the editor opens on the reduced block, pinned against the naive one."""
    w = create_window([], autorun=False, live=False)
    qtbot.addWidget(w)
    assert w.totals_bar.baseline is not None
    assert w.doc.analysis.totals.weights - w.totals_bar.baseline.weights == -229_888
