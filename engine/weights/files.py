"""A design's weights file beside its JSON file (numpy + safetensors, no torch).

Saving a design that uses trained or loaded weights writes ``NAME.safetensors`` beside
``NAME.json`` first, then the JSON, which names that file and its SHA-256
(:func:`engine.core.fileformat.weights_ref`); reopening checks the hash before using it.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from engine.core.errors import EngineError
from engine.core.fileformat import write_atomic


def weights_meta(result, seed: int | None = None) -> dict[str, str]:
    """The metadata saved with trained weights (strings, as safetensors stores them).

    Parameters
    ----------
    result : engine.training.loop.TrainResult
        The finished run (``data_name``, ``classes``, ``accuracy``, ``steps``).
    seed : int or None
        The run's seed, recorded when given.
    """
    meta = {
        "format": "convcanvas.weights",
        "data": result.data_name,
        "classes": json.dumps(list(result.classes)),
        "accuracy": f"{result.accuracy:.6f}",
        "steps": str(result.steps),
    }
    if seed is not None:
        meta["seed"] = str(seed)
    return meta


class DesignWeightsError(EngineError):
    """The weights file a design names is missing, changed or unreadable."""


def sha256_of(path: str | os.PathLike) -> str:
    """Lowercase hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def weights_path_for(json_path: str | os.PathLike) -> Path:
    """``NAME.safetensors`` beside ``NAME.json``."""
    p = Path(json_path)
    return p.with_name(p.stem + ".safetensors")


def design_weights_data(state: dict, meta: dict, json_path: str | os.PathLike) -> tuple:
    """``(path, bytes, ref)``: the weights file beside ``json_path``, its content and the
    JSON's ``weights`` entry, nothing written (see :func:`save_design_with_weights`)."""
    from safetensors.numpy import save

    path = weights_path_for(json_path)
    # np.ascontiguousarray would turn 0-d tensors (num_batches_tracked) into 1-d ones.
    arrays = {k: np.array(v, order="C", copy=True) for k, v in state.items()}
    data = save(arrays, metadata={k: str(v) for k, v in meta.items()} or None)
    return path, data, {"file": path.name, "sha256": hashlib.sha256(data).hexdigest()}


def save_design_weights(state: dict, meta: dict, json_path: str | os.PathLike) -> dict:
    """Write ``state`` beside ``json_path`` atomically; return the JSON's ``weights`` entry."""
    path, data, ref = design_weights_data(state, meta, json_path)
    write_atomic(path, lambda fh: fh.write(data), binary=True)
    return ref


#: Suffixes a design file may not have: its weights (or a torch file) would be overwritten.
NOT_A_DESIGN = (".safetensors", ".pt", ".pth")


def check_design_path(json_path: str | os.PathLike) -> None:
    """Raise ``ValueError`` for a design file named like a weights file (``x.safetensors``)."""
    name = Path(json_path).name
    if Path(json_path).suffix.lower() in NOT_A_DESIGN:
        raise ValueError(f"a design is saved as .json; '{name}' is the name of a weights file")


def save_design_with_weights(model, json_path: str | os.PathLike, weights: tuple | None) -> None:
    """Save a design and its weights file as one unit (both or neither are replaced).

    Both are written to temporary files first, then renamed, the design last; on any
    failure the old pair is left as it was, so the old design still finds its weights.

    Parameters
    ----------
    model : GraphModel
    json_path : str or PathLike
        The design file (not ``.safetensors`` / ``.pt``: refused with ``ValueError``).
    weights : tuple or None
        :func:`design_weights_data`'s ``(path, bytes, ref)``; ``None`` saves the design alone.
    """
    from engine.core.fileformat import _file_mode, dumps, write_atomic_many

    json_path = Path(json_path)
    check_design_path(json_path)
    text = dumps(model, weights[2] if weights else None)
    items = []
    if weights is not None:
        wpath, data, _ref = weights
        items.append((wpath, lambda fh: fh.write(data), True, None))
    items.append((json_path, lambda fh: fh.write(text), False, _file_mode(json_path)))
    write_atomic_many(items)


def load_design_weights(json_path: str | os.PathLike, ref: dict) -> tuple[dict, dict]:
    """Read the weights file ``ref`` names beside ``json_path``: ``(state, metadata)``.

    Raises
    ------
    DesignWeightsError
        If the file is missing, its hash differs from the one saved, or it is unreadable.
    """
    from safetensors import safe_open

    path = Path(json_path).with_name(ref["file"])
    if not path.is_file():
        raise DesignWeightsError(
            f"the design names the weights file '{path.name}', which is not beside it; "
            f"random weights are used"
        )
    if sha256_of(path) != ref["sha256"]:
        raise DesignWeightsError(
            f"'{path.name}' changed since the design was saved (its SHA-256 differs); "
            f"random weights are used. Load it with Run → Load weights… if it is right"
        )
    try:
        with safe_open(str(path), framework="numpy") as f:
            state = {k: f.get_tensor(k) for k in f.keys()}
            meta = dict(f.metadata() or {})
    except Exception as exc:  # safetensors raises its own error types for damaged files
        raise DesignWeightsError(f"'{path.name}' cannot be read: {exc}") from None
    return state, meta


# --------------------------------------------------------------------------- hand-over files
_HANDOVER: dict[str, str] = {}  # owner -> path of its newest file


def _remove_handover_files() -> None:
    for path in list(_HANDOVER.values()):
        try:
            os.unlink(path)
        except OSError:
            pass
    _HANDOVER.clear()


def handover_file(state: dict, owner: str, version: int) -> str:
    """Write ``state`` once per ``(owner, version)`` to a private temporary file; return its path.

    The feature worker reads the weights from this file instead of the pipe: a pipe write
    of many megabytes would block the window until the worker reads it. The owner's
    previous file is removed; all are removed when the program exits.
    """
    import atexit
    import tempfile

    from safetensors.numpy import save

    name = f"convcanvas-weights-{os.getpid()}-{owner}-{version}.safetensors"
    path = os.path.join(tempfile.gettempdir(), name)
    old = _HANDOVER.get(owner)
    if old == path and os.path.exists(path):
        return path
    if not _HANDOVER:
        atexit.register(_remove_handover_files)
    arrays = {k: np.array(v, order="C", copy=True) for k, v in state.items()}
    data = save(arrays)
    write_atomic(path, lambda fh: fh.write(data), binary=True)
    _HANDOVER[owner] = path
    if old is not None and old != path:
        try:
            os.unlink(old)
        except OSError:
            pass
    return path
