"""Optional packages of the environment ConvCanvas runs in, read without importing them.

:func:`pip_command` is the exact command that installs a package into this environment
(keeping its torch); :func:`is_installed` and :func:`timm_model_names` look at installed
files only, so the window's process never imports torch or timm. No torch import here.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import re
import sys
from pathlib import Path

_REGISTERED = re.compile(r"^@register_model(?:\([^)]*\))?\s*\ndef (\w+)\(", re.M)


def pip_command(package: str) -> str:
    """``.venv/bin/pip install timm "torch==2.13.0"``: installs ``package`` here.

    The pip of ``sys.prefix`` (relative to the working directory when inside it); the
    installed torch version is pinned so that pip picks a release that matches it.
    """
    pip = Path(sys.prefix) / ("Scripts" if os.name == "nt" else "bin") / "pip"
    try:
        shown = os.path.relpath(pip)
    except ValueError:  # another drive (Windows)
        shown = str(pip)
    if shown.startswith(".."):
        shown = str(pip)
    try:
        version = importlib.metadata.version("torch").split("+")[0]
    except importlib.metadata.PackageNotFoundError:
        return f"{shown} install {package}"
    return f'{shown} install {package} "torch=={version}"'


def is_installed(package: str) -> bool:
    """Whether the top-level ``package`` can be imported here (it is not imported)."""
    try:
        return importlib.util.find_spec(package) is not None
    except (ImportError, ValueError):
        return False


def timm_model_names() -> list[str]:
    """The names ``timm.create_model`` knows, read from timm's installed source files.

    ``[]`` when timm is not installed. Reads ``timm/models/*.py`` (about 0.1 s); timm
    itself (and torch) is not imported.
    """
    try:
        spec = importlib.util.find_spec("timm")
    except (ImportError, ValueError):
        return []
    if spec is None or not spec.submodule_search_locations:
        return []
    root = Path(list(spec.submodule_search_locations)[0]) / "models"
    names: list[str] = []
    for path in sorted(root.glob("*.py")):
        try:
            names += _REGISTERED.findall(path.read_text(encoding="utf-8", errors="replace"))
        except OSError:
            continue
    return sorted(set(names))
