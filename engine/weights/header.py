"""A ``.safetensors`` file's tensor list and metadata, read from its header (no torch).

The format: 8 bytes (little-endian header length ``n``), ``n`` bytes of JSON
(``{key: {"dtype", "shape", "data_offsets"}, "__metadata__": {text: text}}``), then the
raw tensor bytes. Only the header is read, so listing a 500 MB file costs a few kB.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from engine.core.errors import EngineError
from engine.core.filesafety import ITEMSIZE

#: Bytes per element of each real (and integer) safetensors dtype; complex ones are unknown here.
DTYPE_SIZES = {k: v for k, v in ITEMSIZE.items() if not k.startswith("C")}
#: A header larger than this is refused (safetensors' own limit is 100 MB).
MAX_HEADER = 100 << 20


class HeaderError(EngineError):
    """A file is not a readable safetensors file; the message names the file and why."""


@dataclass(frozen=True)
class TensorInfo:
    """One tensor of a file: its safetensors dtype (``"F32"``) and shape."""

    dtype: str
    shape: tuple[int, ...]


@dataclass
class WeightsHeader:
    """What a safetensors file holds, in file order, without its data."""

    tensors: dict[str, TensorInfo] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)

    def shapes(self) -> dict[str, tuple[int, ...]]:
        """``{key: shape}`` of every tensor."""
        return {k: t.shape for k, t in self.tensors.items()}


def is_safetensors(path: str | os.PathLike) -> bool:
    """Whether ``path`` starts like a safetensors file (a header length, then ``{``)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(9)
    except OSError:
        return str(path).lower().endswith(".safetensors")
    if len(head) < 9:
        return False
    n = int.from_bytes(head[:8], "little")
    return head[8:9] == b"{" and 2 <= n < (1 << 32)


def read_header(path: str | os.PathLike) -> WeightsHeader:
    """List the tensors and metadata of a ``.safetensors`` file from its header.

    Parameters
    ----------
    path : str or PathLike
        The file.

    Returns
    -------
    WeightsHeader
        Every tensor's dtype and shape, and the text metadata.

    Raises
    ------
    HeaderError
        If the file cannot be opened, or its header is not a well-formed safetensors
        header (length, JSON, dtypes, shapes, offsets that lie inside the file).
    """
    p = Path(path)
    bad = f"{p.name}: not a safetensors file, or it is damaged"
    try:
        size = p.stat().st_size
        with open(p, "rb") as fh:
            raw = fh.read(8)
            if len(raw) < 8:
                raise HeaderError(f"{bad} (shorter than 8 bytes)")
            n = int.from_bytes(raw, "little")
            if n > MAX_HEADER or 8 + n > size:
                raise HeaderError(f"{bad} (its header length {n:,} does not fit the file)")
            text = fh.read(n)
    except OSError as exc:
        raise HeaderError(f"{p.name}: cannot read: {exc.strerror or exc}") from None
    try:
        doc = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        raise HeaderError(f"{bad} (the header is not JSON)") from None
    if not isinstance(doc, dict):
        raise HeaderError(f"{bad} (the header is not a JSON object)")
    body = size - 8 - n
    out = WeightsHeader()
    for key, info in doc.items():
        if key == "__metadata__":
            if isinstance(info, dict):
                out.metadata = {str(k): str(v) for k, v in info.items()}
            continue
        out.tensors[key] = _entry(key, info, body, bad)
    return out


def _entry(key: str, info, body: int, bad: str) -> TensorInfo:
    where = f"{bad} (tensor {key!r})"
    if not isinstance(info, dict):
        raise HeaderError(where)
    dtype, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
    if dtype not in DTYPE_SIZES:
        raise HeaderError(f"{where}: unknown dtype {str(dtype)[:20]!r}")
    if not isinstance(shape, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
    ):
        raise HeaderError(f"{where}: the shape is not a list of sizes")
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in offsets)
    ):
        raise HeaderError(f"{where}: no data offsets")
    start, end = offsets
    count = 1
    for d in shape:
        count *= d
    if not 0 <= start <= end <= body or end - start != count * DTYPE_SIZES[dtype]:
        raise HeaderError(f"{where}: its data lies outside the file or has the wrong size")
    return TensorInfo(dtype, tuple(shape))
