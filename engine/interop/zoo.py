"""Model zoos as import sources: ``timm:NAME``, and the install command when one is missing.

``timm:resnet18d`` builds ``timm.create_model("resnet18d", pretrained=False)`` (nothing is
downloaded). When ``timm`` (or ``torchvision``) is not installed in the environment
ConvCanvas runs in, :func:`install_hint` gives the exact command that installs it there,
keeping the installed torch.
"""

from __future__ import annotations

import difflib
import importlib
import sys

from torch import nn

from engine.core.packages import pip_command
from engine.interop.errors import SourceError

#: Packages whose absence gets an install command (the import name → the pip name).
ZOOS = {"timm": "timm", "torchvision": "torchvision"}


def install_hint(module: str) -> str | None:
    """The sentence for a missing zoo package (``None`` if ``module`` is not one)."""
    top = module.split(".")[0]
    if top not in ZOOS:
        return None
    return (
        f"{top} is not installed in the environment ConvCanvas runs in ({sys.prefix}); "
        f"install it with: {pip_command(ZOOS[top])}"
    )


def load_timm(name: str) -> nn.Module:
    """``timm.create_model(name, pretrained=False)`` in eval mode.

    Raises
    ------
    SourceError
        timm is missing (with the install command), the name is unknown (with the
        closest names) or building the model fails.
    """
    try:
        timm = importlib.import_module("timm")
    except ImportError:
        raise SourceError(install_hint("timm")) from None
    known = timm.list_models()
    if name not in known:
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
        also = f"; did you mean {', '.join(close)}?" if close else ""
        raise SourceError(f"timm has no model '{name}'{also}")
    try:
        model = timm.create_model(name, pretrained=False)
    except Exception as exc:  # noqa: BLE001 - anything timm raises while building
        raise SourceError(
            f"timm.create_model('{name}', pretrained=False) raised {type(exc).__name__}: {exc}"
        ) from None
    return model.eval()
