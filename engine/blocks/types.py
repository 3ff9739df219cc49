"""Block types: reusable sub-networks with named parameters (Inception, Bottleneck, …).

A :class:`BlockType` lists its members (node types, or other block types) with fields that
are numbers or :mod:`engine.blocks.expr` expressions over the type's parameters and
``in_channels`` (the channels entering the block), the edges among them (``"in"`` is the
block's input), its output member, and optional members kept only ``when`` a condition
holds (the ``downsample`` of a Bottleneck). A member id with a dot (``downsample.0``)
puts it in a sub-block (``downsample``). :func:`instantiate` turns a type and parameter
values into concrete nodes; the same definition gives the generated ``nn.Module`` class
(:mod:`engine.codegen.emit_blocks`), so both agree. Types are plain JSON-able dicts on
disk (:func:`type_to_dict`, :func:`type_from_dict`).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import Any

from engine.blocks.expr import ExprError, check_param_name, evaluate, parse
from engine.core.errors import EngineError
from engine.nodes import NODE_TYPES

IN = "in"  # the block's input in a type's edge list
_MEMBER_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*\Z")
_CLASS = re.compile(r"[A-Z][A-Za-z0-9]*\Z")
MAX_MEMBERS = 500


class BlockError(EngineError):
    """A block or block type that is not valid; the message names the block."""


@dataclass
class Member:
    """One member of a block type: a node (``type``) or a nested block (``block``)."""

    id: str
    type: str | None = None
    block: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    when: str | None = None
    exprs: dict[str, ast.expr] = field(default_factory=dict, repr=False)
    when_expr: ast.expr | None = field(default=None, repr=False)


@dataclass
class BlockType:
    """A reusable block with named parameters (see the module docstring)."""

    key: str
    title: str
    class_name: str
    params: dict[str, int | bool]
    members: list[Member]
    edges: list[tuple[str, str, int]]
    output: str
    description: str = ""
    builtin: bool = False

    def member(self, mid: str) -> Member:
        """The member ``mid``."""
        return next(m for m in self.members if m.id == mid)

    def sources(self, mid: str) -> list[tuple[int, str]]:
        """``(port, src)`` of member ``mid``, sorted by port."""
        return sorted((p, s) for s, d, p in self.edges if d == mid)


def E(text: str) -> dict:  # noqa: N802 - reads as a marker in the library's tables
    """An expression field value (``E("width * expansion")``)."""
    return {"expr": text}


# --------------------------------------------------------------------------- reading
def type_from_dict(doc: Any, builtin: bool = False) -> BlockType:
    """Check a block-type document and build the :class:`BlockType`.

    Raises
    ------
    BlockError
        Naming the type and the member or field that is wrong.
    """
    if not isinstance(doc, dict):
        raise BlockError("a block type must be an object")
    key = doc.get("key")
    if not isinstance(key, str) or not key or len(key) > 100:
        raise BlockError(f"a block type needs a 'key' (short text), got {key!r:.40}")
    where = f"block type '{key}'"
    extra = set(doc) - {"key", "title", "class", "params", "nodes", "edges", "output",
                        "description"}  # fmt: skip
    if extra:
        raise BlockError(f"{where}: unknown field(s) {', '.join(sorted(extra))}")
    title = doc.get("title", key)
    cls = doc.get("class", "Block")
    if not isinstance(title, str) or not isinstance(cls, str) or not _CLASS.match(cls):
        raise BlockError(f"{where}: 'class' must be a CamelCase identifier, got {cls!r:.40}")
    params = doc.get("params", {})
    if not isinstance(params, dict):
        raise BlockError(f"{where}: 'params' must be an object")
    for name, default in params.items():
        try:
            check_param_name(name)
        except ExprError as exc:
            raise BlockError(f"{where}: {exc.message}") from None
        if not isinstance(default, (int, bool)) or abs(int(default)) > 2**31:
            raise BlockError(f"{where}: parameter '{name}' needs a whole-number default")
    names = set(params) | {"in_channels"}
    nodes = doc.get("nodes")
    if not isinstance(nodes, list) or not nodes or len(nodes) > MAX_MEMBERS:
        raise BlockError(f"{where}: 'nodes' must list 1 to {MAX_MEMBERS} members")
    members: list[Member] = []
    seen: set[str] = set()
    for nd in nodes:
        members.append(_member(nd, where, names, seen))
    edges = []
    for ed in doc.get("edges", []):
        if not (isinstance(ed, list) and len(ed) in (2, 3)):
            raise BlockError(f"{where}: an edge must be [src, dst] or [src, dst, port]")
        src, dst, port = ed[0], ed[1], ed[2] if len(ed) == 3 else 0
        if src != IN and src not in seen or dst not in seen:
            raise BlockError(f"{where}: edge {src!r:.30} → {dst!r:.30} names no member")
        if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port < 1000:
            raise BlockError(f"{where}: edge port must be a small whole number")
        edges.append((src, dst, port))
    output = doc.get("output")
    if output not in seen:
        raise BlockError(f"{where}: 'output' must name a member, got {output!r:.40}")
    bt = BlockType(key, title, cls, dict(params), members, edges, output,
                   str(doc.get("description", "")), builtin)  # fmt: skip
    _check_acyclic(bt)
    return bt


def _member(nd: Any, where: str, names: set[str], seen: set[str]) -> Member:
    if not isinstance(nd, dict):
        raise BlockError(f"{where}: a member must be an object")
    mid = nd.get("id")
    if not isinstance(mid, str) or not _MEMBER_ID.match(mid) or mid == IN:
        raise BlockError(f"{where}: member id {mid!r:.40} must be dotted identifiers")
    if mid in seen:
        raise BlockError(f"{where}: member '{mid}' appears twice")
    seen.add(mid)
    extra = set(nd) - {"id", "type", "block", "params", "when"}
    if extra:
        raise BlockError(f"{where}, member '{mid}': unknown field(s) {', '.join(sorted(extra))}")
    ntype, block = nd.get("type"), nd.get("block")
    if (ntype is None) == (block is None):
        raise BlockError(f"{where}, member '{mid}': give either 'type' or 'block'")
    if ntype is not None and (ntype not in NODE_TYPES or ntype == "input"):
        raise BlockError(f"{where}, member '{mid}': unknown node type {ntype!r:.40}")
    if block is not None and not isinstance(block, str):
        raise BlockError(f"{where}, member '{mid}': 'block' must be a block-type key")
    params = nd.get("params", {})
    if not isinstance(params, dict):
        raise BlockError(f"{where}, member '{mid}': 'params' must be an object")
    m = Member(mid, ntype, block, dict(params), nd.get("when"))
    try:
        for fname, value in params.items():
            if isinstance(value, dict):
                if set(value) != {"expr"}:
                    raise BlockError(f"{where}, member '{mid}': '{fname}' must be {{'expr': …}}")
                m.exprs[fname] = parse(value["expr"], names)
        if m.when is not None:
            m.when_expr = parse(m.when, names)
    except ExprError as exc:
        raise BlockError(f"{where}, member '{mid}': {exc.message}") from None
    return m


def _check_acyclic(bt: BlockType) -> None:
    """Members are listed in a topological order, each port is fed once: no cycle."""
    index = {m.id: i for i, m in enumerate(bt.members)}
    taken: set[tuple[str, int]] = set()
    for s, d, p in bt.edges:
        if s != IN and index[s] >= index[d]:
            raise BlockError(
                f"block type '{bt.key}': member '{d}' is listed before its input '{s}' "
                "(list members in order, without cycles)"
            )
        if (d, p) in taken:
            raise BlockError(f"block type '{bt.key}': port {p} of '{d}' is fed twice")
        taken.add((d, p))


def type_to_dict(bt: BlockType) -> dict:
    """The JSON document of a block type (what :func:`type_from_dict` reads)."""
    nodes = []
    for m in bt.members:
        entry: dict[str, Any] = {"id": m.id}
        if m.type is not None:
            entry["type"] = m.type
        else:
            entry["block"] = m.block
        if m.params:
            entry["params"] = dict(m.params)
        if m.when is not None:
            entry["when"] = m.when
        nodes.append(entry)
    return {
        "key": bt.key,
        "title": bt.title,
        "class": bt.class_name,
        "params": dict(bt.params),
        "nodes": nodes,
        "edges": [[s, d, p] for s, d, p in bt.edges],
        "output": bt.output,
        "description": bt.description,
    }


#: Most nodes one block type may expand to (nested blocks counted in full).
MAX_EXPANDED_NODES = 1_000_000
#: Deepest nesting of blocks (a type inside a type inside …, or block paths ``a.b.c``).
MAX_BLOCK_DEPTH = 32


def check_type_cycles(types: dict[str, BlockType]) -> None:
    """Refuse a type that contains itself, names an unknown type, nests too deep or is huge.

    One pass over the types (iterative, each type visited once): a cycle is named
    (``a → b → a``); a type nesting more than :data:`MAX_BLOCK_DEPTH` levels, or expanding
    to more than :data:`MAX_EXPANDED_NODES` nodes, is refused before anything is expanded.

    Raises
    ------
    BlockError
        Naming the cycle, the unknown key, or the type and its depth or size.
    """
    for bt in types.values():
        for m in bt.members:
            if m.block is not None and m.block not in types:
                raise BlockError(
                    f"block type '{bt.key}', member '{m.id}': unknown block type '{m.block}'"
                )

    def children(key: str):
        return iter(dict.fromkeys(m.block for m in types[key].members if m.block is not None))

    state: dict[str, int] = {}  # 1: on the current path, 2: done
    size: dict[str, int] = {}
    depth: dict[str, int] = {}
    for root in types:
        if root in state:
            continue
        state[root] = 1
        path, stack = [root], [children(root)]
        while stack:
            child = next(stack[-1], None)
            if child is None:
                key = path.pop()
                stack.pop()
                state[key] = 2
                members = types[key].members
                size[key] = sum(1 if m.block is None else size[m.block] for m in members)
                depth[key] = 1 + max((depth[m.block] for m in members if m.block), default=0)
                if depth[key] > MAX_BLOCK_DEPTH:
                    raise BlockError(
                        f"block type '{key}' nests {depth[key]} levels of blocks; at most "
                        f"{MAX_BLOCK_DEPTH} are allowed"
                    )
                if size[key] > MAX_EXPANDED_NODES:
                    raise BlockError(
                        f"block type '{key}' expands to {size[key]:,} nodes, more than the "
                        f"limit of {MAX_EXPANDED_NODES:,}; it is refused before expanding"
                    )
                continue
            if state.get(child) == 1:
                cycle = " → ".join(path[path.index(child) :] + [child])
                raise BlockError(f"block types contain themselves: {cycle}")
            if child not in state:
                state[child] = 1
                path.append(child)
                stack.append(children(child))


# --------------------------------------------------------------------------- instances
@dataclass
class Instance:
    """Concrete nodes of one block: what :func:`instantiate` returns."""

    nodes: list[tuple[str, str, dict, str]]  # (id, type, params, scope)
    edges: list[tuple[str, str, int]]  # among the new nodes
    entries: list[tuple[str, int]]  # (node, port) fed by the block's input
    output: str
    blocks: dict[str, dict]  # path → block record (this block and nested ones)
    local: dict[str, str] = field(default_factory=dict)  # node id → dotted member path


def node_id(path: str, local: str) -> str:
    """The graph id of member ``local`` of the block at ``path`` (dots become ``_``)."""
    return f"{path}.{local}".replace(".", "_")


def instantiate(
    types: dict[str, BlockType],
    key: str,
    values: dict[str, Any],
    in_channels: int,
    path: str,
    name: str | None = None,
) -> Instance:
    """Concrete nodes for the block type ``key`` placed at block ``path``.

    Parameters
    ----------
    types : dict
        Every known block type by key (built-in and the design's own).
    key : str
        The type to place.
    values : dict
        Parameter values; missing ones take the type's defaults.
    in_channels : int
        Channels entering the block (decides conditions such as ``downsample``).
    path : str
        The block's dotted path; node ids are ``path_member`` with dots as ``_``.
    name : str, optional
        The block's display name (default: the last part of ``path``).

    Returns
    -------
    Instance

    Raises
    ------
    BlockError
        For an unknown type or parameter, or an expression that fails.
    """
    if key not in types:
        raise BlockError(f"block '{path}': unknown block type '{key}'")
    bt = types[key]
    unknown = set(values) - set(bt.params)
    if unknown:
        raise BlockError(
            f"block '{path}' ({bt.title}): unknown parameter(s) {', '.join(sorted(unknown))}"
        )
    env: dict[str, Any] = {**bt.params, **values, "in_channels": int(in_channels)}
    for pname in bt.params:
        v = env[pname]
        if not isinstance(v, (int, bool)):
            raise BlockError(f"block '{path}': parameter '{pname}' must be a whole number")
    inst = Instance([], [], [], "", {})
    inst.blocks[path] = {
        "name": name or path.rsplit(".", 1)[-1],
        "type": key,
        "params": {p: env[p] for p in bt.params},
        "collapsed": True,
    }
    where: dict[str, str] = {}  # member → the node id carrying its output
    channels: dict[str, int] = {IN: int(in_channels)}
    entries: dict[str, list[tuple[str, int]]] = {}  # nested block member → its entry ports
    try:
        for m in bt.members:
            srcs = bt.sources(m.id)
            ins = [_resolve(where, s) for _, s in srcs]
            in_ch = [channels[s] for _, s in srcs]
            if m.when_expr is not None and not evaluate(m.when_expr, env):
                if not srcs:
                    raise BlockError(f"block '{path}': optional member '{m.id}' needs an input")
                where[m.id] = ins[0]  # an absent member passes its first input on
                channels[m.id] = in_ch[0]
                continue
            params = {f: evaluate(m.exprs[f], env) if f in m.exprs else v
                      for f, v in m.params.items()}  # fmt: skip
            local = m.id
            scope = path + ("." + local.rsplit(".", 1)[0] if "." in local else "")
            if "." in local:
                inst.blocks.setdefault(
                    scope,
                    {
                        "name": scope.rsplit(".", 1)[-1],
                        "type": None,
                        "params": {},
                        "collapsed": False,  # a sub-block opens with its block
                    },  # fmt: skip
                )
            if m.type is not None:
                nid = node_id(path, local)
                ntype = m.type
                if m.exprs:  # computed values are checked here, naming the block
                    _check_member(ntype, params, path, bt, m.id)
                if ntype == "conv" and "kernel_size" in m.exprs and _is_1x1(params):
                    # A parametric conv that comes out 1×1 is a 1×1 conv node (as builders do).
                    ntype = "conv1x1"
                    params = {k: v for k, v in params.items()
                              if k not in ("kernel_size", "padding", "dilation")}  # fmt: skip
                inst.nodes.append((nid, ntype, params, scope))
                inst.local[nid] = local
                where[m.id] = nid
                channels[m.id] = _out_channels(ntype, params, in_ch)
                for (port, _s), src in zip(srcs, ins, strict=True):
                    if src == IN:
                        inst.entries.append((nid, port))
                    else:
                        inst.edges.append((src, nid, port))
            else:
                sub = instantiate(types, m.block, params, in_ch[0], f"{path}.{local}")
                inst.nodes += sub.nodes
                inst.edges += sub.edges
                inst.blocks.update(sub.blocks)
                inst.local.update({n: f"{local}.{loc}" for n, loc in sub.local.items()})
                src = ins[0]
                for nid, port in sub.entries:
                    if src == IN:
                        inst.entries.append((nid, port))
                    else:
                        inst.edges.append((src, nid, port))
                entries[m.id] = sub.entries
                where[m.id] = sub.output
                channels[m.id] = _sub_channels(sub, in_ch[0])
        inst.output = _resolve(where, bt.output)
    except ExprError as exc:
        raise BlockError(f"block '{path}' ({bt.title}): {exc.message}") from None
    if inst.output == IN:
        raise BlockError(f"block '{path}': its output is its input")
    return inst


def _check_member(ntype: str, params: dict, path: str, bt: BlockType, member: str) -> None:
    """Raise :class:`BlockError` when computed parameters are out of range (a negative
    channel count, a bool, a huge product) for the member's node type."""
    from engine.core.errors import ParamError
    from engine.nodes.params import normalize_params

    try:
        normalize_params(ntype, params, member)
    except ParamError as exc:
        raise BlockError(f"block '{path}' ({bt.title}), member '{member}': {exc.message}") from None


def _is_1x1(params: dict) -> bool:
    return (
        params.get("kernel_size") in (1, [1, 1], (1, 1))
        and params.get("padding", 0) in (0, [0, 0], (0, 0))
        and params.get("dilation", 1) in (1, [1, 1], (1, 1))
    )


def _resolve(where: dict[str, str], src: str) -> str:
    return IN if src == IN else where[src]


def _out_channels(ntype: str, params: dict, in_ch: list[int]) -> int:
    if ntype in ("conv", "conv1x1", "conv_transpose"):
        return int(params["out_channels"])
    if ntype == "channel_slice":
        return int(params["stop"]) - int(params.get("start", 0))
    if ntype == "linear":
        return int(params["out_features"])
    if ntype == "concat":
        return sum(in_ch)
    return in_ch[0] if in_ch else 0


def _sub_channels(inst: Instance, in_ch: int) -> int:
    """Channels out of a nested block, from its instance (not instantiated again)."""
    chans: dict[str, int] = {}
    ins: dict[str, list[tuple[int, str]]] = {}
    for s, d, p in inst.edges:
        ins.setdefault(d, []).append((p, s))
    for nid, port in inst.entries:
        ins.setdefault(nid, []).append((port, IN))
    chans[IN] = in_ch
    for nid, ntype, params, _ in inst.nodes:
        chans[nid] = _out_channels(ntype, params, [chans[s] for _, s in sorted(ins.get(nid, []))])
    return chans[inst.output]
