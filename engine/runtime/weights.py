"""Loading and saving a model's weights as a ``state_dict`` file.

Two formats: ``.safetensors`` (the default: a JSON header and raw tensors, nothing
executable) and PyTorch's ``.pt`` / ``.pth`` (read with ``torch.load(..., weights_only=True)``,
so no arbitrary pickle). The format follows the file name's suffix; a file whose content is
the other format is still read (the first bytes tell them apart).
Keys are module targets plus the tensor's name (``layer1.0.conv1.weight``), as in the
exported code and in torchvision's own files, so files go both ways. Loading matches every
key and shape first (:mod:`engine.weights.fit`: old flat names are migrated, with a
note), and leaves the model untouched when anything is wrong. This is the torch half of
the weights module; :mod:`engine.weights` is the torch-free half (headers, key matching,
messages). :func:`read_state_dict` is the one place tensors are read from a file.
"""

from __future__ import annotations

import functools
import os
import pickle
import warnings
from collections.abc import Iterable
from pathlib import Path

import torch
from torch import nn

from engine.core.errors import EngineError
from engine.core.fileformat import write_atomic
from engine.core.filesafety import (
    FileGuardError,
    dtype_refusal,
    guard_state,
    guard_weights_file,
    limit_for,
)
from engine.weights.fit import (
    Fit,
    closest_design,
    fit_keys,
    migrate_state,
    mismatch_lines,
    same_keys,
)
from engine.weights.header import HeaderError, is_safetensors, read_header

__all__ = [
    "WeightsError",
    "apply_partial",
    "check_dtypes",
    "check_state_dict",
    "is_safetensors",
    "load_weights",
    "read_metadata",
    "read_state_dict",
    "save_state",
    "save_weights",
]


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
    lines : list of str
        The message, one entry per line to print.
    """

    def __init__(
        self,
        message: str,
        path: str = "",
        missing: Iterable[str] = (),
        unexpected: Iterable[str] = (),
        mismatched: Iterable[tuple] = (),
        lines: list[str] | None = None,
    ) -> None:
        super().__init__(message)
        self.path = path
        self.missing = list(missing)
        self.unexpected = list(unexpected)
        self.mismatched = list(mismatched)
        self.lines = list(lines) if lines is not None else message.split("\n")


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
    try:
        return read_header(path).metadata
    except HeaderError:  # metadata is optional; loading reports real problems
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


def _shapes(state: dict) -> dict[str, tuple[int, ...] | None]:
    return {k: tuple(v.shape) if isinstance(v, torch.Tensor) else None for k, v in state.items()}


def check_state_dict(
    module: nn.Module, state: dict, path: str = "", legacy: dict[str, str] | None = None
) -> Fit:
    """Match ``state`` against ``module`` key for key and shape; return how it fits.

    Tensors of complex or bool dtype are refused first (torch would drop the imaginary
    part or turn ``True`` into 1.0 without a word); the message names each such key.
    Keys in the earlier release's flat names are matched to their targets (``legacy``:
    :func:`engine.codegen.targets.legacy_flat_keys`); apply the result with
    :func:`engine.weights.fit.migrate_state`.

    Raises
    ------
    WeightsError
        When keys are missing, unexpected or of the wrong shape: counts, then at most ten
        keys of each kind with their shapes, and the template the file fits if one
        obviously does.
    """
    check_dtypes(state, path)
    own = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    found = _shapes(state)
    name = Path(path or "weights").name
    fit = fit_keys(own, found, legacy, name)
    if not fit.fits:
        lines = mismatch_lines(fit, own, found, name, hint=template_hint(found, own))
        raise WeightsError(
            "\n".join(lines), path, fit.missing, fit.unexpected, fit.mismatched, lines
        )
    return fit


#: Templates that are torchvision's networks, by key: the name torchvision gives them.
TORCHVISION_TEMPLATES = {
    "resnet18": "ResNet-18",
    "resnet50": "ResNet-50",
    "googlenet": "GoogLeNet",
    "vgg16": "VGG-16",
}


@functools.cache
def template_shapes() -> dict[str, dict[str, tuple[int, ...]]]:
    """``{template key: {state_dict key: shape}}`` of the whole-network templates.

    Built on torch's ``meta`` device: shapes without memory or initialisation time.
    """
    from engine.runtime.build import build_module
    from engine.templates import TEMPLATES

    out = {}
    with torch.device("meta"):
        for key, t in TEMPLATES.items():
            if t.category != "Networks":
                continue
            module = build_module(t.builder())
            out[key] = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    return out


def template_hint(found: dict, own: dict | None = None) -> str | None:
    """The line naming the template a file obviously fits ("these are torchvision … keys").

    ``None`` also when the model (``own``, its ``{key: shape}``) has that template's keys:
    then the file is for this design and only some shapes differ.
    """
    from engine.templates import TEMPLATES

    shapes = template_shapes()
    key = closest_design(found, shapes)
    if key is None or (own is not None and same_keys(own, shapes[key])):
        return None
    title = TEMPLATES[key].title
    if key in TORCHVISION_TEMPLATES:
        return (
            f"these are torchvision {TORCHVISION_TEMPLATES[key]} keys: they fit the template "
            f"'{title}' (File → Templates, or --template {key})"
        )
    return f"these keys fit the template '{title}' (File → Templates, or --template {key})"


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
    if bad:
        raise WeightsError(dtype_refusal(bad, path), path)


def legacy_keys(graph) -> dict[str, str]:
    """Old flat layer name → module target of ``graph`` (``{}`` without a graph)."""
    if graph is None:
        return {}
    from engine.codegen.targets import legacy_flat_keys

    return legacy_flat_keys(graph)


def load_weights(module: nn.Module, path: str | os.PathLike, graph=None) -> list[str]:
    """Load a ``state_dict`` file into ``module`` in place, all or nothing.

    Parameters
    ----------
    module : torch.nn.Module
        A model from :func:`engine.runtime.build.build_module` (or the exported class).
    path : str or PathLike
        A ``.safetensors``, ``.pt`` or ``.pth`` file holding a state dict (or
        ``{"state_dict": ...}``), in module targets, torchvision's keys or the flat
        names of the earlier release.
    graph : GraphModel, optional
        The design ``module`` was built from: its old-name table migrates flat files.

    Returns
    -------
    list of str
        One line per thing done besides loading (a migration, auxiliary heads set aside).

    Raises
    ------
    WeightsError
        Counting and listing missing, unexpected and wrong-shaped keys, or saying why
        the file is not a state dict. The module is unchanged.
    """
    path = str(path)
    state = read_state_dict(path, limit_for(sum(p.numel() for p in module.state_dict().values())))
    fit = check_state_dict(module, state, path, legacy_keys(graph))
    state = migrate_state(state, fit)
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
    return fit.notes


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
    (listed with their shapes) before anything is copied; keys ``state`` lacks keep
    their values.
    """
    own = module.state_dict()
    mine = {k: tuple(v.shape) for k, v in own.items()}
    found = {k: tuple(v.shape) if hasattr(v, "shape") else None for k, v in state.items()}
    fit = fit_keys({k: s for k, s in mine.items() if k in state}, found)
    fit.rename.clear()  # a subset of the model's own keys: no other names are accepted
    fit.unexpected = [k for k in state if k not in own]
    if fit.unexpected or fit.mismatched:
        name = Path(path or "weights").name
        lines = mismatch_lines(fit, mine, found, name)
        raise WeightsError("\n".join(lines), path, [], fit.unexpected, fit.mismatched, lines)
    with torch.no_grad():
        for k, v in state.items():
            own[k].copy_(torch.as_tensor(v))
