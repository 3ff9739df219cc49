"""The errors of an ONNX import, each tied to a command-line exit code."""

from __future__ import annotations

from engine.core.errors import EngineError

MAX_LINES = 30


class OnnxImportError(EngineError):
    """The file cannot be imported; ``exit_code`` is what ``main.py import`` returns."""

    exit_code = 1


class OnnxReadError(OnnxImportError):
    """The file cannot be read: not ONNX, hostile sizes or external data (exit 2)."""

    exit_code = 2


class OnnxUnsupported(OnnxImportError):
    """Operations outside the design's node types, one line per distinct operation.

    Attributes
    ----------
    items : list of str
        ``"unsupported: Transpose in node 'x' and 2 more place(s)"``, at most
        ``MAX_LINES - 1`` of them (then a line saying how many more).
    """

    def __init__(self, items: list[str]):
        n = len(items)
        shown = items if n <= MAX_LINES - 1 else items[: MAX_LINES - 2]
        lines = [f"the model uses {n} operation(s) that ConvCanvas has no node type for:"]
        lines += [f"  {line}" for line in shown]
        if len(shown) < n:
            lines.append(f"  … and {n - len(shown)} more operation(s)")
        super().__init__("\n".join(lines))
        self.items = items
