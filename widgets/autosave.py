"""Autosave and crash recovery: one autosave per open design, owned through a lock.

Each design (a window today, a tab later) has an :class:`Autosaver`. Its files in the
data folder, ``ID`` being the process id and a random part:

``autosave-ID.lock``
    held with ``flock`` while the design is open; the kernel releases it when the process
    ends, however it ends (a crash, SIGKILL), so a dead owner is never mistaken for a live
    one, even when its process id is reused. It also holds the process id, which decides
    on file systems that cannot lock files.
``autosave-ID.convcanvas.json``
    the design, written atomically every 30 s while it has unsaved changes.
``autosave-ID.owner.json``
    who wrote it (pid, host) and from which file the design was opened.

:func:`find_orphans` lists the autosaves whose lock can be taken: no running ConvCanvas
owns them, so they are offered at start. A clean close or a save removes only the
design's own files. An autosave that cannot be read is moved to ``unreadable/``, never
deleted.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from designer.document import Document
from engine.core import fileformat
from engine.core.graph import GraphModel

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None
    import msvcrt

AUTOSAVE_MS = 30_000
PREFIX = "autosave-"
LOCK, DESIGN, OWNER = ".lock", ".convcanvas.json", ".owner.json"
UNREADABLE = "unreadable"
LEGACY = "recovery.convcanvas.json"  # the single shared file of earlier versions


# --------------------------------------------------------------------------- locks
def _try_lock(fd: int) -> bool | None:
    """Take the exclusive lock on ``fd`` without waiting.

    Returns ``True`` when taken, ``False`` when another process holds it, ``None`` when the
    file system has no locks (then the owner's process id decides, see :func:`_pid_alive`).
    """
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        else:  # pragma: no cover - Windows
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    except (BlockingIOError, PermissionError):
        return False  # EWOULDBLOCK / EAGAIN, EACCES (Windows): held elsewhere
    except OSError:
        return None  # ENOLCK, EOPNOTSUPP, EINVAL...: no locks here
    return True


def _pid_alive(lock: Path) -> bool:
    """Whether the process whose id ``lock`` holds still runs (used where files cannot be
    locked; a reused process id then delays the offer until that process ends)."""
    try:
        pid = int(lock.read_text(encoding="ascii").split()[0])
    except (OSError, ValueError, IndexError):
        return False  # no readable owner: nobody to wait for
    if os.name != "posix":  # pragma: no cover - os.kill(pid, 0) would end it on Windows
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it runs, as another user
    return True


def _unlink(*paths: Path) -> None:
    """Delete ``paths``; one that cannot be deleted stays (and is offered again, not lost)."""
    for path in paths:
        with contextlib.suppress(OSError):
            path.unlink()


def _files(folder: Path, ident: str) -> tuple[Path, Path, Path]:
    """The lock, design and owner files of autosave ``ident``."""
    stem = folder / f"{PREFIX}{ident}"
    return (
        stem.with_name(stem.name + LOCK),
        stem.with_name(stem.name + DESIGN),
        stem.with_name(stem.name + OWNER),
    )


# --------------------------------------------------------------------------- own autosave
class AutosaveSlot:
    """The autosave files of one open design (no Qt: :class:`Autosaver` drives it).

    Nothing is written before the first :meth:`write`; the lock is taken then and held
    until :meth:`close`.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.ident = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.lock_path, self.design_path, self.owner_path = _files(self.folder, self.ident)
        self._fd: int | None = None

    def _acquire(self) -> None:
        """Create and lock the lock file (under a temporary name, so that nobody sees it
        unlocked), then give it its name. A lock file deleted meanwhile (the folder
        cleaned by hand) is made again."""
        if self._fd is not None:
            if os.fstat(self._fd).st_nlink > 0:
                return
            os.close(self._fd)
            self._fd = None
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.lock_path.with_name(f".{self.lock_path.name}.tmp")
        fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            if _try_lock(fd) is False:  # None: no locks here, the process id will tell
                raise OSError(f"{tmp}: cannot lock")
            os.write(fd, f"{os.getpid()}\n".encode())
            os.replace(tmp, self.lock_path)
        except BaseException:
            os.close(fd)
            _unlink(tmp)
            raise
        self._fd = fd

    def write(self, model: GraphModel, origin: Path | None) -> Path:
        """Write the design atomically (taking the lock first); return the design file.

        Raises
        ------
        OSError
            If the folder or a file cannot be written.
        """
        self._acquire()
        text = fileformat.dumps(model)
        fileformat.write_atomic(self.design_path, lambda fh: fh.write(text), mode=0o600)
        owner = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "origin": str(origin) if origin is not None else None,
            "name": model.name,
            "saved": time.time(),
        }
        fileformat.write_atomic(self.owner_path, lambda fh: json.dump(owner, fh), mode=0o600)
        return self.design_path

    def clear(self) -> None:
        """Delete the autosaved design (after a save: nothing unsaved is left)."""
        _unlink(self.design_path, self.owner_path)

    def abandon(self) -> None:
        """Release the lock and keep the files: what a crash leaves (tests use it)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def close(self) -> None:
        """Delete every file of this autosave and release the lock (a clean close)."""
        self.clear()
        if self._fd is not None:
            _unlink(self.lock_path)
            os.close(self._fd)
            self._fd = None


# --------------------------------------------------------------------------- orphans
@dataclass
class Orphan:
    """An autosave that no running ConvCanvas owns; its lock is held while it is offered."""

    design: Path
    lock: Path | None
    owner: Path | None
    origin: Path | None = None
    name: str = ""
    saved: float = 0.0
    _fd: int | None = field(default=None, repr=False)

    def describe(self) -> str:
        """One line for the recovery prompt: the design, where it came from, when."""
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.saved))
        where = f"opened from {self.origin}" if self.origin else "never saved"
        return f"“{self.name or self.design.name}” ({where}), autosaved {when}"

    def load(self) -> GraphModel:
        """The autosaved design.

        Raises
        ------
        FormatError
            If the file cannot be read or is not a valid design.
        """
        return fileformat.load(self.design)

    def release(self) -> None:
        """Keep the files and let go of the lock (offered again at the next start)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def remove(self) -> None:
        """Delete the files (restored elsewhere, or discarded by the user)."""
        _unlink(*(p for p in (self.design, self.owner, self.lock) if p is not None))
        self.release()

    def move_aside(self) -> Path:
        """Move the unreadable design to ``unreadable/`` next to it; return where it is now."""
        folder = self.design.parent / UNREADABLE
        folder.mkdir(exist_ok=True)
        target = folder / self.design.name
        if target.exists():
            target = folder / f"{int(time.time())}-{self.design.name}"
        os.replace(self.design, target)
        self.remove()
        return target


def _owner_record(path: Path) -> dict:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def _orphan(design: Path, lock: Path | None, owner: Path | None, fd: int | None) -> Orphan:
    record = _owner_record(owner) if owner is not None else {}
    origin = record.get("origin")
    saved = record.get("saved")
    try:
        mtime = design.stat().st_mtime
    except OSError:
        mtime = 0.0
    return Orphan(
        design,
        lock,
        owner,
        Path(origin) if isinstance(origin, str) and origin else None,
        str(record.get("name") or ""),
        float(saved) if isinstance(saved, (int, float)) else mtime,
        fd,
    )


def find_orphans(folder: Path) -> list[Orphan]:
    """The autosaves in ``folder`` that no running ConvCanvas owns, newest first.

    Each returned autosave is locked by the caller until :meth:`Orphan.release` or
    :meth:`Orphan.remove`, so two windows starting together never both offer it.
    """
    folder = Path(folder)
    found: list[Orphan] = []
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return found
    for name in names:
        if not (name.startswith(PREFIX) and name.endswith(LOCK)):
            continue
        ident = name[len(PREFIX) : -len(LOCK)]
        lock, design, owner = _files(folder, ident)
        try:
            fd = os.open(lock, os.O_RDWR)
        except OSError:
            continue
        taken = _try_lock(fd)
        if taken is False or (taken is None and _pid_alive(lock)):
            os.close(fd)  # its window is open
            continue
        if design.exists():
            found.append(_orphan(design, lock, owner, fd))
        else:  # the owner ended before autosaving anything
            _unlink(owner, lock)
            os.close(fd)
    for name in names:  # a design whose lock is gone (deleted by hand, or a half-finished close)
        if name.startswith(PREFIX) and name.endswith(DESIGN):
            ident = name[len(PREFIX) : -len(DESIGN)]
            lock, design, owner = _files(folder, ident)
            if not lock.exists() and design.exists():
                found.append(_orphan(design, None, owner, None))
    legacy = folder / LEGACY
    if legacy.exists():
        orphan = _orphan(legacy, None, None, None)
        meta = folder / "recovery.path.txt"
        with contextlib.suppress(OSError):
            text = meta.read_text(encoding="utf-8").strip()
            orphan.origin = Path(text) if text else None
        orphan.owner = meta
        found.append(orphan)
    found.sort(key=lambda o: o.saved, reverse=True)
    return found


# --------------------------------------------------------------------------- the timer
class Autosaver(QObject):
    """Autosaves one document every 30 s while it has unsaved changes.

    ``saved`` is emitted with the design file after each autosave that wrote, ``failed``
    with a one-line reason when writing failed (the next tick tries again).
    """

    saved = Signal(object)  # Path of the autosaved design
    failed = Signal(str)

    def __init__(
        self,
        doc: Document,
        folder: Path,
        parent: QObject | None = None,
        interval_ms: int = AUTOSAVE_MS,
    ) -> None:
        super().__init__(parent)
        self.doc = doc
        self.slot = AutosaveSlot(folder)
        self.error: str | None = None  # the last failure, until an autosave succeeds
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.autosave)
        self.timer.start()
        doc.modified_changed.connect(self._on_modified_changed)

    @property
    def path(self) -> Path:
        """The autosaved design file (it exists only while there are unsaved changes)."""
        return self.slot.design_path

    def autosave(self) -> bool:
        """Write the design if it has unsaved changes; return whether it wrote."""
        if not self.doc.modified:
            return False
        try:
            path = self.slot.write(self.doc.model, self.doc.path)
        except OSError as exc:
            self.error = f"cannot write {self.slot.design_path}: {exc.strerror or exc}"
            self.failed.emit(self.error)
            return False
        self.error = None
        self.saved.emit(path)
        return True

    def _on_modified_changed(self, modified: bool) -> None:
        if not modified:  # saved, or undone back to the saved state
            self.slot.clear()

    def stop(self) -> None:
        """Stop the timer (the files stay, as after a crash)."""
        self.timer.stop()

    def close(self) -> None:
        """A clean close: stop and remove this document's autosave, and only it."""
        self.timer.stop()
        self.slot.close()
