"""Files around the window: recent files, autosave and recovery, unsaved-changes prompts.

The data folder is ``QStandardPaths.AppDataLocation``, or ``$CONVCANVAS_DATA_DIR`` when
set (tests point it at a temporary folder); settings live there too in that case.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, QStandardPaths, QTimer, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from designer.document import Document
from engine.core import fileformat
from engine.core.errors import FormatError

RECOVERY_NAME = "recovery.convcanvas.json"
RECOVERY_META = "recovery.path.txt"
AUTOSAVE_MS = 30_000
MAX_RECENT = 10
FILE_FILTER = "ConvCanvas graphs (*.json *.convcanvas);;All files (*)"


def data_dir() -> Path:
    """The folder for recovery files (created on demand)."""
    env = os.environ.get("CONVCANVAS_DATA_DIR")
    if env:
        path = Path(env)
    else:
        loc = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
        path = Path(loc) if loc else Path.home() / ".convcanvas"
    path.mkdir(parents=True, exist_ok=True)
    return path


def settings() -> QSettings:
    """The application's settings (an ini file in the data folder when overridden)."""
    env = os.environ.get("CONVCANVAS_DATA_DIR")
    if env:
        return QSettings(str(Path(env) / "settings.ini"), QSettings.Format.IniFormat)
    return QSettings("ConvCanvas", "ConvCanvas")


# --------------------------------------------------------------------------- recent files
class RecentFiles(QObject):
    """The most recently opened or saved files, newest first, kept in settings."""

    changed = Signal()
    KEY = "recent_files"

    def paths(self) -> list[Path]:
        """Recent files that still exist."""
        raw = settings().value(self.KEY, [])
        if isinstance(raw, str):
            raw = [raw]
        return [Path(p) for p in (raw or []) if p and Path(p).exists()]

    def add(self, path: str | Path) -> None:
        """Put ``path`` first."""
        path = str(Path(path).resolve())
        items = [str(p) for p in self.paths() if str(p) != path]
        settings().setValue(self.KEY, [path] + items[: MAX_RECENT - 1])
        self.changed.emit()

    def clear(self) -> None:
        """Forget every recent file."""
        settings().setValue(self.KEY, [])
        self.changed.emit()


# --------------------------------------------------------------------------- autosave
def recovery_path() -> Path:
    """Where the autosaved copy of unsaved work goes."""
    return data_dir() / RECOVERY_NAME


def recovery_available() -> bool:
    """Whether an autosave from an earlier session is waiting."""
    return recovery_path().exists()


def recovered_origin() -> Path | None:
    """The file the recovered work was opened from, if any."""
    meta = data_dir() / RECOVERY_META
    try:
        text = meta.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return Path(text) if text else None


def remove_recovery() -> None:
    """Delete the recovery file (after a clean exit or a save)."""
    for name in (RECOVERY_NAME, RECOVERY_META):
        try:
            (data_dir() / name).unlink()
        except FileNotFoundError:
            pass


class Autosaver(QObject):
    """Writes the document to the recovery file every 30 s while it has unsaved changes."""

    saved = Signal(object)  # Path of the recovery file

    def __init__(
        self, doc: Document, parent: QObject | None = None, interval_ms: int = AUTOSAVE_MS
    ) -> None:
        super().__init__(parent)
        self.doc = doc
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.autosave)
        self.timer.start()

    def autosave(self) -> bool:
        """Save a recovery copy if there are unsaved changes; return whether it wrote."""
        if not self.doc.modified:
            return False
        path = recovery_path()
        try:
            fileformat.save(self.doc.model, path)
            meta = data_dir() / RECOVERY_META
            meta.write_text(str(self.doc.path or ""), encoding="utf-8")
        except OSError:
            return False  # never interrupt the user for a failed background save
        self.saved.emit(path)
        return True

    def stop(self) -> None:
        """Stop the timer."""
        self.timer.stop()


def load_recovery():
    """The recovered model, or ``None`` if the recovery file is unreadable (it is then kept)."""
    try:
        return fileformat.load(recovery_path())
    except FormatError:
        return None


# --------------------------------------------------------------------------- prompts
SAVE, DISCARD, CANCEL = "save", "discard", "cancel"


def ask_save_changes(parent: QWidget | None, name: str) -> str:
    """Ask whether to save ``name``'s changes: :data:`SAVE`, :data:`DISCARD` or :data:`CANCEL`."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle("Unsaved changes")
    box.setText(f"“{name}” has changes that are not saved.")
    box.setInformativeText("Save them first?")
    box.setStandardButtons(
        QMessageBox.StandardButton.Save
        | QMessageBox.StandardButton.Discard
        | QMessageBox.StandardButton.Cancel
    )
    box.setDefaultButton(QMessageBox.StandardButton.Save)
    answer = box.exec()
    if answer == QMessageBox.StandardButton.Save:
        return SAVE
    if answer == QMessageBox.StandardButton.Discard:
        return DISCARD
    return CANCEL


def ask_restore(parent: QWidget | None) -> bool:
    """Ask whether to restore the autosaved work of an earlier session."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle("Recover unsaved work")
    box.setText(
        "ConvCanvas did not close cleanly last time. Restore the unsaved design it autosaved?"
    )
    box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
    box.setDefaultButton(QMessageBox.StandardButton.Yes)
    return box.exec() == QMessageBox.StandardButton.Yes


def show_error(parent: QWidget | None, title: str, text: str) -> None:
    """Show an error message box."""
    QMessageBox.critical(parent, title, text)
