"""The class of a block type: written once from the type's own definition.

Its parameters are the constructor's arguments; channel counts are expressions of them
(``in_channels``, ``width * 4``), optional members are kept where their condition holds,
and numbered sub-blocks become ``nn.Sequential``. The expressions are the checked trees of
:mod:`engine.blocks.expr`. No torch import.
"""

from __future__ import annotations

import ast

from engine.blocks.expr import to_code
from engine.blocks.types import IN, BlockType
from engine.codegen import node_code
from engine.codegen.block_context import BlockContext
from engine.codegen.class_text import ClassIR, Elem, node_fn, render_class, sequential
from engine.codegen.emit import doc_text
from engine.codegen.layer_text import FUNCS, layer_ctor, op_of, value_text
from engine.nodes import NODE_TYPES


def typed_class(ctx: BlockContext, bt: BlockType) -> str:
    """Write the class of a block type once (and those of nested types); its name."""
    if bt.key in ctx.typed_done:
        return bt.class_name
    elems: list[Elem] = []
    chans: dict[str, str] = {IN: "in_channels"}
    subs: dict[str, list] = {}  # first part of a dotted member id → its members
    raw: dict[str, str] = {}  # channels of an optional member, where it is present
    conds: dict[str, str | None] = {IN: None}
    for m in bt.members:
        ins = [s for _, s in bt.sources(m.id)]
        cond = to_code(m.when_expr) if m.when_expr is not None else None
        conds[m.id] = cond
        ch = {s: raw[s] if cond is not None and conds[s] == cond else chans[s] for s in ins}
        in_ch = ch[ins[0]] if ins else "in_channels"
        fn = None
        if m.block is not None:
            sub = ctx.types[m.block]
            ctor = f"{typed_class(ctx, sub)}({in_ch}{_kwargs(m.params, sub)})"
            out_ch = _sub_out(ctx, sub, m.params, in_ch)
        else:
            p = {ps.name: ps.default for ps in NODE_TYPES[m.type].params if not ps.required}
            p.update({k: v for k, v in m.params.items() if k not in m.exprs})
            p.update({k: {"expr": to_code(t)} for k, t in m.exprs.items()})
            ctor = None if m.type in FUNCS else layer_ctor(m.type, p, in_ch)
            if m.type in node_code.TYPES and not node_code.plain_call(m.type, p):
                if "." in m.id and ctor is not None:
                    raise NotReadable(bt.key)  # its forward is more than an nn.Sequential step
                fn = node_fn(m.type, p, f"self.{m.id}")
            out_ch = _sym_channels(m.type, p, [ch[s] for s in ins])
        raw[m.id] = out_ch
        if cond is not None and out_ch != in_ch:
            out_ch = f"({out_ch} if {cond} else {in_ch})"
        chans[m.id] = out_ch
        op = "call" if m.block is not None else ("fn" if fn else op_of(m.type))
        if "." in m.id:
            head = m.id.split(".", 1)[0]
            subs.setdefault(head, []).append((m, ctor, ins, cond))
            chans[head] = out_ch
            continue
        elems.append(Elem(m.id, [_head(i) for i in ins], ctor, op, cond, fn=fn))
    for head, items in subs.items():
        ok = all(m.id == f"{head}.{k}" for k, (m, *_) in enumerate(items)) and all(
            c is not None for _, c, *_ in items
        )
        conds = {c for *_, c in items}
        if not ok or len(conds) != 1:
            raise NotReadable(bt.key)
        first_in = [_head(i) for i in items[0][2]]
        elem = Elem(head, first_in, sequential([c for _, c, *_ in items]), "call", conds.pop())
        last = max(i for i, e in enumerate(elems) if _feeds(e, head) is False) if elems else 0
        idx = next((i for i, e in enumerate(elems) if head in e.ins), len(elems))
        elems.insert(min(idx, max(last, idx)), elem)
    for e in elems:
        e.ins = [i if i != IN else "x" for i in e.ins]
    args = ["in_channels"] + [f"{k}={v!r}" for k, v in bt.params.items()]
    ir = ClassIR(bt.class_name, args, ["x"], elems, _head(bt.output), doc_text(bt.title, 70))
    ctx.classes[bt.class_name] = render_class(ir)
    ctx.class_args[bt.class_name] = ["in_channels", *bt.params]
    ctx.typed_done.add(bt.key)
    return bt.class_name


class NotReadable(Exception):
    """A type whose sub-blocks are not plain chains: its instances are written literally."""


def _feeds(e: Elem, head: str) -> bool:
    return head in e.ins


def _head(mid: str) -> str:
    return mid.split(".", 1)[0]


def _kwargs(params: dict, bt: BlockType) -> str:
    return "".join(f", {k}={value_text(v)}" for k, v in params.items() if k in bt.params)


def _sym_channels(ntype: str, p: dict, ins: list[str]) -> str:
    if ntype == "channel_slice":
        start, stop = p.get("start", 0), p["stop"]
        if isinstance(start, int) and isinstance(stop, int):
            return str(stop - start)
        return f"{value_text(stop)} - ({value_text(start)})"
    if ntype in ("conv", "conv1x1", "conv_transpose"):
        return value_text(p["out_channels"])
    if ntype == "linear":
        return value_text(p["out_features"])
    if ntype == "concat":
        return " + ".join(ins)
    return ins[0] if ins else "in_channels"


def _sub_out(ctx: BlockContext, sub: BlockType, params: dict, in_ch: str) -> str:
    """The output channels of a nested type as an expression of the outer names."""
    chans: dict[str, str] = {IN: "in_channels"}
    for m in sub.members:
        ins = [chans[s] for _, s in sub.sources(m.id)]
        if m.block is not None:
            chans[m.id] = _sub_out(ctx, ctx.types[m.block], m.params, ins[0])
            continue
        p = {**m.params, **{k: {"expr": to_code(t)} for k, t in m.exprs.items()}}
        chans[m.id] = _sym_channels(m.type, p, ins)
    text = chans[sub.output]
    env = {k: value_text(v) for k, v in {**sub.params, **params}.items()}
    env["in_channels"] = in_ch
    tree = ast.parse(text, mode="eval").body
    tree = _Subst(env).visit(tree)
    return to_code(tree)


class _Subst(ast.NodeTransformer):
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def visit_Name(self, node: ast.Name) -> ast.AST:  # noqa: N802 - ast visitor protocol
        if node.id in self.env:
            return ast.parse(f"({self.env[node.id]})", mode="eval").body
        return node


def type_classes(ctx: BlockContext, bt: BlockType) -> set[str]:
    """The class names a type's class writes (its own and its nested types')."""
    names = {bt.class_name}
    for m in bt.members:
        if m.block is not None:
            names |= type_classes(ctx, ctx.types[m.block])
    return names
