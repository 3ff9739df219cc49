"""What the worker process and its client exchange: events, and feature maps in shared memory.

The events (:class:`Progress`, :class:`Finished`, :class:`Failed`, :class:`Cancelled`,
:class:`Crashed`) are what :meth:`engine.worker.client.WorkerClient.poll` returns;
:func:`pack_maps` / :func:`unpack_maps` move the maps through one ``/dev/shm`` file.
No Qt, no torch.
"""

from __future__ import annotations

import mmap
import os
import tempfile
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
def _shm_dir() -> str:
    return "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()


def pack_maps(maps: dict[str, np.ndarray], path: str) -> list[tuple[str, str, tuple, int]]:
    """Write ``maps`` into one file; return ``(node, dtype, shape, offset)`` per map."""
    layout = []
    offset = 0
    with open(path, "wb") as fh:
        for node, arr in maps.items():
            arr = np.ascontiguousarray(arr)
            pad = (-offset) % _ALIGN
            if pad:
                fh.write(b"\0" * pad)
                offset += pad
            layout.append((node, arr.dtype.str, tuple(arr.shape), offset))
            if arr.nbytes:
                fh.write(memoryview(arr).cast("B"))
            offset += arr.nbytes
    return layout


def unpack_maps(path: str, layout: list) -> dict[str, np.ndarray]:
    """Map the file read-only, remove its name, and return views of the maps."""
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        mm = mmap.mmap(fd, size, access=mmap.ACCESS_READ) if size else b""
    finally:
        os.close(fd)
        try:
            os.unlink(path)
        except OSError:
            pass
    maps = {}
    for node, dtype, shape, offset in layout:
        dt = np.dtype(dtype)
        count = int(np.prod(shape, dtype=np.int64))
        maps[node] = np.frombuffer(mm, dtype=dt, count=count, offset=offset).reshape(shape)
    return maps
