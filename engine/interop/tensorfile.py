"""Writing and reading a state dict as ``.safetensors`` (no pickle) or ``.pt``.

The safetensors layout is small enough to write here: an 8-byte little-endian header
length, a JSON header (``{key: {"dtype", "shape", "data_offsets"}}``), then the raw
little-endian tensor bytes. Reading checks every offset and never runs code.
``.pt`` files are written with ``torch.save`` of the state dict only.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import torch

from engine.core.errors import EngineError
from engine.core.fileformat import write_atomic

_DTYPES = {
    torch.float32: "F32",
    torch.float64: "F64",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.int64: "I64",
    torch.int32: "I32",
    torch.int16: "I16",
    torch.int8: "I8",
    torch.uint8: "U8",
    torch.bool: "BOOL",
}
_FROM = {v: k for k, v in _DTYPES.items()}
MAX_HEADER = 100 << 20


class TensorFileError(EngineError):
    """A weights file cannot be written or read; the message says which and why."""


def save_state(state: dict, path: str | os.PathLike) -> None:
    """Write ``state`` to ``path``: safetensors for ``.safetensors``, else ``torch.save``.

    Raises
    ------
    TensorFileError
        On an unsupported dtype; OSError from the file system.
    """
    path = Path(path)
    if path.suffix.lower() != ".safetensors":
        write_atomic(path, lambda fh: torch.save(dict(state), fh), binary=True)
        return
    header: dict = {}
    blobs = []
    offset = 0
    for key, t in state.items():
        if t.dtype not in _DTYPES:
            raise TensorFileError(f"{key}: cannot store dtype {t.dtype} in safetensors")
        data = t.detach().contiguous().cpu().reshape(-1).view(torch.uint8).numpy().tobytes()
        header[key] = {
            "dtype": _DTYPES[t.dtype],
            "shape": list(t.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)

    def write(fh) -> None:
        fh.write(struct.pack("<Q", len(text)))
        fh.write(text)
        for b in blobs:
            fh.write(b)

    write_atomic(path, write, binary=True)


def load_safetensors(path: str | os.PathLike) -> dict:
    """Read a ``.safetensors`` file into ``{key: tensor}`` (no code is run).

    Raises
    ------
    TensorFileError
        If the file is missing, truncated or its header is malformed.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise TensorFileError(f"{path.name}: cannot read: {exc.strerror or exc}") from None
    bad = f"{path.name}: not a safetensors file or damaged"
    if len(raw) < 8:
        raise TensorFileError(bad)
    (n,) = struct.unpack("<Q", raw[:8])
    if n > MAX_HEADER or 8 + n > len(raw):
        raise TensorFileError(bad)
    try:
        header = json.loads(raw[8 : 8 + n])
    except (ValueError, UnicodeDecodeError):
        raise TensorFileError(bad + " (header is not JSON)") from None
    if not isinstance(header, dict):
        raise TensorFileError(bad)
    body = memoryview(raw)[8 + n :]
    out = {}
    for key, info in header.items():
        if key == "__metadata__":
            continue
        try:
            dtype = _FROM[info["dtype"]]
            shape = [int(d) for d in info["shape"]]
            start, end = (int(v) for v in info["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise TensorFileError(f"{bad} (entry '{key}')") from None
        if not 0 <= start <= end <= len(body):
            raise TensorFileError(f"{bad} (entry '{key}' lies outside the file)")
        t = torch.frombuffer(bytearray(body[start:end]), dtype=torch.uint8)
        numel = 1
        for d in shape:
            numel *= d
        if t.numel() != numel * torch.empty((), dtype=dtype).element_size():
            raise TensorFileError(f"{bad} (entry '{key}' has the wrong size)")
        out[key] = t.view(dtype).reshape(shape) if numel else torch.empty(shape, dtype=dtype)
    return out
