"""The :class:`Template` record and the small builder every template uses."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from engine.blocks.layout import apply_block_layout
from engine.core.graph import GraphModel
from engine.core.layout import layered_layout


@dataclass(frozen=True)
class Template:
    """One entry of the Templates menu."""

    key: str
    title: str
    category: str  # "Teaching" or "Networks"
    builder: Callable[[], GraphModel]
    description: str


class _Builder:
    """Small helper adding typed nodes to a model; each method returns the new id."""

    def __init__(self, name: str) -> None:
        self.m = GraphModel(name)
        self.scope: str | None = None  # the block new nodes go into (``None``: top level)

    def node(self, nid: str, type_name: str, src: str | list[str] | None = None, **params) -> str:
        self.m.add_node(type_name, params, nid, scope=self.scope)
        for s in [src] if isinstance(src, str) else (src or []):
            self.m.connect(s, nid)
        return nid

    def input(self, c: int, h: int, w: int, nid: str = "input") -> str:
        return self.node(nid, "input", None, channels=c, height=h, width=w)

    def conv(
        self,
        nid: str,
        src: str,
        out: int,
        k: int,
        stride: int = 1,
        padding: int = 0,
        bias: bool = True,
    ) -> str:
        if k == 1 and padding == 0:
            return self.node(nid, "conv1x1", src, out_channels=out, stride=stride, bias=bias)
        return self.node(
            nid,
            "conv",
            src,
            out_channels=out,
            kernel_size=k,
            stride=stride,
            padding=padding,
            bias=bias,
        )

    def relu(self, nid: str, src: str) -> str:
        return self.node(nid, "relu", src)

    def bn(self, nid: str, src: str, eps: float = 1e-5) -> str:
        return self.node(nid, "batchnorm", src, eps=eps)

    def pool(
        self,
        nid: str,
        src: str,
        k: int,
        stride: int | None = None,
        padding: int = 0,
        ceil_mode: bool = False,
        kind: str = "maxpool",
    ) -> str:
        return self.node(
            nid, kind, src, kernel_size=k, stride=stride, padding=padding, ceil_mode=ceil_mode
        )

    def done(self) -> GraphModel:
        self.m.set_positions(layered_layout(self.m))
        if self.m.graph.graph.get("blocks"):
            # Collapsed blocks as single cards, long chains wrapped (expanding lays out again).
            apply_block_layout(self.m)
        return self.m
