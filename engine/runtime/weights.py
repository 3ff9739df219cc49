"""Loading and saving a model's weights as a ``state_dict`` file.

Two formats: ``.safetensors`` (the default: a JSON header and raw tensors, nothing
executable) and PyTorch's ``.pt`` / ``.pth`` (read with ``torch.load(..., weights_only=True)``,
so no arbitrary pickle). The format follows the file name's suffix; a file whose content is
the other format is still read (the first bytes tell them apart).
Keys follow the exported code's attribute names (``conv1.weight``, ``bn1.running_mean``),
so files go both ways between ConvCanvas and the exported module. Loading checks every
key and shape first, and leaves the model untouched when anything is wrong.
"""

from __future__ import annotations

import os
import pickle
import warnings
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

import torch
from torch import nn

from engine.core.errors import EngineError
from engine.core.fileformat import write_atomic
from engine.core.filesafety import FileGuardError, guard_state, guard_weights_file, limit_for

# BatchNorm's counter: torch itself accepts files without it (older formats).
_OPTIONAL_SUFFIX = ".num_batches_tracked"


class WeightsError(EngineError):
    """A weights file cannot be loaded into the model.

    Attributes
    ----------
    path : str
        The file.
    missing : list of str
        Keys the model has and the file lacks.
    unexpected : list of str
        Keys the file has and the model lacks.
    mismatched : list of (key, model_shape, file_shape)
        Keys whose tensor shapes differ (``file_shape`` is ``None`` for a non-tensor).
    """

    def __init__(
        self,
        message: str,
        path: str = "",
        missing: Iterable[str] = (),
        unexpected: Iterable[str] = (),
        mismatched: Iterable[tuple] = (),
    ) -> None:
        super().__init__(message)
        self.path = path
        self.missing = list(missing)
        self.unexpected = list(unexpected)
        self.mismatched = list(mismatched)


def _layer(key: str) -> str:
    return key.rsplit(".", 1)[0] if "." in key else key


def _shape(s) -> str:
    return "x".join(str(d) for d in s) if s is not None else "not a tensor"


def _report(path: str, missing: list, unexpected: list, mismatched: list) -> str:
    """One line per layer: what is missing, unexpected or of the wrong shape."""
    per_layer: dict[str, list[str]] = defaultdict(list)
    for k in missing:
        per_layer[_layer(k)].append(f"missing '{k.rsplit('.', 1)[-1]}'")
    for k in unexpected:
        per_layer[_layer(k)].append(f"unexpected '{k.rsplit('.', 1)[-1]}'")
    for k, want, got in mismatched:
        per_layer[_layer(k)].append(
            f"'{k.rsplit('.', 1)[-1]}' is {_shape(got)} in the file, the model needs {_shape(want)}"
        )
    counts = []
    if missing:
        counts.append(f"{len(missing)} missing")
    if unexpected:
        counts.append(f"{len(unexpected)} unexpected")
    if mismatched:
        counts.append(f"{len(mismatched)} of the wrong shape")
    lines = [
        f"{Path(path).name}: the weights do not fit this model "
        f"({', '.join(counts)}); nothing was loaded:"
    ]
    lines += [f"  layer '{layer}': {'; '.join(items)}" for layer, items in per_layer.items()]
    return "\n".join(lines)


def is_safetensors(path: str | os.PathLike) -> bool:
    """Whether ``path`` holds a safetensors file (8-byte header length, then ``{``)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(9)
    except OSError:
        return str(path).lower().endswith(".safetensors")
    if len(head) < 9:
        return False
    n = int.from_bytes(head[:8], "little")
    return head[8:9] == b"{" and 2 <= n < (1 << 32)


def _read_safetensors(path: str) -> dict:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    name = Path(path).name
    try:
        return dict(load_file(path, device="cpu"))
    except FileNotFoundError:
        raise WeightsError(f"{name}: no such file", path) from None
    except OSError as exc:
        raise WeightsError(f"{name}: cannot read: {exc.strerror or exc}", path) from None
    except (SafetensorError, ValueError, RuntimeError, UnicodeDecodeError) as exc:
        detail = str(exc).strip().split("\n")[0][:160]
        raise WeightsError(
            f"{name}: cannot load weights: not a valid safetensors file, or it is damaged "
            f"({detail})",
            path,
        ) from None


def read_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The text metadata of a safetensors file (``{}`` for ``.pt`` files or none)."""
    if not is_safetensors(path):
        return {}
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            return dict(f.metadata() or {})
    except Exception:  # metadata is optional; loading reports real problems
        return {}


def read_state_dict(path: str | os.PathLike, limit: int | None = None) -> dict:
    """Read a ``state_dict`` file safely (``.safetensors``, or ``.pt`` with ``weights_only``).

    Nothing is read before :func:`engine.core.filesafety.guard_weights_file` has checked
    the file (regular, declared sizes within ``limit`` bytes, a sound header); tensors that
    are not floating-point are refused, NaN and infinity warned about
    (:class:`engine.core.filesafety.FileWarning`).

    Raises
    ------
    WeightsError
        If the file cannot be read, is not a torch file, needs more than plain tensors
        to unpickle, or does not hold a dictionary of tensors.
    """
    path = str(path)
    name = Path(path).name
    try:
        guard_weights_file(path, limit)
    except FileGuardError as exc:
        raise WeightsError(exc.message, path) from None
    obj = _read_unguarded(path, name)
    try:
        guard_state(obj, path)
    except FileGuardError as exc:
        raise WeightsError(exc.message, path) from None
    return obj


def _read_unguarded(path: str, name: str) -> dict:
    if is_safetensors(path):
        return _read_safetensors(path)
    try:
        with warnings.catch_warnings():  # e.g. "pickle protocol 4": we report failures ourselves
            warnings.simplefilter("ignore")
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise WeightsError(f"{name}: no such file", path) from None
    except OSError as exc:
        raise WeightsError(f"{name}: cannot read: {exc.strerror or exc}", path) from None
    except pickle.UnpicklingError as exc:
        if "weights_only" in str(exc) or "Unsupported" in str(exc):
            why = (
                "it holds Python objects besides tensors (a whole pickled model?); save "
                "model.state_dict() instead"
            )
        else:
            why = "it is not a file written by torch.save, or it is damaged"
        raise WeightsError(f"{name}: cannot load weights: {why}", path) from None
    except (
        RuntimeError,
        ValueError,
        EOFError,
        AttributeError,
        ImportError,
        KeyError,
        IndexError,
        TypeError,
        UnicodeDecodeError,
    ) as exc:
        detail = str(exc).strip().split(". ")[0][:160]
        detail = f" ({detail})" if isinstance(exc, RuntimeError) and detail else ""
        raise WeightsError(
            f"{name}: cannot load weights: it is not a file written by "
            f"torch.save, or it is damaged{detail}",
            path,
        ) from None
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(k, str) for k in obj):
        raise WeightsError(
            f"{name}: not a state dict: expected a dictionary of named tensors, "
            f"found {type(obj).__name__}",
            path,
        )
    return obj


def check_state_dict(module: nn.Module, state: dict, path: str = "") -> None:
    """Raise :class:`WeightsError` unless ``state`` fits ``module`` key for key and shape.

    Tensors of complex or bool dtype are refused first (torch would drop the imaginary
    part or turn ``True`` into 1.0 without a word); the message names each such key.
    """
    check_dtypes(state, path)
    own = module.state_dict()
    missing = [k for k in own if k not in state and not k.endswith(_OPTIONAL_SUFFIX)]
    unexpected = [k for k in state if k not in own]
    mismatched = []
    for k, v in own.items():
        if k not in state:
            continue
        got = state[k]
        if not isinstance(got, torch.Tensor):
            mismatched.append((k, tuple(v.shape), None))
        elif tuple(got.shape) != tuple(v.shape):
            mismatched.append((k, tuple(v.shape), tuple(got.shape)))
    if missing or unexpected or mismatched:
        raise WeightsError(
            _report(path or "weights", missing, unexpected, mismatched),
            path,
            missing,
            unexpected,
            mismatched,
        )


def check_dtypes(state: dict, path: str = "") -> None:
    """Refuse tensors of complex or bool dtype: weights are real numbers.

    Raises
    ------
    WeightsError
        Naming the file, how many tensors and, one line each (at most 20), the keys and
        their dtypes.
    """
    bad = [
        (k, str(v.dtype).removeprefix("torch."))
        for k, v in state.items()
        if isinstance(v, torch.Tensor) and (v.is_complex() or v.dtype == torch.bool)
    ]
    if not bad:
        return
    kinds = ", ".join(sorted({d for _, d in bad}))
    lines = [
        f"{Path(path or 'weights').name}: {len(bad)} tensor(s) hold {kinds} values; weights "
        f"must be real numbers (float), nothing was loaded:"
    ]
    lines += [f"  '{k}' is {d}" for k, d in bad[:20]]
    if len(bad) > 20:
        lines.append(f"  … and {len(bad) - 20} more")
    raise WeightsError("\n".join(lines), path)


def load_weights(module: nn.Module, path: str | os.PathLike) -> None:
    """Load a ``state_dict`` file into ``module`` in place, all or nothing.

    Parameters
    ----------
    module : torch.nn.Module
        A model from :func:`engine.runtime.build.build_module` (or the exported class).
    path : str or PathLike
        A ``.pt`` / ``.pth`` file holding a state dict (or ``{"state_dict": ...}``).

    Raises
    ------
    WeightsError
        Listing, per layer, missing, unexpected and wrong-shaped keys, or saying why
        the file is not a state dict. The module is unchanged.
    """
    path = str(path)
    state = read_state_dict(path, limit_for(sum(p.numel() for p in module.state_dict().values())))
    check_state_dict(module, state, path)
    own = module.state_dict()  # detached views of the live tensors
    backup = {k: v.clone() for k, v in own.items()}
    try:
        with torch.no_grad():
            module.load_state_dict(state, strict=False)
    except Exception as exc:
        with torch.no_grad():
            for k, v in backup.items():
                own[k].copy_(v)
        raise WeightsError(f"{Path(path).name}: cannot load weights: {exc}", path) from None


def save_state(state: dict, path: str | os.PathLike, metadata: dict | None = None) -> None:
    """Write a state dict (tensors or numpy arrays) to ``path`` atomically.

    ``.pt`` / ``.pth`` files are written with ``torch.save``; anything else (``.safetensors``,
    the default) as safetensors, with ``metadata`` (text → text) in its header.
    """
    tensors = {
        k: (v if isinstance(v, torch.Tensor) else torch.from_numpy(v)).detach().contiguous()
        for k, v in state.items()
    }
    if str(path).lower().endswith((".pt", ".pth")):
        write_atomic(path, lambda fh: torch.save(tensors, fh), binary=True)
        return
    from safetensors.torch import save

    # save() shares no memory between tensors (a clone per tensor): state dicts may alias.
    data = save({k: v.clone() for k, v in tensors.items()}, metadata=metadata)
    write_atomic(path, lambda fh: fh.write(data), binary=True)


def save_weights(module: nn.Module, path: str | os.PathLike, metadata: dict | None = None) -> None:
    """Write ``module.state_dict()`` to ``path`` atomically (see :func:`save_state`)."""
    save_state(module.state_dict(), path, metadata)


def apply_partial(module: nn.Module, state: dict, path: str = "") -> None:
    """Copy the tensors of ``state`` (a subset of the module's keys) into ``module``.

    Keys the module lacks and tensors of the wrong shape raise :class:`WeightsError`
    (named per layer) before anything is copied; keys ``state`` lacks keep their values.
    """
    own = module.state_dict()
    unexpected = [k for k in state if k not in own]
    mismatched = [
        (k, tuple(own[k].shape), tuple(getattr(v, "shape", ())) if hasattr(v, "shape") else None)
        for k, v in state.items()
        if k in own and tuple(getattr(v, "shape", ())) != tuple(own[k].shape)
    ]
    if unexpected or mismatched:
        raise WeightsError(
            _report(path or "weights", [], unexpected, mismatched), path, [], unexpected, mismatched
        )
    with torch.no_grad():
        for k, v in state.items():
            own[k].copy_(torch.as_tensor(v))
