"""Checks made on a file before anything reads it (no torch, no unpickling).

A weights file is opened only after :func:`guard_weights_file` has looked at what the
file *declares*: that it is a regular file (a FIFO would block a reader forever, a device
never ends), the sizes in a zip's central directory (a 3 MB ``.pt`` can declare a 3 GiB
record, which ``torch.load`` would allocate), and a ``.safetensors`` header (its length,
that it is a table of tensors whose offsets lie inside the file, and their dtypes). Each
refusal is a :class:`FileGuardError` naming the file and what is wrong.

:func:`weights_warnings` names tensors holding NaN or infinity and BatchNorm running
variances below zero, after loading; callers show them (the command line prints one
``warning:`` line each).
"""

from __future__ import annotations

import errno
import json
import math
import os
import stat
import struct
import zipfile
from collections.abc import Mapping
from pathlib import Path

from engine.core.errors import EngineError

#: Default refusal limit for the bytes a weights file declares (when no design is known).
DEFAULT_LIMIT = 2 << 30
#: The pickle record of a torch zip file holds the structure only; its tensors are apart.
PICKLE_RECORD_LIMIT = 64 << 20
#: The safetensors library's own header limit.
MAX_HEADER = 100 << 20
#: How many times the design's float32 parameter bytes a weights file may declare.
LIMIT_FACTOR = 4
#: Floor of the design-based limit (small designs, metadata, padding).
LIMIT_FLOOR = 16 << 20

_FLOAT_DTYPES = {"F16", "BF16", "F32", "F64", "F8_E4M3", "F8_E5M2"}
#: Bytes per element of each safetensors dtype (the torch-free header reader uses it too).
ITEMSIZE = {
    "F64": 8,
    "F32": 4,
    "F16": 2,
    "BF16": 2,
    "F8_E4M3": 1,
    "F8_E5M2": 1,
    "I64": 8,
    "I32": 4,
    "I16": 2,
    "I8": 1,
    "U64": 8,
    "U32": 4,
    "U16": 2,
    "U8": 1,
    "BOOL": 1,
    "C64": 8,
    "C128": 16,
}
# BatchNorm's step counter is an integer in every state dict torch writes.
_INTEGER_OK = (".num_batches_tracked",)


class FileGuardError(EngineError):
    """A file is refused before it is read; the message names it and says why."""

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(message)
        self.path = path


class FileWarning(UserWarning):
    """Something suspicious in a file that was still loaded (non-finite weights)."""


def limit_for(parameter_count: int) -> int:
    """The bytes a weights file for a design of ``parameter_count`` numbers may declare."""
    return max(LIMIT_FLOOR, LIMIT_FACTOR * 4 * int(parameter_count))


def _mib(n: int) -> str:
    return f"{n / (1 << 20):,.1f} MiB" if n < (1 << 30) else f"{n / (1 << 30):,.2f} GiB"


def stat_regular(path: str | os.PathLike, what: str = "file") -> os.stat_result:
    """``os.stat`` of a regular file, else :class:`FileGuardError` saying what it is.

    Links are followed; a loop of links, a folder, a FIFO, a device or a socket is named
    as such (never "no such file"), and nothing is opened.
    """
    name = Path(path).name or str(path)
    try:
        st = os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            why = "a loop of symbolic links (it never reaches a file)"
        elif exc.errno == errno.ENOENT:
            why = "a broken symbolic link" if os.path.islink(path) else "no such file"
        elif exc.errno in (errno.EACCES, errno.EPERM):
            why = "permission denied"
        elif exc.errno == errno.ENAMETOOLONG:
            why = "the name is too long"
        else:
            why = f"cannot read: {exc.strerror or exc}"
        raise FileGuardError(f"{name}: {why}", str(path)) from None
    mode = st.st_mode
    if stat.S_ISREG(mode):
        return st
    if stat.S_ISDIR(mode):
        kind = "a folder"
    elif stat.S_ISFIFO(mode):
        kind = "a FIFO (named pipe)"
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        kind = "a device"
    elif stat.S_ISSOCK(mode):
        kind = "a socket"
    else:
        kind = "not a regular file"
    raise FileGuardError(f"{name}: is {kind}, not a {what}; only regular files are read", str(path))


def zip_records(path: str | os.PathLike) -> list[tuple[str, int]]:
    """``(name, declared size)`` of each record in a zip's central directory (nothing else read)."""
    with zipfile.ZipFile(path) as zf:
        return [(i.filename, i.file_size) for i in zf.infolist()]


def check_zip(path: str | os.PathLike, limit: int) -> None:
    """Refuse a torch zip file whose declared record sizes exceed ``limit`` (or 64 MiB of pickle).

    Raises
    ------
    FileGuardError
        Naming the largest record and the declared total.
    """
    name = Path(path).name
    try:
        records = zip_records(path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise FileGuardError(
            f"{name}: cannot load weights: it is not a file written by torch.save, or it is "
            f"damaged (a damaged zip: {str(exc)[:120]})",
            str(path),
        ) from None
    total = sum(size for _, size in records)
    big_name, big = max(records, key=lambda r: r[1], default=("", 0))
    pickles = [(n, s) for n, s in records if n.endswith(".pkl") and s > PICKLE_RECORD_LIMIT]
    if pickles:
        n, s = pickles[0]
        raise FileGuardError(
            f"{name}: refused before reading: its record '{n}' declares {_mib(s)} of pickle "
            f"(a state dict needs far less than {_mib(PICKLE_RECORD_LIMIT)})",
            str(path),
        )
    if total > limit:
        raise FileGuardError(
            f"{name}: refused before reading: it declares {_mib(total)} of data (largest "
            f"record '{big_name}', {_mib(big)}), more than the limit of {_mib(limit)} for "
            f"this design",
            str(path),
        )


def _header_error(name: str, why: str, path: str) -> FileGuardError:
    return FileGuardError(f"{name}: not a valid safetensors file: {why}", path)


def check_safetensors(path: str | os.PathLike, size: int, limit: int) -> None:
    """Validate a safetensors header against the file's ``size`` before the library reads it.

    Checks: at least 8 bytes; a header length that fits in the file and under 100 MiB;
    a JSON object whose entries have a known dtype, a shape of non-negative integers and
    offsets that match the shape and tile the rest of the file exactly; the total within
    ``limit``; floating-point dtypes only (BatchNorm's ``num_batches_tracked`` aside).

    Raises
    ------
    FileGuardError
        Naming the file and the first problem found.
    """
    p = str(path)
    name = Path(path).name
    if size == 0:
        raise _header_error(name, "the file is empty", p)
    if size < 8:
        raise _header_error(name, f"only {size} bytes long, shorter than its 8-byte header", p)
    with open(path, "rb") as fh:
        (n,) = struct.unpack("<Q", fh.read(8))
        if n > MAX_HEADER:
            raise _header_error(
                name, f"its header length {n:,} is over the {_mib(MAX_HEADER)} limit", p
            )
        if n < 2 or 8 + n > size:
            raise _header_error(
                name, f"its header length {n:,} does not fit a file of {size:,} bytes", p
            )
        raw = fh.read(n)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise _header_error(name, "its header is not JSON text", p) from None
    if not isinstance(header, dict):
        raise _header_error(
            name, f"its header is a {type(header).__name__}, not a table of tensors", p
        )
    body = size - 8 - n
    spans = []
    wrong_dtype = []
    for key, info in header.items():
        if key == "__metadata__":
            if not isinstance(info, dict):
                raise _header_error(name, "its metadata is not a table of text", p)
            continue
        ok = (
            isinstance(info, dict)
            and info.get("dtype") in ITEMSIZE
            and isinstance(info.get("shape"), list)
            and all(type(d) is int and d >= 0 for d in info["shape"])
            and isinstance(info.get("data_offsets"), list)
            and len(info["data_offsets"]) == 2
            and all(type(d) is int and d >= 0 for d in info["data_offsets"])
        )
        if not ok:
            raise _header_error(name, f"the entry of '{key}' is malformed", p)
        start, end = info["data_offsets"]
        if not start <= end <= body:
            raise _header_error(name, f"the data of '{key}' lies outside the file", p)
        if end - start != math.prod(info["shape"]) * ITEMSIZE[info["dtype"]]:
            raise _header_error(name, f"the data of '{key}' does not match its shape", p)
        spans.append((start, end))
        if info["dtype"] not in _FLOAT_DTYPES and not key.endswith(_INTEGER_OK):
            wrong_dtype.append((key, info["dtype"]))
    declared = sum(e - s for s, e in spans)
    if declared > limit:
        raise FileGuardError(
            f"{name}: refused before reading: it declares {_mib(declared)} of tensors, more "
            f"than the limit of {_mib(limit)} for this design",
            p,
        )
    covered = 0
    for s, e in sorted(spans):
        if s != covered:
            raise _header_error(name, "its tensors overlap or leave gaps", p)
        covered = e
    if covered != body:
        raise _header_error(
            name, f"{body - covered:,} bytes after the last tensor (damaged or padded)", p
        )
    if wrong_dtype:
        refuse_dtypes(wrong_dtype, p)


def refuse_dtypes(items: list[tuple[str, str]], path: str = "") -> None:
    """Raise :class:`FileGuardError` naming tensors (``(key, dtype)``) that are not floating."""
    if items:
        raise FileGuardError(dtype_refusal(items, path), path)


def dtype_refusal(items: list[tuple[str, str]], path: str = "") -> str:
    """The message refusing tensors (``(key, dtype)``) that are not real numbers."""
    kinds = ", ".join(sorted({d for _, d in items}))
    lines = [
        f"{Path(path or 'weights').name}: {len(items)} tensor(s) hold {kinds} values; weights "
        f"must be real numbers (float), nothing was loaded:"
    ]
    lines += [f"  '{k}' is {d}" for k, d in items[:20]]
    if len(items) > 20:
        lines.append(f"  … and {len(items) - 20} more")
    return "\n".join(lines)


def _looks_like(path: str | os.PathLike) -> str:
    """``"zip"``, ``"pickle"`` (torch's legacy format) or ``"other"`` from the first bytes."""
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "zip"
    if head[:1] == b"\x80" and not _safetensors_head(path):
        return "pickle"  # (a safetensors header's length may start with byte 0x80 too)
    return "other"


def _safetensors_head(path: str | os.PathLike) -> bool:
    """Whether the file starts like safetensors: an 8-byte length, then ``{``."""
    with open(path, "rb") as fh:
        head = fh.read(9)
    return len(head) == 9 and head[8:9] == b"{"


def guard_weights_file(path: str | os.PathLike, limit: int | None = None) -> str:
    """Check a weights file before it is read; return its kind (``"zip"``, ``"safetensors"``).

    Parameters
    ----------
    path : str or PathLike
        The file (a link is followed; a loop of links is named).
    limit : int, optional
        The most bytes of tensors the file may declare; :data:`DEFAULT_LIMIT` when not
        given (callers that know the design pass :func:`limit_for` its parameter count).

    Raises
    ------
    FileGuardError
        Not a regular file, larger than allowed, a damaged or hostile header, a legacy
        (pre-1.6) torch pickle, or tensors that are not floating-point.
    """
    limit = DEFAULT_LIMIT if limit is None else int(limit)
    name = Path(path).name
    st = stat_regular(path, "weights file")
    try:
        kind = _looks_like(path)
    except OSError as exc:
        raise FileGuardError(f"{name}: cannot read: {exc.strerror or exc}", str(path)) from None
    if kind == "zip":
        check_zip(path, limit)
        return "zip"
    if kind == "pickle":
        raise FileGuardError(
            f"{name}: cannot load weights: a plain pickle or torch's legacy format (before "
            f"torch 1.6) is not read, as it can make the reader allocate any amount of "
            f"memory; save the state dict with a current torch.save, or as .safetensors",
            str(path),
        )
    if not name.lower().endswith(".safetensors") and not _safetensors_head(path):
        raise FileGuardError(
            f"{name}: cannot load weights: it is not a file written by torch.save, or it is "
            f"damaged",
            str(path),
        )
    try:
        check_safetensors(path, st.st_size, limit)
    except OSError as exc:
        raise FileGuardError(f"{name}: cannot read: {exc.strerror or exc}", str(path)) from None
    return "safetensors"


def _nonfinite(value) -> bool:
    """Whether a tensor or array (duck-typed, no torch import) holds NaN or infinity."""
    if hasattr(value, "is_floating_point"):  # a torch tensor
        if not value.is_floating_point():
            return False
        return not bool(value.isfinite().all())
    try:
        import numpy as np

        arr = np.asarray(value)
        return arr.dtype.kind == "f" and not bool(np.isfinite(arr).all())
    except (TypeError, ValueError):
        return False


def weights_warnings(state: Mapping, path: str = "") -> list[str]:
    """One line per tensor holding NaN or infinity, and per negative BatchNorm running variance."""
    name = Path(path or "weights").name
    bad = [k for k, v in state.items() if _nonfinite(v)]
    out = []
    if bad:
        shown = ", ".join(f"'{k}'" for k in bad[:10]) + (" …" if len(bad) > 10 else "")
        out.append(f"{name}: {len(bad)} tensor(s) hold NaN or infinite values: {shown}")
    neg = []
    for k, v in state.items():
        if k.endswith(".running_var") and hasattr(v, "min"):
            try:
                if float(v.min()) < 0:
                    neg.append(k)
            except (TypeError, ValueError, RuntimeError):
                continue
    if neg:
        shown = ", ".join(f"'{k}'" for k in neg[:10]) + (" …" if len(neg) > 10 else "")
        out.append(f"{name}: {len(neg)} BatchNorm running variance(s) below zero: {shown}")
    return out


def non_floating(state: Mapping) -> list[tuple[str, str]]:
    """``(key, dtype)`` of tensors that are not floating-point (``num_batches_tracked`` aside)."""
    out = []
    for k, v in state.items():
        if not hasattr(v, "is_floating_point") or str(k).endswith(_INTEGER_OK):
            continue
        if not v.is_floating_point():
            out.append((str(k), str(v.dtype).removeprefix("torch.")))
    return out


def guard_state(state: Mapping, path: str = "") -> None:
    """After loading: refuse non-floating tensors, warn (:class:`FileWarning`) about odd values."""
    import warnings

    refuse_dtypes(non_floating(state), path)
    for line in weights_warnings(state, path):
        warnings.warn(line, FileWarning, stacklevel=3)
