"""What the worker process and its client exchange: events, and feature maps in shared memory.

The events (:class:`Progress`, :class:`Finished`, :class:`Failed`, :class:`Cancelled`,
:class:`Crashed`) are what :meth:`engine.worker.client.WorkerClient.poll` returns;
:func:`pack_maps` / :func:`unpack_maps` move the maps through one ``/dev/shm`` file that
is private to the user: an unguessable name, mode 0600, created with
``O_EXCL | O_NOFOLLOW`` (never an existing file or a symlink), removed as soon as it is
mapped; a partly written file is removed at once. No Qt, no torch.
"""

from __future__ import annotations

import errno
import math
import mmap
import os
import re
import secrets
import stat
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from engine.runtime.feature_types import FeatureResult

_ALIGN = 64


# --------------------------------------------------------------------------- events
@dataclass(frozen=True)
class Progress:
    """The worker's progress on request ``id``: ``percent`` 0–100 and what it is doing."""

    id: int
    percent: int
    text: str


@dataclass(frozen=True)
class Finished:
    """Request ``id`` succeeded. ``transfer`` is the seconds spent receiving the maps."""

    id: int
    result: FeatureResult
    transfer: float = 0.0


@dataclass(frozen=True)
class Failed:
    """Request ``id`` failed with a message for the user."""

    id: int
    message: str


@dataclass(frozen=True)
class Cancelled:
    """Request ``id`` was cancelled (by :meth:`WorkerClient.cancel`)."""

    id: int


@dataclass(frozen=True)
class Crashed:
    """The worker process died; ``id`` is the request it was running (or None)."""

    id: int | None
    message: str


# --------------------------------------------------------------------------- shared maps
#: The environment variable that points the maps files at another directory (tests).
SHM_DIR_ENV = "CONVCANVAS_SHM_DIR"
#: ``convcanvas-<worker pid>-<32 random hex digits>.maps`` (older versions: a counter).
MAPS_NAME = re.compile(r"convcanvas-(\d+)-([0-9a-f]+)\.maps")
# Files are created, never opened: an existing name (a planted file or symlink) is an
# error, a symlink is never followed, and nobody else may read or write the maps.
_CREATE = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
_CREATE |= getattr(os, "O_CLOEXEC", 0)
_OPEN = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
_MODE = 0o600
#: Space left free in shared memory beyond the maps (other programs use it too).
_MARGIN = 1 << 20


class MapsError(ValueError):
    """A maps file that is not the worker's private, complete file (nothing is read)."""


def _shm_dir() -> str | None:
    """The directory of the maps files: ``/dev/shm`` (or ``$CONVCANVAS_SHM_DIR``); None if missing."""
    path = os.environ.get(SHM_DIR_ENV) or "/dev/shm"
    return path if os.path.isdir(path) else None


def maps_layout(maps: dict[str, np.ndarray]) -> tuple[list[tuple[str, str, tuple, int]], int]:
    """``(node, dtype, shape, offset)`` per map (64-byte aligned) and the total bytes."""
    layout = []
    offset = 0
    for node, arr in maps.items():
        offset += (-offset) % _ALIGN
        layout.append((node, arr.dtype.str, tuple(arr.shape), offset))
        offset += arr.nbytes
    return layout, offset


def _create_private(directory: str) -> tuple[int, str]:
    """Create a new file only this user can read, under a name nobody can guess."""
    name = f"convcanvas-{os.getpid()}-{secrets.token_hex(16)}.maps"
    path = os.path.join(directory, name)
    return os.open(path, _CREATE, _MODE), path


def _write_at(fd: int, data: memoryview, offset: int) -> None:
    """Write all of ``data`` at ``offset`` (raises OSError, e.g. ENOSPC, when it cannot)."""
    done = 0
    while done < len(data):
        done += os.pwrite(fd, data[done:], offset + done)


def _check_space(directory: str, nbytes: int) -> None:
    """Raise ENOSPC when ``directory``'s file system cannot hold ``nbytes`` more."""
    if not hasattr(os, "statvfs"):
        return
    st = os.statvfs(directory)
    free = st.f_bavail * st.f_frsize
    if nbytes + _MARGIN > free:
        raise OSError(
            errno.ENOSPC,
            f"{nbytes / 2**20:.1f} MB needed, {free / 2**20:.1f} MB free",
            directory,
        )


def pack_maps(
    maps: dict[str, np.ndarray], directory: str, created: Callable[[str], None] | None = None
) -> tuple[str, list[tuple[str, str, tuple, int]]]:
    """Write ``maps`` into a new private file in ``directory``; return its path and layout.

    The file gets an unpredictable name and mode 0600, and is created with
    ``O_EXCL | O_NOFOLLOW`` (a file or symlink planted there is never written).
    ``created(path)`` is called as soon as the file exists (before it is written).

    Raises
    ------
    OSError
        When the file cannot be created or written (e.g. ENOSPC: shared memory is full);
        a partly written file is removed before the error is raised.
    """
    arrays = {node: np.ascontiguousarray(arr) for node, arr in maps.items()}
    layout, total = maps_layout(arrays)
    _check_space(directory, total)
    fd, path = _create_private(directory)
    try:
        if created is not None:
            created(path)
        for (_node, _dt, _shape, offset), arr in zip(layout, arrays.values()):
            if arr.nbytes:
                _write_at(fd, memoryview(arr).cast("B"), offset)
        if total and os.fstat(fd).st_size < total:  # trailing empty maps: size covers them
            os.ftruncate(fd, total)
    except BaseException:
        os.close(fd)
        remove_quietly(path)
        raise
    os.close(fd)
    return path, layout


def fallback_note(exc: OSError | None) -> str:
    """What the user is told when the maps came through the pipe (``exc``: why; None: no dir)."""
    where = os.environ.get(SHM_DIR_ENV) or "/dev/shm"
    if exc is None or exc.errno in (errno.ENOENT, errno.ENOTDIR):
        why = f"there is no shared memory ({where} is missing)"
    elif exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        detail = f": {exc.strerror}" if exc.strerror else ""
        why = f"shared memory ({where}) is full{detail}"
    else:
        why = f"shared memory ({where}) could not be used: {exc.strerror or exc}"
    return (
        f"The feature maps came through the pipe (slower) because {why}. "
        "Free space there, or give the container more (docker run --shm-size=512m)."
    )


def remove_quietly(path: str) -> None:
    """Remove the maps file name ``path`` (a file or a symlink, never its target) if there.

    Only names of maps files (:data:`MAPS_NAME`) are removed.
    """
    if MAPS_NAME.fullmatch(os.path.basename(path)) is None:
        return
    try:
        os.unlink(path)
    except OSError:
        pass


def unpack_maps(path: str, layout: list) -> dict[str, np.ndarray]:
    """Map the file read-only, remove its name, and return views of the maps.

    Raises
    ------
    MapsError
        When ``path`` is not named like a maps file, is a symlink, not a regular file,
        not this user's, readable by others, or shorter than ``layout`` needs. A maps
        file's name is removed in every case.
    """
    if MAPS_NAME.fullmatch(os.path.basename(path)) is None:
        raise MapsError(f"{path} is not the name of a maps file")
    try:
        try:
            fd = os.open(path, _OPEN)
        except OSError as exc:
            raise MapsError(f"cannot open the maps file {path}: {exc.strerror}") from exc
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise MapsError(f"the maps file {path} is not a regular file")
            if hasattr(os, "getuid") and (st.st_uid != os.getuid() or st.st_mode & 0o077):
                raise MapsError(f"the maps file {path} is not private to this user")
            need = max(
                (off + math.prod(shape) * np.dtype(dt).itemsize for _, dt, shape, off in layout),
                default=0,
            )
            if st.st_size < need:
                raise MapsError(f"the maps file {path} holds {st.st_size} bytes, {need} expected")
            mm = mmap.mmap(fd, st.st_size, access=mmap.ACCESS_READ) if st.st_size else b""
        finally:
            os.close(fd)
    finally:
        remove_quietly(path)
    maps = {}
    for node, dtype, shape, offset in layout:
        dt = np.dtype(dtype)
        count = math.prod(shape)
        maps[node] = np.frombuffer(mm, dtype=dt, count=count, offset=offset).reshape(shape)
    return maps
