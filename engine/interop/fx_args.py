"""Reading the arguments of an fx call and torch's int-or-pair sizes (shared by the rules)."""

from __future__ import annotations

from torch import fx


def call_arg(node: fx.Node, i: int, name: str, default=None):
    """Argument ``i`` of the call, given by position or as keyword ``name``."""
    if len(node.args) > i:
        return node.args[i]
    return node.kwargs.get(name, default)


def int_or_pair(v) -> int | list[int]:
    """An int-or-pair parameter (``3``, ``(3,)``, ``(3, 3)``): an int when both sides agree."""
    if isinstance(v, (tuple, list)):
        if len(v) == 1:
            return int(v[0])
        h, w = int(v[0]), int(v[1])
        return h if h == w else [h, w]
    return int(v)
