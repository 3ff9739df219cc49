"""What the readable export knows of a design's blocks: which can be modules, their
boundaries, owners and attribute paths, and whether a block is exactly its type.

:class:`BlockContext` holds it, with the classes written so far; :func:`context` makes it
from a design (and its program's plan). No torch import.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.blocks.hierarchy import (
    Boundary,
    all_types,
    block_of,
    boundary_of,
    parent_path,
    records,
)
from engine.blocks.types import BlockType, instantiate
from engine.codegen.emit import Plan, make_plan
from engine.codegen.naming import class_name
from engine.codegen.targets import scope_targets
from engine.core.graph import GraphLike, GraphModel
from engine.nodes import normalize_params


@dataclass
class SharedClass:
    """A class shared by blocks of one module class and structure."""

    name: str
    params: dict[int, str]  # slot → argument name
    fixed: dict[int, int]  # slot → the literal every instance has


@dataclass
class BlockContext:
    """A design's blocks as the readable export sees them, and the classes written so far."""

    model: GraphModel
    plan: Plan
    types: dict[str, BlockType]
    valid: set[str]
    scopes: dict[str, str]  # scope path → its target path
    classes: dict[str, list[str]] = field(default_factory=dict)  # name → lines
    ctor: dict[str, str] = field(default_factory=dict)  # block path → constructor text
    shared: dict[tuple, list[SharedClass]] = field(default_factory=dict)  # structure → classes
    class_args: dict[str, list[str]] = field(default_factory=dict)  # class → its arguments
    typed_done: set[str] = field(default_factory=set)
    matched: dict[str, BlockType | None] = field(default_factory=dict)  # block → its type
    typed_names: set[str] = field(default_factory=set)  # classes of the types written
    held: dict[str, str] = field(default_factory=dict)  # node → its block (block_of)
    bounds: dict[str, Boundary] = field(default_factory=dict)  # block → its boundary


def context(graph: GraphLike, plan: Plan | None = None) -> BlockContext:
    """The blocks of ``graph`` (a model or its networkx graph) with its program's plan."""
    model = graph if isinstance(graph, GraphModel) else _wrap(graph)
    plan = plan if plan is not None else make_plan(model)
    held = {n: block_of(model, n) for n in model.graph.nodes}
    bounds: dict = {}
    valid = _valid_blocks(model, held, bounds)
    return BlockContext(
        model, plan, all_types(model), valid, scope_targets(model), held=held, bounds=bounds
    )


def _wrap(g) -> GraphModel:
    m = GraphModel(str(g.graph.get("name", "") or ""))
    m.graph = g
    return m


def boundary(ctx: BlockContext, path: str) -> Boundary:
    """:func:`engine.blocks.hierarchy.boundary`, computed once per block."""
    if path not in ctx.bounds:
        ctx.bounds[path] = _bound(ctx.model, path, ctx.held)
    return ctx.bounds[path]


def _bound(model: GraphModel, path: str, held: dict[str, str]) -> Boundary:
    return boundary_of(model, {n for n in model.graph.nodes if under(held[n], path)})


def owner(ctx: BlockContext, node: str) -> str:
    """The innermost block holding ``node`` that is a module (``""``: the design)."""
    b = ctx.held[node]
    while b and b not in ctx.valid:
        b = parent_path(b)
    return b


def parent_block(ctx: BlockContext, path: str) -> str:
    """The innermost block around block ``path`` that is a module (``""``: the design)."""
    p = parent_path(path)
    while p and p not in ctx.valid:
        p = parent_path(p)
    return p


def _valid_blocks(model: GraphModel, held: dict[str, str], bounds: dict) -> set[str]:
    """Blocks that can be modules: one output, inputs from outside, no input node inside."""
    valid = set()
    for path in records(model):
        b = bounds[path] = _bound(model, path, held)
        inside = [n for n in model.graph.nodes if under(held[n], path)]
        if (
            len(b.outputs) == 1
            and b.sources
            and not any(model.graph.nodes[n]["type"] == "input" for n in inside)
        ):
            valid.add(path)
    return valid


def under(path: str, ancestor: str) -> bool:
    """Whether block ``path`` is ``ancestor`` or inside it."""
    return path == ancestor or path.startswith(ancestor + ".")


def matches_type(ctx: BlockContext, path: str) -> BlockType | None:
    """The block's type, if its nodes are exactly what the type gives (else ``None``)."""
    rec = records(ctx.model)[path]
    key = rec.get("type")
    if key is None or key not in ctx.types:
        return None
    g = ctx.model.graph
    b = boundary(ctx, path)
    if len(b.sources) != 1:
        return None
    in_ch = ctx.plan.shapes[b.sources[0]][0]
    try:
        inst = instantiate(ctx.types, key, rec.get("params", {}), in_ch, path)
    except Exception:  # noqa: BLE001 - any failure means: write this block literally
        return None
    inside = {n for n in g.nodes if under(ctx.held[n], path)}
    ren = {n: n for n, *_ in inst.nodes}
    if set(ren) != inside:
        ren = _members_by_name(ctx, path, inst.local, inside)  # e.g. grouped, then saved
        if ren is None:
            return None
    if ren.get(inst.output) != b.outputs[0]:
        return None
    for nid, ntype, params, _ in inst.nodes:
        node = ren[nid]
        if g.nodes[node]["type"] != ntype or g.nodes[node]["params"] != normalize_params(
            ntype, params
        ):
            return None
        if node in ctx.plan.targets and ctx.plan.targets[node] != _join(
            ctx.scopes.get(path, path), inst.local[nid]
        ):
            return None  # a renamed member: the type's attribute would not be its target
    edges = {(u, v, k) for u, v, k in g.edges(keys=True) if u in inside and v in inside}
    if edges != {(ren[u], ren[v], k) for u, v, k in inst.edges}:
        return None
    if {(v, k) for _, v, k in b.entries} != {(ren[v], k) for v, k in inst.entries}:
        return None
    return ctx.types[key]


def _members_by_name(
    ctx: BlockContext, path: str, local: dict[str, str], inside: set[str]
) -> dict[str, str] | None:
    """Instance node → design node, matched by member name (target, or id without stem)."""
    stem = path.replace(".", "_") + "_"
    by_name: dict[str, str] = {}
    for n in inside:
        if n in ctx.plan.targets:
            name = relative(ctx, path, ctx.plan.targets[n])
        else:
            name = n[len(stem) :] if n.startswith(stem) and len(n) > len(stem) else n
        if name in by_name:
            return None
        by_name[name] = n
    ren = {}
    for nid, member in local.items():
        node = by_name.get(member) or by_name.get(member.replace(".", "_"))
        if node is None:
            return None
        ren[nid] = node
    return ren if set(ren.values()) == inside and len(ren) == len(inside) else None


def _join(parent: str, name: str) -> str:
    return f"{parent}.{name}" if parent else name


def relative(ctx: BlockContext, path: str, target: str) -> str:
    """``target`` relative to the class of block ``path`` (``""``: the design)."""
    base = ctx.scopes.get(path, path) if path else ""
    return target[len(base) + 1 :] if base else target


def base_name(ctx: BlockContext, path: str) -> str:
    """A block's class name: the imported module's class, else from its name."""
    rec = records(ctx.model)[path]
    if rec.get("class"):
        return class_name(rec["class"])
    title = rec.get("name") or path.rsplit(".", 1)[-1]
    return class_name(title if not title.isdigit() else path.replace(".", " ") + " block")
