"""Test settings shared by every test: headless Qt, and small helpers."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("CONVCANVAS_NO_AUTOSAVE_PROMPT", "1")

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture(autouse=True)
def _no_modifiers_left_behind():
    """QTest's Shift/Ctrl key clicks leave Qt's modifier state set; clear it after each test.

    Without this a Shift+F in one test makes a later plain click act as Shift+click.
    """
    yield
    if "PySide6.QtWidgets" not in sys.modules:
        return
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication, QWidget

    if QApplication.instance() is None:
        return
    w = QWidget()
    for key in (Qt.Key.Key_Shift, Qt.Key.Key_Control, Qt.Key.Key_Alt):
        QTest.keyRelease(w, key)
    w.deleteLater()
    assert QApplication.keyboardModifiers() == Qt.KeyboardModifier.NoModifier


@pytest.fixture
def one_torch_thread():
    """Run small torch models on one thread (steadier on a shared 2-core machine)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# Every hypothesis test draws the same examples on every run (CI must not flake); a test
# may still ask for more examples or another deadline with its own @settings.
from hypothesis import settings as _hypothesis_settings  # noqa: E402 - after the environment is set

_hypothesis_settings.register_profile(
    "convcanvas", derandomize=True, deadline=None, print_blob=True
)
_hypothesis_settings.load_profile("convcanvas")


@pytest.fixture
def win(qtbot, tmp_path, monkeypatch):
    """The main window on the default template: no worker run, recovery files in tmp_path."""
    from widgets.app import create_window

    monkeypatch.setenv("CONVCANVAS_DATA_DIR", str(tmp_path / "data"))
    w = create_window([], autorun=False, live=False)
    w.ask_save_changes = lambda *a: "discard"
    qtbot.addWidget(w)
    w.show()
    return w


@pytest.fixture(scope="module")
def client():
    """One inference worker shared by a module's tests (torch loads once per module)."""
    from engine.worker.client import WorkerClient

    c = WorkerClient()
    c.start()
    yield c
    c.close()


@pytest.fixture(scope="module")
def slow_client():
    """A worker whose layers sleep (worker_jobs.SlowJob), to act mid-run."""
    from engine.worker.client import WorkerClient

    c = WorkerClient(job="worker_jobs:SlowJob")
    c.start()
    yield c
    c.close()
