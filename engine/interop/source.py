"""Finding the user's model: ``path/to/file.py:NAME`` or ``package.module:NAME``.

``NAME`` is an ``nn.Module`` subclass or a function returning an ``nn.Module``, called
with no arguments (an ``nn.Module`` instance is used as it is). The user's module is run
and nothing else is: a pickled file (``.pt``, ``.pth``, …) is refused without being
unpickled, because unpickling runs whatever code the file names.
"""

from __future__ import annotations

import importlib
import importlib.util
import pickletools
import sys
import traceback
import zipfile
from pathlib import Path

from torch import nn

from engine.core.fileformat import read_limited
from engine.core.filesafety import PICKLE_RECORD_LIMIT, FileGuardError, stat_regular
from engine.interop.errors import SourceError
from engine.interop.zoo import install_hint, load_timm

_ROOT = Path(__file__).resolve().parents[2]
_OWN_DIRS = tuple(_ROOT / d for d in ("engine", "cli", "widgets", "designer", "main.py"))
PICKLE_SUFFIXES = (".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".bin", ".tar")


def _where_in(exc: BaseException, filename: str | None = None) -> str:
    """``" (file.py:12)"``: the innermost traceback frame in ``filename`` (or in any file)."""
    # Frames of ConvCanvas itself (this call of NAME()) are never the user's place.
    frames = [
        fr
        for fr in traceback.extract_tb(exc.__traceback__)
        if not any(Path(fr.filename).resolve().is_relative_to(d) for d in _OWN_DIRS)
    ]
    chosen = None
    for fr in frames:
        if filename is None or Path(fr.filename) == Path(filename):
            chosen = fr
    if chosen is None and frames:
        chosen = frames[-1]
    if chosen is None:
        return ""
    return f" ({Path(chosen.filename).name}:{chosen.lineno})"


def _pickle_globals(path: Path) -> list[str]:
    """The classes and functions a torch/pickle file would load, read without unpickling."""
    data: bytes
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                info = next((i for i in zf.infolist() if i.filename.endswith("data.pkl")), None)
                # The declared size comes first: a small file can declare a huge record.
                if info is None or info.file_size > PICKLE_RECORD_LIMIT:
                    return []
                data = zf.read(info)
        else:
            data = read_limited(path, PICKLE_RECORD_LIMIT) or b""
    except (OSError, zipfile.BadZipFile, ValueError, EOFError):
        return []
    found: list[str] = []
    stack: list = []
    try:
        for op, arg, _ in pickletools.genops(data):
            if op.name == "GLOBAL":
                found.append(str(arg).replace(" ", "."))
            elif op.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE"):
                stack.append(arg)
            elif op.name == "STACK_GLOBAL" and len(stack) >= 2:
                found.append(f"{stack[-2]}.{stack[-1]}")
    except Exception:  # noqa: BLE001 - a damaged pickle: say only that it is a pickle
        pass
    return found


# What a plain state dict names: containers, tensor rebuilders and storages.
_STATE_DICT_GLOBALS = ("collections.", "torch._utils.", "builtins.", "__builtin__.", "_codecs.")


def _is_model_global(name: str) -> bool:
    if name.startswith(_STATE_DICT_GLOBALS):
        return False
    return not name.startswith("torch.") or name.startswith("torch.nn.")


def refuse_pickle(path: Path) -> SourceError:
    """The error for a pickled file given as the source: what it holds and why it is refused."""
    names = _pickle_globals(path)
    classes = [n for n in names if _is_model_global(n)]
    if classes:
        what = (
            f"pickled Python objects such as a whole model (it names "
            f"{', '.join(dict.fromkeys(classes[:3]))})"
        )
    elif names:
        what = "a state dict (weights only, no network structure)"
    else:
        what = "pickled data"
    return SourceError(
        f"{path.name} holds {what}. ConvCanvas never unpickles a model: unpickling runs any "
        f"code the file names. Import the Python source that defines the model instead "
        f"(path/to/model.py:NAME or package.module:NAME); a state dict of trained "
        f"weights can then be loaded into the design."
    )


def _load_file(path: Path) -> object:
    try:
        stat_regular(path, "Python file")
    except FileGuardError as exc:  # a folder, FIFO or device is named, not "no such file"
        raise SourceError(exc.message) from None
    mod_name = f"convcanvas_import_{abs(hash(str(path.resolve()))):x}"
    spec = importlib.util.spec_from_file_location(mod_name, path)
    if spec is None or spec.loader is None:
        raise SourceError(f"{path.name}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    folder = str(path.resolve().parent)
    sys.path.insert(0, folder)  # the file's own imports of its neighbours
    sys.modules[mod_name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        sys.modules.pop(mod_name, None)
        raise SourceError(
            f"{path.name}:{exc.lineno}: cannot import it: syntax error: {exc.msg}"
        ) from None
    except BaseException as exc:  # noqa: BLE001 - anything the user's module raises
        sys.modules.pop(mod_name, None)
        if isinstance(exc, KeyboardInterrupt):
            raise
        hint = install_hint(exc.name or "") if isinstance(exc, ModuleNotFoundError) else None
        if hint:
            raise SourceError(f"{path.name}{_where_in(exc, str(path))}: {hint}") from None
        raise SourceError(
            f"{path.name}: importing it raised {type(exc).__name__}: {exc}"
            f"{_where_in(exc, str(path))}"
        ) from None
    finally:
        if sys.path and sys.path[0] == folder:
            sys.path.pop(0)
    return module


def _load_module(name: str) -> object:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        hint = install_hint(exc.name or name)
        if hint:
            raise SourceError(hint) from None
        raise SourceError(
            f"no module named '{exc.name or name}' (while importing '{name}'); give a file "
            f"as path/to/file.py:NAME or an installed package.module:NAME"
        ) from None
    except BaseException as exc:  # noqa: BLE001 - anything the user's module raises
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise SourceError(
            f"importing '{name}' raised {type(exc).__name__}: {exc}{_where_in(exc)}"
        ) from None


def _top(module_name: str) -> str:
    return module_name.split(".", 1)[0]


def _is_standard(module_name: str | None) -> bool:
    """Whether a module belongs to Python itself (builtins or the standard library)."""
    if not module_name:
        return True
    top = _top(module_name).lstrip("_") or "builtins"
    return top in sys.stdlib_module_names or _top(module_name) in sys.stdlib_module_names


def refuse_standard_module(where: str) -> None:
    """Refuse ``package.module`` sources from Python itself, before importing them."""
    if _is_standard(where):
        raise SourceError(
            f"'{where}' is part of Python itself, not a model: give the file or installed "
            f"package that defines the model (path/to/file.py:NAME or package.module:NAME)"
        )


def check_callable(obj: object, module: object, what: str) -> None:
    """Refuse ``obj`` unless it can only build a model: called with no arguments, it runs.

    Allowed: an ``nn.Module`` instance; an ``nn.Module`` subclass; a Python function
    defined in the source (the file, or the package given) or annotated to return an
    ``nn.Module``. Refused: anything from builtins or the standard library
    (``os:abort``, ``builtins:breakpoint``), other classes, and functions written in C.

    Raises
    ------
    SourceError
        Naming ``what`` and why.
    """
    import inspect

    if isinstance(obj, nn.Module):
        return
    origin = getattr(obj, "__module__", None)
    if inspect.isclass(obj):
        if issubclass(obj, nn.Module):
            return
        raise SourceError(
            f"{what} is the class {obj.__qualname__}, not an nn.Module subclass; give the "
            f"model class or a function that returns the model"
        )
    if _is_standard(origin) or not callable(obj):
        kind = "part of Python itself" if callable(obj) else f"a {type(obj).__name__}"
        raise SourceError(
            f"{what} is {kind}, not a model: give an nn.Module subclass or a function that "
            f"returns an nn.Module"
        )
    if not inspect.isfunction(obj):
        raise SourceError(
            f"{what} is a {type(obj).__name__}, not a Python function or an nn.Module class; "
            f"it is not called"
        )
    source_name = getattr(module, "__name__", "")
    if origin == source_name or _top(origin or "") == _top(source_name):
        return
    try:
        returns = inspect.signature(obj).return_annotation
    except (TypeError, ValueError):
        returns = inspect.Signature.empty
    if inspect.isclass(returns) and issubclass(returns, nn.Module):
        return
    raise SourceError(
        f"{what} is the function {origin}.{obj.__qualname__}, defined outside the source and "
        f"not declared to return an nn.Module; it is not called. Give a function defined in "
        f"the source, or the model class"
    )


def split_source(source: str) -> tuple[str, str]:
    """``"a/b.py:Net"`` → ``("a/b.py", "Net")``; raises :class:`SourceError` without a name."""
    where, sep, name = source.rpartition(":")
    if not sep or not where or not name:
        raise SourceError(
            f"'{source}': give the model as path/to/file.py:NAME or package.module:NAME"
        )
    return where, name


def load_source(source: str) -> nn.Module:
    """Find, import and call the model named by ``source``; return it in eval mode.

    Parameters
    ----------
    source : str
        ``path/to/file.py:NAME``, ``package.module:NAME`` (``NAME`` may be dotted) or
        ``timm:NAME`` (:func:`engine.interop.zoo.load_timm`).

    Returns
    -------
    torch.nn.Module

    Raises
    ------
    SourceError
        If the file or module does not exist or raises on import, the name is missing,
        calling it fails or returns something else than an ``nn.Module``, or the source is
        a pickled file (refused without unpickling).
    """
    if source.startswith("timm:"):
        return load_timm(source[len("timm:") :])
    p = Path(source)
    if p.suffix.lower() in PICKLE_SUFFIXES and p.is_file():
        raise refuse_pickle(p)
    where, name = split_source(source)
    wp = Path(where)
    if wp.suffix.lower() in PICKLE_SUFFIXES:
        if wp.is_file():
            raise refuse_pickle(wp)
        raise SourceError(f"{where}: no such file")
    if wp.suffix == ".py" or "/" in where or "\\" in where:
        module = _load_file(wp)
        label = wp.name
    else:
        refuse_standard_module(where)
        module = _load_module(where)
        label = where
    obj = module
    for part in name.split("."):
        if not hasattr(obj, part):
            raise SourceError(f"{label} has no '{name}'")
        obj = getattr(obj, part)
    check_callable(obj, module, f"{label}:{name}")
    if isinstance(obj, nn.Module):
        model = obj
    elif callable(obj):
        try:
            model = obj()
        except BaseException as exc:  # noqa: BLE001 - anything the user's code raises
            if isinstance(exc, KeyboardInterrupt):
                raise
            raise SourceError(
                f"calling {name}() raised {type(exc).__name__}: {exc}{_where_in(exc)}; "
                f"NAME must take no arguments (wrap it in a function that does)"
            ) from None
        if not isinstance(model, nn.Module):
            raise SourceError(f"{name}() returned {type(model).__name__}, not a torch.nn.Module")
    else:
        raise SourceError(
            f"{label}:{name} is a {type(obj).__name__}: give an nn.Module subclass or a "
            f"function that returns an nn.Module"
        )
    return model.eval()
