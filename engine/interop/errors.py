"""The errors of a PyTorch import, each tied to a command-line exit code."""

from __future__ import annotations

from engine.core.errors import EngineError


class ImportFailed(EngineError):
    """Base of the import errors; ``exit_code`` is what ``main.py import`` returns."""

    exit_code = 1


class SourceError(ImportFailed):
    """The source cannot be found, imported or called, or gives no ``nn.Module`` (exit 2)."""

    exit_code = 2


class TraceError(ImportFailed):
    """torch.fx could not trace the model (e.g. control flow that depends on the input)."""


class UnsupportedError(ImportFailed):
    """The model uses operations outside the design's node types.

    Attributes
    ----------
    items : list of str
        One line per unsupported operation and source location, e.g.
        ``"unsupported: Tensor.view in features.1.branch2 (shufflenetv2.py:42)"``.
    """

    def __init__(self, items: list[str]):
        n = len(items)
        head = f"the model uses {n} operation(s) that ConvCanvas has no node type for:"
        super().__init__("\n".join([head] + [f"  {line}" for line in items]))
        self.items = items
