"""Files around the window: the data folder, recent files, unsaved-changes and recovery prompts.

The data folder is ``QStandardPaths.AppDataLocation``, or ``$CONVCANVAS_DATA_DIR`` when
set (tests point it at a temporary folder; settings live there too in that case). When it
cannot be used (a file in its place, no permission, no HOME) a private folder in the
temporary directory is used instead and :func:`data_location` says why. Autosaves and
their recovery are in :mod:`widgets.autosave`.
"""

from __future__ import annotations

import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, QStandardPaths, Qt, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

MAX_RECENT = 10
FILE_FILTER = "ConvCanvas graphs (*.json *.convcanvas);;All files (*)"


@dataclass(frozen=True)
class DataFolder:
    """Where autosaves (and, when overridden, settings) go, and why it is not the usual place."""

    path: Path
    problem: str | None = None  # set when the preferred folder could not be used


def _preferred_folder() -> tuple[Path | None, str]:
    """The folder the user expects (or ``None``) and how to name it in a message."""
    env = os.environ.get("CONVCANVAS_DATA_DIR")
    if env:
        return Path(env), f"data folder {env} ($CONVCANVAS_DATA_DIR)"
    if os.name == "posix" and not os.environ.get("HOME"):
        return None, "data folder (HOME is not set)"
    loc = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    if loc and Path(loc).is_absolute():
        return Path(loc), f"data folder {loc}"
    try:
        home = Path.home() / ".convcanvas"
    except (RuntimeError, KeyError):
        return None, "data folder (no home folder)"
    return home, f"data folder {home}"


def folder_problem(path: Path) -> str | None:
    """Why ``path`` cannot hold our files (created on demand), or ``None`` if it can."""
    try:
        if path.exists() and not path.is_dir():
            return "a file is in its place"
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".probe-", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def _temp_folder_path() -> Path:
    """Where this user's fallback folder goes in the temporary directory."""
    uid = os.getuid() if hasattr(os, "getuid") else None
    return Path(tempfile.gettempdir()) / (f"convcanvas-{uid}" if uid is not None else "convcanvas")


def _is_ours(path: Path) -> bool:
    """Whether ``path`` is a real folder (not a link) owned by this user."""
    try:
        info = path.lstat()
    except OSError:
        return False
    uid = os.getuid() if hasattr(os, "getuid") else None
    return stat.S_ISDIR(info.st_mode) and (uid is None or info.st_uid == uid)


def _private_temp_folder() -> Path:
    """A folder in the temporary directory that only this user can use."""
    path = _temp_folder_path()
    try:
        path.mkdir(mode=0o700, exist_ok=True)
        if _is_ours(path):
            os.chmod(path, 0o700)
            return path
    except OSError:
        pass
    # Taken by someone else, a link, or a file: a fresh private folder instead.
    return Path(tempfile.mkdtemp(prefix="convcanvas-"))


def earlier_fallback_folder() -> Path | None:
    """This user's fallback folder if an earlier session used it (it may hold autosaves)."""
    path = _temp_folder_path()
    return path if _is_ours(path) else None


def data_location() -> DataFolder:
    """The folder for autosaves: the usual one, or a temporary one when that is unusable.

    Never raises: when even the temporary folder fails, it is returned with its problem,
    and the autosave reports the failure.
    """
    preferred, label = _preferred_folder()
    problem = None if preferred is None else folder_problem(preferred)
    if preferred is not None and problem is None:
        return DataFolder(preferred)
    reason = f"{label}: {problem}" if problem else label
    try:
        fallback = _private_temp_folder()
    except OSError as exc:
        fallback = Path(tempfile.gettempdir()) / "convcanvas"
        return DataFolder(fallback, f"cannot use the {reason}; no temporary folder either: {exc}")
    return DataFolder(fallback, f"cannot use the {reason}")


def data_dir() -> Path:
    """The folder for autosaves (see :func:`data_location`)."""
    return data_location().path


def settings() -> QSettings:
    """The application's settings (an ini file in the data folder when overridden)."""
    if os.environ.get("CONVCANVAS_DATA_DIR"):
        return QSettings(str(data_dir() / "settings.ini"), QSettings.Format.IniFormat)
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


# --------------------------------------------------------------------------- prompts
SAVE, DISCARD, CANCEL = "save", "discard", "cancel"


def ask_save_changes(parent: QWidget | None, name: str) -> str:
    """Ask whether to save ``name``'s changes: :data:`SAVE`, :data:`DISCARD` or :data:`CANCEL`."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle("Unsaved changes")
    box.setTextFormat(Qt.TextFormat.PlainText)  # the name is shown as typed
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


RESTORE, KEEP = "restore", "keep"


def ask_restore(parent: QWidget | None, what: str) -> str:
    """Ask what to do with an autosave ``what`` describes: :data:`RESTORE`, :data:`DISCARD`
    or :data:`KEEP` (offered again at the next start)."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle("Recover unsaved work")
    box.setTextFormat(Qt.TextFormat.PlainText)  # names and paths in ``what``
    box.setText("A ConvCanvas window did not close cleanly. It autosaved unsaved work:")
    box.setInformativeText(f"{what}\n\nRestore it? “Later” keeps it for the next start.")
    restore = box.addButton("Restore", QMessageBox.ButtonRole.AcceptRole)
    discard = box.addButton("Discard", QMessageBox.ButtonRole.DestructiveRole)
    later = box.addButton("Later", QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(restore)
    box.setEscapeButton(later)
    box.exec()
    clicked = box.clickedButton()
    if clicked is restore:
        return RESTORE
    if clicked is discard:
        return DISCARD
    return KEEP


def ask_replace(parent: QWidget | None, title: str, text: str) -> bool:
    """Ask whether to replace a file (plain text); ``False`` unless the user says yes."""
    box = QMessageBox(
        QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.NoButton, parent
    )
    box.setTextFormat(Qt.TextFormat.PlainText)
    replace = box.addButton("Replace", QMessageBox.ButtonRole.DestructiveRole)
    keep = box.addButton("Cancel", QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(keep)
    box.setEscapeButton(keep)
    box.exec()
    return box.clickedButton() is replace


def _message(parent: QWidget | None, icon, title: str, text: str) -> None:
    """A modal message box showing ``text`` as plain text (names in it are never HTML)."""
    box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, parent)
    box.setTextFormat(Qt.TextFormat.PlainText)
    box.exec()


def show_notice(parent: QWidget | None, title: str, text: str) -> None:
    """Show a warning message box (something the user should know; nothing was lost)."""
    _message(parent, QMessageBox.Icon.Warning, title, text)


def show_error(parent: QWidget | None, title: str, text: str) -> None:
    """Show an error message box."""
    _message(parent, QMessageBox.Icon.Critical, title, text)
