"""The refusal message of an import: one line per distinct operation, in words, with its cause.

Each refused fx node gives an operation text (what it is, in words: "indexing a tensor
(x[...])", not ``_operator.getitem``), a place (module path and source line) and, where
it helps, a cause: the class whose ``forward`` does it, e.g. "`timm.layers.BatchNormAct2d`
(a subclass of `nn.BatchNorm2d` with its own forward)", and the node type that would do.
:func:`refusal_lines` groups them: its count, the first three places, the cause; at most
:data:`MAX_LINES` lines in all.
"""

from __future__ import annotations

import operator
import os
import sys

from torch import fx

from engine.interop.trace import has_own_forward, torch_base

MAX_LINES = 30  # the whole message, its first line included

_OPERATORS = {
    operator.getitem: "indexing a tensor (x[...])",
    operator.add: "adding a constant or a non-tensor (+)",
    operator.iadd: "adding in place (+=)",
    operator.mul: "multiplying by a constant or a non-tensor (*)",
    operator.imul: "multiplying in place (*=)",
    operator.floordiv: "integer division of a tensor (//)",
    operator.truediv: "dividing a tensor (/)",
    operator.sub: "subtracting a tensor (-)",
    operator.neg: "negating a tensor (-x)",
    operator.matmul: "matrix multiplication (@)",
    operator.pow: "a power of a tensor (**)",
    getattr: "reading a tensor attribute (such as .T)",
}
_METHOD_WORDS = {
    "view": "reshaping a tensor (Tensor.view)",
    "reshape": "reshaping a tensor (Tensor.reshape)",
    "flatten": "flattening other dimensions than C×H×W (Tensor.flatten)",
    "permute": "reordering a tensor's dimensions (Tensor.permute)",
    "transpose": "swapping a tensor's dimensions (Tensor.transpose)",
    "contiguous": "Tensor.contiguous",
    "expand": "expanding a tensor (Tensor.expand)",
    "chunk": "splitting a tensor into chunks (Tensor.chunk)",
    "split": "splitting a tensor (Tensor.split)",
    "unbind": "unbinding a tensor (Tensor.unbind)",
    "softmax": "softmax over another dimension than channels (Tensor.softmax)",
    "norm": "a norm of a tensor (Tensor.norm)",
    "sum": "a sum of a tensor (Tensor.sum)",
    "mean": "a mean over other dimensions than H and W (Tensor.mean)",
}
_FUNCTION_WORDS = {
    "matmul": "matrix multiplication (torch.matmul)",
    "bmm": "batched matrix multiplication (torch.bmm)",
    "einsum": "torch.einsum",
    "split": "splitting a tensor (torch.split)",
    "chunk": "splitting a tensor into chunks (torch.chunk)",
    "scaled_dot_product_attention": "attention (F.scaled_dot_product_attention)",
    "softmax": "softmax over another dimension than channels (F.softmax)",
    "pad": "padding a tensor (F.pad)",
    "interpolate": "resizing a tensor (F.interpolate)",
    "unfold": "extracting patches (F.unfold)",
    "fold": "folding patches (F.fold)",
    "layer_norm": "layer normalisation over other dimensions than channels (F.layer_norm)",
    "addcmul": "torch.addcmul",
}
# The operation's first word(s) → what would do (a node type, or what is missing).
_HINTS = {
    "attention (": "attention has no node type (vision transformers are not CNNs)",
    "matrix multiplication": "a matrix product between activations (attention) has no node type",
    "batched matrix multiplication": "attention has no node type",
    "nn.MultiheadAttention": "attention has no node type (vision transformers are not CNNs)",
}
# The class whose forward does the operation → what would do.
_CLASS_HINTS = {
    "GlobalResponseNorm": "a Global Response Norm node (ConvNeXt V2's GRN) would do",
    "Attention": "attention has no node type (vision transformers are not CNNs)",
}


def _short_class(cls: type) -> str:
    """``timm.layers.BatchNormAct2d``: the shortest public module path that names ``cls``
    (``Block` in `shuffle.py`` for a class of a file given as the source)."""
    if cls.__module__.startswith("convcanvas_import_"):
        path = getattr(sys.modules.get(cls.__module__), "__file__", None) or "?"
        return f"{cls.__qualname__}` in `{os.path.basename(path)}"
    parts = cls.__module__.split(".")
    for i in range(1, len(parts)):
        mod = sys.modules.get(".".join(parts[:i]))
        if mod is not None and getattr(mod, cls.__name__, None) is cls:
            return f"{'.'.join(parts[:i])}.{cls.__name__}"
    return f"{cls.__module__}.{cls.__qualname__}"


def operation_words(n: fx.Node) -> str:
    """What an fx node does, in words (with its code form in parentheses)."""
    if n.op == "call_method":
        return _METHOD_WORDS.get(str(n.target), f"Tensor.{n.target}")
    if n.op == "get_attr":
        return "a parameter or buffer used directly in forward (not through a layer)"
    if n.op == "call_module":
        return "a layer"
    t = n.target
    if t in _OPERATORS:
        return _OPERATORS[t]
    name = getattr(t, "__name__", str(t))
    if name in _FUNCTION_WORDS:
        return _FUNCTION_WORDS[name]
    mod = getattr(t, "__module__", "") or ""
    if mod.startswith("torch.nn.functional"):
        return f"F.{name}"
    if mod.startswith("torch") or mod == "":
        return f"torch.{name}"
    return f"{mod}.{name}"


def cause(n: fx.Node, modules: dict) -> str:
    """The class whose ``forward`` does ``n``, when it is not the model's own code."""
    scope = str(n.target) if n.op == "call_module" else (n.meta.get("cc_scope") or "")
    m = modules.get(scope)
    if m is None or scope == "":
        return ""
    cls = type(m)
    if n.op == "call_module":
        base = torch_base(cls)
        if base is None or base is cls:
            return ""
        return f"`{_short_class(cls)}` (a subclass of `nn.{base.__name__}`)"
    if has_own_forward(cls):
        base = torch_base(cls)
        return f"`{_short_class(cls)}` (a subclass of `nn.{base.__name__}` with its own forward)"
    if cls.__module__.startswith("torch."):
        return ""
    return f"`{_short_class(cls)}`"


def place(n: fx.Node) -> str:
    """``layer1.0 (resnet.py:92)``: the module path and the source line of a node."""
    scope = str(n.target) if n.op == "call_module" else (n.meta.get("cc_scope") or "")
    where = n.meta.get("cc_where")
    return f"{scope or 'the model forward'} ({where.short if where else '?'})"


def hint(operation: str) -> str:
    """What would do for ``operation`` (a node type, or why none), or ``""``."""
    for start, text in _HINTS.items():
        if operation.startswith(start):
            return text
    return ""


def refusal_lines(refused: list[tuple[str, fx.Node]], modules: dict) -> list[str]:
    """One line per distinct operation: count, first three places, cause and hint.

    Parameters
    ----------
    refused : list of (str, fx.Node)
        The operation text (from a mapping rule, or :func:`operation_words`) and node,
        in graph order.
    modules : dict
        ``model.named_modules()``.

    Returns
    -------
    list of str
        At most ``MAX_LINES - 1`` lines (the last may say how many more were left out).
    """
    groups: dict[str, list[fx.Node]] = {}
    for op, n in refused:
        groups.setdefault(op, []).append(n)
    lines = []
    for op, nodes in groups.items():
        places = list(dict.fromkeys(place(n) for n in nodes))
        shown = ", ".join(places[:3]) + (", ..." if len(places) > 3 else "")
        causes = list(dict.fromkeys(c for c in (cause(n, modules) for n in nodes) if c))
        times = "once" if len(nodes) == 1 else f"{len(nodes)} times"
        text = f"{op}, {times}: {shown}"
        if causes:
            text += f"; in the forward of {causes[0]}"
        h = hint(op) or next(
            (_CLASS_HINTS[c] for c in _CLASS_HINTS if causes and f".{c}`" in causes[0]), ""
        )
        if h:
            text += f"; {h}"
        lines.append(text)
    room = MAX_LINES - 1
    if len(lines) > room:
        left = len(lines) - (room - 1)
        lines = lines[: room - 1] + [f"... and {left} more operation(s)"]
    return lines
