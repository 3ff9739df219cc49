"""Read an ONNX file safely: sizes and external-data references are checked first.

The protobuf is parsed without its external data; then every tensor (initialisers and
``Constant`` nodes' values) is checked: its declared size (dims × element size) against
:data:`MAX_TENSOR_BYTES` and the sum against :data:`MAX_TOTAL_BYTES`, and an external
reference must name a file inside the model's folder, with its offset and length inside
that file. Only then are tensors read. Nothing in the file is run (ONNX holds no code,
and functions or subgraphs are refused later as unsupported operations).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from engine.onnx.errors import OnnxReadError

MAX_FILE_BYTES = 2 << 30  # protobuf's own limit
MAX_TENSOR_BYTES = 1 << 30
MAX_TOTAL_BYTES = 4 << 30


@dataclass
class OnnxFile:
    """A parsed ONNX model and its checked tensors."""

    path: Path
    model: onnx.ModelProto
    tensors: dict[str, np.ndarray] = field(default_factory=dict)  # initialisers by name

    @property
    def graph(self) -> onnx.GraphProto:
        """The main graph."""
        return self.model.graph

    @property
    def opset(self) -> int:
        """The default domain's opset version (1 if none is declared)."""
        for o in self.model.opset_import:
            if o.domain in ("", "ai.onnx"):
                return int(o.version)
        return 1


def _itemsize(t: onnx.TensorProto) -> int:
    try:
        return int(np.dtype(onnx.helper.tensor_dtype_to_np_dtype(t.data_type)).itemsize)
    except (KeyError, TypeError, ValueError):
        raise OnnxReadError(
            f"tensor '{t.name}' has an unknown element type {t.data_type}"
        ) from None


def declared_bytes(t: onnx.TensorProto) -> int:
    """The size a tensor declares (dims × element size), before reading any data."""
    n = 1
    for d in t.dims:
        if d < 0:
            raise OnnxReadError(f"tensor '{t.name}' declares a negative dimension {d}")
        n *= int(d)
    return n * _itemsize(t)


def _external(t: onnx.TensorProto) -> dict[str, str]:
    return {e.key: e.value for e in t.external_data}


def _check_external(t: onnx.TensorProto, folder: Path, need: int) -> tuple[Path, int, int]:
    info = _external(t)
    loc = info.get("location", "")
    if not loc:
        raise OnnxReadError(f"tensor '{t.name}' is stored outside the file but names no file")
    target = (folder / loc).resolve()
    try:
        target.relative_to(folder.resolve())
    except ValueError:
        raise OnnxReadError(
            f"tensor '{t.name}' points outside the model's folder ({loc!r}); refused"
        ) from None
    if not target.is_file():
        raise OnnxReadError(f"tensor '{t.name}': its data file {loc!r} does not exist")
    try:
        offset = int(info.get("offset", "0") or 0)
        length = int(info.get("length", str(need)) or need)
    except ValueError:
        raise OnnxReadError(f"tensor '{t.name}': offset or length is not a number") from None
    size = target.stat().st_size
    if offset < 0 or length != need or offset + length > size:
        raise OnnxReadError(
            f"tensor '{t.name}': {loc!r} holds {size} bytes, the tensor needs {need} at "
            f"offset {offset} (length {length})"
        )
    return target, offset, length


def _tensors_of(model: onnx.ModelProto) -> list[onnx.TensorProto]:
    out = list(model.graph.initializer)
    for node in model.graph.node:
        if node.op_type == "Constant":
            for a in node.attribute:
                if a.type == onnx.AttributeProto.TENSOR:
                    out.append(a.t)
    return out


def to_array(t: onnx.TensorProto, folder: Path) -> np.ndarray:
    """A checked tensor's values (external data read from its checked file)."""
    need = declared_bytes(t)
    if t.data_location == onnx.TensorProto.EXTERNAL:
        target, offset, length = _check_external(t, folder, need)
        with open(target, "rb") as fh:
            fh.seek(offset)
            raw = fh.read(length)
        copy = onnx.TensorProto()
        copy.CopyFrom(t)
        del copy.external_data[:]
        copy.data_location = onnx.TensorProto.DEFAULT
        copy.raw_data = raw
        t = copy
    try:
        return numpy_helper.to_array(t)
    except Exception as exc:  # malformed data: a clear message, not a traceback
        raise OnnxReadError(f"tensor '{t.name}' cannot be read: {exc}") from None


def read_model(path: str | os.PathLike) -> OnnxFile:
    """Parse an ONNX file and read its initialisers after checking them.

    Parameters
    ----------
    path : str or PathLike
        The ``.onnx`` file.

    Returns
    -------
    OnnxFile

    Raises
    ------
    OnnxReadError
        If the file is missing, too large, not ONNX, or declares a tensor over the size
        limits or external data outside its folder (nothing is read then).
    """
    p = Path(path)
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise OnnxReadError(f"cannot read {p.name}: {exc.strerror or exc}") from None
    if size > MAX_FILE_BYTES:
        raise OnnxReadError(f"{p.name} is {size:,} bytes; ONNX files end at 2 GiB")
    try:
        model = onnx.load(str(p), load_external_data=False)
    except Exception as exc:
        why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise OnnxReadError(f"{p.name} is not a readable ONNX file: {why}") from None
    if not model.HasField("graph") or not model.graph.node:
        raise OnnxReadError(f"{p.name} holds no ONNX graph")
    folder = p.resolve().parent
    total = 0
    for t in _tensors_of(model):
        need = declared_bytes(t)
        if need > MAX_TENSOR_BYTES:
            raise OnnxReadError(
                f"tensor '{t.name}' declares {need:,} bytes (limit {MAX_TENSOR_BYTES:,}); refused "
                "before reading it"
            )
        total += need
        if t.data_location == onnx.TensorProto.EXTERNAL:
            _check_external(t, folder, need)
    if total > MAX_TOTAL_BYTES:
        raise OnnxReadError(
            f"the file's tensors declare {total:,} bytes in all (limit {MAX_TOTAL_BYTES:,}); "
            "refused before reading them"
        )
    tensors = {t.name: to_array(t, folder) for t in model.graph.initializer}
    return OnnxFile(p, model, tensors)
