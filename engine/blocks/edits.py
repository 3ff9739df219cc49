"""Block edits planned as undoable steps (no Qt): group, ungroup, collapse, place, retype.

Each edit is an :class:`Edit`: a text and a list of primitive steps whose inverses are
exact: a node's scope (``GraphModel.set_scope``), a block record (``GraphModel.set_block``,
put back at its old index), the design's block types (``GraphModel.set_block_types``), a
node's position, or a whole sub-graph added (``add_subgraph``) / removed. The ``plan_*``
functions raise :class:`~engine.blocks.BlockError` with the reason when the edit is
refused; :func:`apply_step` runs a step forwards or backwards, so an undo command
(:mod:`designer.block_commands`) applies the steps in order and undoes them in reverse.
Collapsing and expanding lay the visible graph out again
(:func:`engine.blocks.layout.block_layout`), as a part of the same edit.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass

from engine.blocks.hierarchy import (
    all_types,
    block_of,
    boundary,
    is_under,
    parent_block,
    records,
    user_type_docs,
)
from engine.blocks.layout import block_layout
from engine.blocks.types import BlockError, instantiate
from engine.core.graph import GraphModel

Step = tuple  # ("scope", node, old, new) | ("block", path, old, new, index) | ("pos", …)


@dataclass
class Edit:
    """A planned block edit: its undo text, its steps, and the block it made (if any)."""

    text: str
    steps: list[Step]
    path: str | None = None


def apply_step(model: GraphModel, step: Step, forward: bool) -> None:
    """Apply ``step`` to ``model`` (``forward``) or undo it."""
    kind = step[0]
    if kind == "scope":
        _, node, old, new = step
        model.set_scope(node, new if forward else old)
    elif kind == "block":
        _, path, old, new, index = step
        model.set_block(path, new if forward else old, index)
    elif kind == "pos":
        _, old, new = step
        model.set_positions(new if forward else old)
    elif kind == "add":
        _, nodes, edges = step
        if forward:
            model.add_subgraph(nodes, edges)
        else:
            for n, *_ in reversed(nodes):
                model.remove_node(n)
    elif kind == "remove":
        _, node_ids, saved = step
        if forward:
            saved.clear()
            saved.extend(model.remove_node(n) for n in reversed(node_ids))
        else:
            for record in reversed(saved):
                model.restore_node(record)
    elif kind == "connect":
        _, src, dst, port = step
        if forward:
            model.connect(src, dst, port)
        else:
            model.disconnect(dst, port)
    elif kind == "types":
        _, old, new = step
        model.set_block_types(new if forward else old)
    elif kind == "disconnect":
        _, src, dst, port = step
        if forward:
            model.disconnect(dst, port)
        else:
            model.connect(src, dst, port)


# --------------------------------------------------------------------------- planning
class Plan:
    """Steps planned against a scratch copy of the model (so later steps see earlier ones)."""

    def __init__(self, model: GraphModel) -> None:
        self.scratch = model.copy()
        self.steps: list[Step] = []

    def scope(self, node: str, new: str | None) -> None:
        old = self.scratch.graph.nodes[node].get("scope")
        if (old or None) != (new or None):
            self.steps.append(("scope", node, old, new or None))
            self.scratch.set_scope(node, new)

    def block(self, path: str, new: dict | None) -> None:
        recs = records(self.scratch)
        old = copy.deepcopy(recs.get(path))
        index = list(recs).index(path) if path in recs else None
        self.steps.append(("block", path, old, copy.deepcopy(new), index))
        self.scratch.set_block(path, new, index)

    def relayout(self, aspect: tuple[float, float]) -> None:
        nodes, blocks = block_layout(self.scratch, aspect)
        old = {n: self.scratch.pos(n) for n in nodes}
        if any(old[n] != tuple(p) for n, p in nodes.items()):
            self.steps.append(("pos", old, dict(nodes)))
            self.scratch.set_positions(nodes)
        recs = records(self.scratch)
        for path, p in blocks.items():
            if recs[path].get("pos") != [p[0], p[1]]:
                self.block(path, {**recs[path], "pos": [p[0], p[1]]})


def free_name(model: GraphModel, parent: str, base: str) -> str:
    """A child name of ``parent`` that no block or scope uses yet."""
    taken = set()
    for p in records(model):
        if parent_block(model, p) == parent or p.startswith(parent + "." if parent else ""):
            taken.add(p[len(parent) + 1 :].split(".")[0] if parent else p.split(".")[0])
    for n in model.graph.nodes:
        s = model.graph.nodes[n].get("scope") or ""
        if is_under(s, parent) and s != parent:
            taken.add(s[len(parent) + 1 :].split(".")[0] if parent else s.split(".")[0])
    base = re.sub(r"[^0-9A-Za-z_]+", "_", base).strip("_") or "block"
    if base not in taken:
        return base
    stem = re.sub(r"\d+$", "", base) or base
    k = 1
    while f"{stem}{k}" in taken:
        k += 1
    return f"{stem}{k}"


def _join(parent: str, name: str) -> str:
    return f"{parent}.{name}" if parent else name


def _rebase(scope: str | None, old: str, new: str) -> str | None:
    """``scope`` with its prefix ``old`` replaced by ``new`` (``""`` = top level)."""
    scope = scope or ""
    if old and not is_under(scope, old):
        return scope or None
    rest = scope[len(old) :].lstrip(".") if old else scope
    out = f"{new}.{rest}" if new and rest else (new or rest)
    return out or None


def expand_selection(model: GraphModel, nodes: list[str], blocks: list[str]) -> list[str]:
    """Selected nodes plus every member of the selected blocks, in node order."""
    chosen = set(nodes)
    for path in blocks:
        chosen |= {n for n in model.graph.nodes if is_under(block_of(model, n), path)}
    return [n for n in model.graph.nodes if n in chosen]


def plan_group(
    model: GraphModel, nodes: list[str], name: str = "block", cards: list[str] = ()
) -> Edit:
    """Group ``nodes`` (whole sub-blocks included) into a new expanded block.

    ``cards`` are blocks selected as a whole (their collapsed cards): grouping exactly
    one of them wraps it; grouping all the members of an expanded block groups them
    inside it.

    Raises
    ------
    BlockError
        If nothing is selected, the selection cuts through a block, holds the input, or
        would have no input or more than one output (naming the nodes).
    """
    if not nodes:
        raise BlockError("select the nodes to group first")
    chosen = set(nodes)
    parent = block_of(model, nodes[0])
    while parent and not all(is_under(block_of(model, n), parent) for n in nodes):
        parent = parent_block(model, parent)
    while parent in cards and chosen == {
        n for n in model.graph.nodes if is_under(block_of(model, n), parent)
    }:
        parent = parent_block(model, parent)  # its card selected: wrap the block itself
    for path in records(model):
        if not is_under(path, parent) or path == parent:
            continue
        inside = {n for n in model.graph.nodes if is_under(block_of(model, n), path)}
        if inside & chosen and not inside <= chosen:
            rec = records(model)[path]
            raise BlockError(
                f"the selection cuts through block '{rec.get('name') or path}': "
                "select all of it or none of it"
            )
    if any(model.node_type(n) == "input" for n in nodes):
        raise BlockError("a block cannot hold the network's input")
    g = model.graph
    outs = [
        n for n in nodes if not g.out_degree(n) or any(v not in chosen for v in g.successors(n))
    ]
    ins = {u for n in nodes for u in g.predecessors(n) if u not in chosen}
    if not ins:
        raise BlockError("a block needs an input from outside the selection")
    if len(outs) != 1:
        listed = ", ".join(f"'{n}'" for n in outs[:4])
        raise BlockError(f"a block has one output, but {listed} are used outside the selection")
    new = _join(parent, free_name(model, parent, name))
    plan = Plan(model)
    for path in list(records(model)):
        if is_under(path, parent) and path != parent:
            inside = {n for n in g.nodes if is_under(block_of(model, n), path)}
            if inside and inside <= chosen:
                rec = records(plan.scratch)[path]
                plan.block(path, None)
                plan.block(_rebase(path, parent, new), rec)
    for n in nodes:
        plan.scope(n, _rebase(g.nodes[n].get("scope"), parent, new))
    plan.block(new, {"name": new.rsplit(".", 1)[-1], "type": None, "params": {},
                     "collapsed": False})  # fmt: skip
    return Edit(f"Group {len(nodes)} nodes into '{new}'", plan.steps)


def plan_ungroup(model: GraphModel, path: str, aspect=(1600.0, 1000.0)) -> Edit:
    """Dissolve block ``path``: its members and sub-blocks move up one level."""
    recs = records(model)
    if path not in recs:
        raise BlockError(f"there is no block '{path}'")
    parent = parent_block(model, path)
    plan = Plan(model)
    was_collapsed = recs[path].get("collapsed")
    plan.block(path, None)
    moved: dict[str, str] = {}
    for sub in [p for p in list(recs) if p.startswith(path + ".")]:
        head = sub[len(path) + 1 :].split(".")[0]
        if head not in moved:
            moved[head] = _join(parent, free_name(plan.scratch, parent, head))
        rest = sub[len(path) + 1 + len(head) :]
        rec = records(plan.scratch)[sub]
        plan.block(sub, None)
        plan.block(moved[head] + rest, rec)
    for n in model.graph.nodes:
        s = model.graph.nodes[n].get("scope") or ""
        if is_under(s, path):
            rest = s[len(path) + 1 :]
            if rest:
                head = rest.split(".")[0]
                target = moved.get(head) or _join(parent, head)
                plan.scope(n, target + rest[len(head) :])
            else:
                plan.scope(n, parent or None)
    if was_collapsed:
        plan.relayout(aspect)
    name = recs[path].get("name") or path
    return Edit(f"Ungroup '{name}'", plan.steps)


def plan_relayout(model: GraphModel, aspect=(1600.0, 1000.0)) -> Edit:
    """Auto-layout: every visible node and collapsed block where
    :func:`engine.blocks.layout.block_layout` puts it, wrapped to ``aspect`` (no steps if
    everything is there already)."""
    plan = Plan(model)
    plan.relayout(aspect)
    return Edit("Auto-layout", plan.steps)


def plan_set_collapsed(
    model: GraphModel, path: str, collapsed: bool, aspect=(1600.0, 1000.0)
) -> Edit:
    """Collapse or expand block ``path`` and lay the visible graph out again."""
    recs = records(model)
    if path not in recs:
        raise BlockError(f"there is no block '{path}'")
    plan = Plan(model)
    plan.block(path, {**recs[path], "collapsed": collapsed})
    plan.relayout(aspect)
    name = recs[path].get("name") or path
    return Edit(f"{'Collapse' if collapsed else 'Expand'} '{name}'", plan.steps)


def plan_place(
    model: GraphModel,
    key: str,
    values: dict,
    src: str | None,
    in_channels: int,
    pos: tuple[float, float],
    name: str | None = None,
) -> Edit:
    """Place an instance of block type ``key`` (collapsed, at ``pos``), fed by ``src``.

    Raises
    ------
    BlockError
        If a parameter is wrong (the message names it) or the nodes are refused.
    """
    types = all_types(model)
    if key not in types:
        raise BlockError(f"unknown block type '{key}'")
    base = name or key
    path = free_name(model, "", base)
    while any(n.startswith(path.replace(".", "_") + "_") for n in model.graph.nodes):
        path = free_name(model, "", path + "_1")
    inst = instantiate(types, key, values, in_channels, path)
    nodes = [(nid, t, p, (pos[0], pos[1]), scope) for nid, t, p, scope in inst.nodes]
    edges = list(inst.edges)
    try:
        model.check_subgraph(nodes, edges)
    except Exception as exc:  # the engine's typed errors: say which block
        raise BlockError(f"block '{path}': {getattr(exc, 'message', exc)}") from None
    plan = Plan(model)
    plan.steps.append(("add", nodes, edges))
    plan.scratch.add_subgraph(nodes, edges)
    for p, rec in inst.blocks.items():
        plan.block(p, {**rec, "pos": [pos[0], pos[1]]} if p == path else rec)
    if src is not None:
        for v, k in inst.entries:
            plan.steps.append(("connect", src, v, k))
            plan.scratch.connect(src, v, k)
    title = types[key].title
    return Edit(f"Place {title} '{path}'", plan.steps, path)


def plan_make_unique(model: GraphModel, path: str) -> Edit:
    """Detach block ``path`` from its type: later edits of the type leave it alone."""
    recs = records(model)
    if path not in recs or recs[path].get("type") is None:
        raise BlockError(f"block '{path}' has no type to detach from")
    plan = Plan(model)
    plan.block(path, {**recs[path], "type": None, "params": {}})
    return Edit(f"Make '{recs[path].get('name') or path}' unique", plan.steps)


def type_from_instance(model: GraphModel, path: str) -> tuple[str, dict]:
    """The definition of block ``path``'s type rewritten from the block's current content.

    Fields bound to a parameter in the old definition stay bound; every other field,
    member and edge is taken from the block as it is now.

    Raises
    ------
    BlockError
        If the block has no type of the design's own, or its ports do not fit.
    """
    recs = records(model)
    key = recs.get(path, {}).get("type")
    docs = user_type_docs(model)
    if key is None or key not in docs:
        raise BlockError("only blocks of the design's own types can update their type")
    old = docs[key]
    bound = {
        (m["id"], f): v
        for m in old["nodes"]
        for f, v in m.get("params", {}).items()
        if isinstance(v, dict)
    }
    b = boundary(model, path)
    if len(b.sources) != 1 or len(b.outputs) != 1:
        raise BlockError(f"block '{path}' needs one input and one output")
    members = [n for n in model.graph.nodes if is_under(block_of(model, n), path)]
    stem = path.replace(".", "_") + "_"
    local = {n: (n[len(stem) :] if n.startswith(stem) else n) for n in members}
    nodes = []
    for n in members:
        p = dict(model.graph.nodes[n]["params"])
        for f in list(p):
            if (local[n], f) in bound:
                p[f] = bound[(local[n], f)]
        nodes.append({"id": local[n], "type": model.node_type(n), "params": p})
    inside = set(members)
    edges = [[local[u], local[v], k] for u, v, k in model.edges() if u in inside and v in inside]
    edges += [["in", local[v], k] for _, v, k in b.entries]
    return key, {**old, "nodes": nodes, "edges": edges, "output": local[b.outputs[0]]}


def plan_retype(model: GraphModel, key: str, new_doc: dict, aspect=(1600.0, 1000.0)) -> Edit:
    """Change the design's block type ``key`` and rebuild every instance of it.

    Each instance keeps its path, parameter values, input and consumers; its members are
    replaced by the new definition's. Unique instances (no type) are left alone.

    Raises
    ------
    BlockError
        If the new definition is invalid or an instance cannot be rebuilt (naming it).
    """
    from engine.blocks.types import type_from_dict, type_to_dict

    new_type = type_from_dict(new_doc)
    if new_type.key != key:
        raise BlockError(f"the new definition's key is '{new_type.key}', not '{key}'")
    plan = Plan(model)
    docs = user_type_docs(model)
    if key not in docs:
        raise BlockError(f"'{key}' is not one of this design's block types")
    types_doc = dict(docs)
    types_doc[key] = type_to_dict(new_type)
    plan.steps.append(("types", copy.deepcopy(docs), copy.deepcopy(types_doc)))
    plan.scratch.set_block_types(types_doc)
    recs = records(model)
    for path in [p for p, r in recs.items() if r.get("type") == key]:
        _rebuild_instance(plan, path)
    plan.relayout(aspect)
    return Edit(f"Edit block type '{new_type.title}'", plan.steps)


def _rebuild_instance(plan: Plan, path: str) -> None:
    m = plan.scratch
    rec = copy.deepcopy(records(m)[path])
    b = boundary(m, path)
    if len(b.sources) != 1 or len(b.outputs) != 1:
        raise BlockError(f"block '{rec.get('name') or path}' has no single input and output")
    src, out = b.sources[0], b.outputs[0]
    consumers = [(v, k) for _, v, k in m.graph.out_edges(out, keys=True)
                 if not is_under(block_of(m, v), path)]  # fmt: skip
    from engine.analysis.analyzer import analyze

    shape = analyze(m.graph).nodes[src].shape
    if not shape:
        raise BlockError(f"block '{rec.get('name') or path}': its input has no shape")
    inst = instantiate(all_types(m), rec["type"], rec.get("params", {}), shape[0], path)
    old_members = [n for n in m.graph.nodes if is_under(block_of(m, n), path)]
    pos = rec.get("pos") or list(m.pos(old_members[0]) or (0.0, 0.0))
    for p in [p for p in records(m) if is_under(p, path) and p != path]:
        plan.block(p, None)
    # Removing the old members drops their edges to the consumers too; the undo of the
    # removal restores them in their exact order.
    plan.steps.append(("remove", old_members, []))
    for n in reversed(old_members):
        m.remove_node(n)
    nodes = [(nid, t, p, (pos[0], pos[1]), scope) for nid, t, p, scope in inst.nodes]
    plan.steps.append(("add", nodes, list(inst.edges)))
    m.add_subgraph(nodes, inst.edges)
    for p, r in inst.blocks.items():
        plan.block(
            p, {**r, "collapsed": rec.get("collapsed", True), "pos": pos} if p == path else r
        )
    for v, k in inst.entries:
        plan.steps.append(("connect", src, v, k))
        m.connect(src, v, k)
    for v, k in consumers:
        plan.steps.append(("connect", inst.output, v, k))
        m.connect(inst.output, v, k)


def plan_save_type(
    model: GraphModel,
    path: str,
    key: str,
    title: str,
    params: dict[str, list[tuple[str, str]]],
) -> Edit:
    """Save block ``path`` as the design's own block type ``key``; the block becomes its instance.

    Parameters
    ----------
    params : dict
        Parameter name → the ``(member, field)`` pairs it sets, e.g.
        ``{"width": [("conv1", "out_channels"), ("conv2", "out_channels")]}``; members
        are named by their id inside the block (``conv1`` for ``blk_conv1`` in ``blk``).

    Raises
    ------
    BlockError
        If the block has not one input and one output, holds sub-blocks, a parameter
        name is not allowed, or a field is missing or differs between its members.
    """
    from engine.blocks.expr import ExprError, check_param_name
    from engine.blocks.types import type_from_dict, type_to_dict

    recs = records(model)
    if path not in recs:
        raise BlockError(f"there is no block '{path}'")
    name = recs[path].get("name") or path
    if key in all_types(model):
        raise BlockError(f"a block type '{key}' exists already")
    if any(p.startswith(path + ".") for p in recs):
        raise BlockError(f"block '{name}' holds other blocks: ungroup them first")
    b = boundary(model, path)
    if len(b.sources) != 1 or len(b.outputs) != 1:
        raise BlockError(f"block '{name}' needs one input and one output to become a type")
    members = [n for n in model.graph.nodes if is_under(block_of(model, n), path)]
    stem = path.replace(".", "_") + "_"
    local = {n: (n[len(stem) :] if n.startswith(stem) else n) for n in members}
    for n, loc in local.items():
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", loc) or loc == "in":
            raise BlockError(f"rename '{n}' to a plain name (letters, digits, _) first")
    values: dict[str, int] = {}
    fields: dict[tuple[str, str], str] = {}
    by_local = {loc: n for n, loc in local.items()}
    for pname, uses in params.items():
        try:
            check_param_name(pname)
        except ExprError as exc:
            raise BlockError(exc.message) from None
        for member, field in uses:
            if member not in by_local or field not in model.graph.nodes[by_local[member]]["params"]:
                raise BlockError(f"parameter '{pname}': block '{name}' has no '{member}.{field}'")
            v = model.graph.nodes[by_local[member]]["params"][field]
            if not isinstance(v, int) or isinstance(v, bool):
                raise BlockError(f"parameter '{pname}': '{member}.{field}' is not a whole number")
            if values.setdefault(pname, v) != v:
                raise BlockError(
                    f"parameter '{pname}': its fields differ ({values[pname]} and {v})"
                )
            fields[(member, field)] = pname
    nodes = []
    for n in members:
        p = dict(model.graph.nodes[n]["params"])
        for (member, field), pname in fields.items():
            if member == local[n]:
                p[field] = {"expr": pname}
        nodes.append({"id": local[n], "type": model.node_type(n), "params": p})
    inside = set(members)
    edges = [[local[u], local[v], k] for u, v, k in model.edges() if u in inside and v in inside]
    edges += [["in", local[v], k] for _, v, k in b.entries]
    type_doc = {"key": key, "title": title, "class": _class_of(title), "params": values,
                "nodes": nodes, "edges": edges, "output": local[b.outputs[0]]}  # fmt: skip
    try:
        type_doc = type_to_dict(type_from_dict(type_doc))
    except BlockError as exc:
        raise BlockError(f"block '{name}': {exc.message}") from None
    plan = Plan(model)
    docs = user_type_docs(model)
    plan.steps.append(("types", copy.deepcopy(docs), {**copy.deepcopy(docs), key: type_doc}))
    plan.scratch.set_block_types({**copy.deepcopy(docs), key: type_doc})
    plan.block(path, {**recs[path], "type": key, "params": values})
    return Edit(f"Save '{name}' as block type '{title}'", plan.steps)


def _class_of(title: str) -> str:
    words = [w for w in re.split(r"[^A-Za-z0-9]+", title) if w]
    name = "".join(w[0].upper() + w[1:] for w in words) or "Block"
    return name if name[0].isalpha() else "Block" + name
