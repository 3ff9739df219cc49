"""Blocks on a design: records, membership, boundaries, validation and per-block totals.

A block is a record (``GraphModel.set_block``) keyed by its dotted path
(``"layer1.0"``): ``name``, ``type`` (a block-type key, or ``None`` for a plain group),
``params`` (the type's values) and ``collapsed``. Its members are the nodes whose
``scope`` is the path or lies below it; a node belongs to the deepest block whose path is
a prefix of its scope. The design's own block types are documents in
``GraphModel.set_block_types``. Everything here is a plain function over the model.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.analysis.analyzer import Analysis
from engine.blocks.library import BUILTIN_TYPES
from engine.blocks.types import BlockError, BlockType, check_type_cycles, type_from_dict
from engine.core.graph import GraphModel


def records(model: GraphModel) -> dict[str, dict]:
    """The block records of ``model`` by path (read only: change them with ``set_block``)."""
    return model.graph.graph.get("blocks") or {}


def user_type_docs(model: GraphModel) -> dict[str, dict]:
    """The design's own block-type documents by key (read only: ``set_block_types``)."""
    return model.graph.graph.get("block_types") or {}


def all_types(model: GraphModel | None = None) -> dict[str, BlockType]:
    """Built-in and (if ``model`` is given) the design's own block types by key.

    Raises
    ------
    BlockError
        If a type of the design is invalid, shadows a built-in one, or types nest in a cycle.
    """
    types = dict(BUILTIN_TYPES)
    if model is not None:
        for key, doc in user_type_docs(model).items():
            if key in BUILTIN_TYPES:
                raise BlockError(f"block type '{key}' has the key of a built-in type")
            types[key] = type_from_dict(doc)
        check_type_cycles(types)
    return types


def parent_path(path: str) -> str:
    """The enclosing block's path (``""`` at the top level)."""
    return path.rsplit(".", 1)[0] if "." in path else ""


def is_under(path: str, ancestor: str) -> bool:
    """Whether ``path`` is ``ancestor`` or lies inside it (``""`` contains everything)."""
    return not ancestor or path == ancestor or path.startswith(ancestor + ".")


def block_of(model: GraphModel, node: str) -> str:
    """The path of the deepest block holding ``node`` (``""``: the top level)."""
    scope = model.graph.nodes[node].get("scope") or ""
    recs = records(model)
    while scope and scope not in recs:
        scope = parent_path(scope)
    return scope


def parent_block(model: GraphModel, path: str) -> str:
    """The deepest block enclosing the block ``path`` (``""``: the top level)."""
    recs = records(model)
    p = parent_path(path)
    while p and p not in recs:
        p = parent_path(p)
    return p


def members(model: GraphModel, path: str) -> list[str]:
    """Every node inside block ``path`` (nested blocks included), in node order."""
    return [n for n in model.graph.nodes if is_under(block_of(model, n), path)]


def child_blocks(model: GraphModel, path: str) -> list[str]:
    """The blocks directly inside ``path``, in the order of their first member."""
    recs = records(model)
    first: dict[str, int] = {}
    for i, n in enumerate(model.graph.nodes):
        b = block_of(model, n)
        while b and b != path:
            if parent_block(model, b) == path and b in recs:
                first.setdefault(b, i)
                break
            b = parent_block(model, b)
    return sorted(first, key=first.get)


@dataclass
class Boundary:
    """How a block meets the rest: edges entering it and the nodes whose value leaves it."""

    entries: list[tuple[str, str, int]]  # (outside src, member dst, port)
    outputs: list[str]  # members used outside (or sinks of the graph)
    sources: list[str]  # distinct outside sources, in order of first use


def boundary(model: GraphModel, path: str) -> Boundary:
    """The inputs and outputs of block ``path``."""
    return boundary_of(model, set(members(model, path)))


def boundary_of(model: GraphModel, inside: set[str]) -> Boundary:
    """The inputs and outputs of the node set ``inside``, in graph order."""
    g = model.graph
    entries, outputs = [], []
    for n in g.nodes:
        if n not in inside:
            continue
        for u, _, k in sorted(g.in_edges(n, keys=True), key=lambda e: e[2]):
            if u not in inside:
                entries.append((u, n, k))
        if not g.out_degree(n) or any(v not in inside for v in g.successors(n)):
            outputs.append(n)
    return Boundary(entries, outputs, list(dict.fromkeys(u for u, _, _ in entries)))


def check_blocks(model: GraphModel) -> None:
    """Refuse invalid nesting, naming the block.

    Raises
    ------
    BlockError
        For a block without members, an unknown or cyclic type, a type parameter the
        type does not have, or a typed block whose ports do not match its type (one
        input, one output).
    """
    types = all_types(model)
    recs = records(model)
    held = {block_of(model, n) for n in model.graph.nodes}
    for path in recs:
        if not path or any(not part for part in path.split(".")):
            raise BlockError(f"block path {path!r:.60} must be dotted names")
    for path, rec in recs.items():
        name = rec.get("name") or path
        if not any(is_under(h, path) for h in held):
            raise BlockError(f"block '{name}' ({path}) has no members")
        key = rec.get("type")
        if key is None:
            continue
        if key not in types:
            raise BlockError(f"block '{name}' ({path}): unknown block type '{key}'")
        unknown = set(rec.get("params", {})) - set(types[key].params)
        if unknown:
            raise BlockError(
                f"block '{name}' ({path}): type '{key}' has no parameter(s) "
                + ", ".join(sorted(unknown))
            )
        b = boundary(model, path)
        if len(b.sources) > 1 or len(b.outputs) != 1:
            raise BlockError(
                f"block '{name}' ({path}): its ports do not match type '{key}' (one input, "
                f"one output): it has {len(b.sources)} input(s) and {len(b.outputs)} output(s)"
            )


@dataclass
class BlockTotals:
    """Sums over a block's members and what enters and leaves it."""

    params: int
    weights: int
    biases: int
    other: int
    macs: int
    activation_bytes: int
    in_shapes: list[tuple]
    out_shapes: list[tuple]
    rf: tuple | None
    nodes: int
    errors: int


def block_totals(model: GraphModel, analysis: Analysis, path: str) -> BlockTotals:
    """Parameters, MACs, shapes and receptive field of block ``path``.

    The receptive field is that of the block's output in the network's input pixels.
    """
    inside = members(model, path)
    b = boundary(model, path)
    res = analysis.nodes
    t = BlockTotals(0, 0, 0, 0, 0, 0, [], [], None, len(inside), 0)
    for n in inside:
        r = res.get(n)
        if r is None or r.shape is None:
            t.errors += 1
            continue
        t.weights += r.weights
        t.biases += r.biases
        t.other += r.other
        t.macs += r.macs
        t.activation_bytes += r.activation_bytes
    t.params = t.weights + t.biases + t.other
    t.in_shapes = [res[u].shape for u in b.sources if u in res and res[u].shape]
    t.out_shapes = [res[n].shape for n in b.outputs if n in res and res[n].shape]
    if len(b.outputs) == 1 and b.outputs[0] in res:
        t.rf = res[b.outputs[0]].rf
    return t


def blocks_from_scopes(model: GraphModel, collapsed: bool = True) -> list[str]:
    """Add a plain block for every module path in the nodes' scopes (imported models).

    ``layer1.0.conv1``'s scope ``layer1.0`` gives the blocks ``layer1`` and ``layer1.0``.
    A path whose members would not have a single output is left as a plain scope.

    Returns
    -------
    list of str
        The paths added, outermost first.
    """
    paths: set[str] = set()
    for n in model.graph.nodes:
        scope = model.graph.nodes[n].get("scope") or ""
        while scope:
            paths.add(scope)
            scope = parent_path(scope)
    added = []
    for path in sorted(paths, key=lambda p: (p.count("."), p)):
        if path in records(model):
            continue
        model.set_block(path, {
            "name": path.rsplit(".", 1)[-1], "type": None, "params": {}, "collapsed": collapsed,
        })  # fmt: skip
        if len(boundary(model, path).outputs) != 1:
            model.set_block(path, None)
            continue
        added.append(path)
    return added


def add_instance(
    model: GraphModel,
    key: str,
    path: str,
    src: str | None,
    in_channels: int,
    values: dict | None = None,
    name: str | None = None,
) -> str:
    """Build an instance of block type ``key`` at ``path``, fed by ``src``; return its output.

    For builders (templates, tests); the editor does the same through undoable commands.

    Raises
    ------
    BlockError
        If the type or a parameter is unknown, or a node id is taken.
    """
    from engine.blocks.types import instantiate

    inst = instantiate(all_types(model), key, values or {}, in_channels, path, name)
    taken = [nid for nid, *_ in inst.nodes if nid in model]
    if taken:
        raise BlockError(f"block '{path}': node id '{taken[0]}' is taken")
    for nid, ntype, params, scope in inst.nodes:
        model.add_node(ntype, params, nid, None, scope=scope)
    for u, v, k in inst.edges:
        model.connect(u, v, k)
    if src is not None:
        for v, k in inst.entries:
            model.connect(src, v, k)
    for p, rec in inst.blocks.items():
        model.set_block(p, rec)
    return inst.output


def enclosing_block(model: GraphModel, nodes: list[str]) -> str | None:
    """The innermost block holding every one of ``nodes`` (``None``: none, or no nodes)."""
    nodes = [n for n in nodes if n in model]
    if not nodes:
        return None
    path = block_of(model, nodes[0])
    while path and not all(is_under(block_of(model, n), path) for n in nodes):
        path = parent_block(model, path)
    return path or None


def block_summary(model: GraphModel, analysis: Analysis, path: str) -> str:
    """One line of a block's totals: ``Block layer1.0 (Residual bottleneck): …``."""
    from engine.formatting import fmt_compact, fmt_int, fmt_rf_size
    from engine.nodes import fmt_shape

    rec = records(model)[path]
    t = block_totals(model, analysis, path)
    try:
        types = all_types(model)
    except BlockError:
        types = {}
    key = rec.get("type")
    kind = f" ({types[key].title})" if key in types else ""
    shapes = " → ".join(
        ", ".join(fmt_shape(s) for s in side) or "–" for side in (t.in_shapes, t.out_shapes)
    )
    return (
        f"Block {path}{kind}: {fmt_int(t.params)} params · {fmt_compact(t.macs)} MACs · "
        f"{shapes} · RF {fmt_rf_size(t.rf)} · {t.nodes} nodes"
    )
