"""The canvas layout of a design with blocks: collapsed blocks as single units, long chains wrapped.

The *visible graph* has one unit per node outside collapsed blocks and one per outermost
collapsed block (keyed by its path); edges join the units of their ends. It is laid out
with :func:`engine.core.layout.layered_layout` and then wrapped: its columns are cut into
rows so that the whole fits a window of the given shape at the largest zoom. The same
topology always gives the same layout, so expanding a block and collapsing it again
puts everything back, and expanding moves the rest aside in order without scrambling it.
"""

from __future__ import annotations

import math

import networkx as nx

from engine.blocks.hierarchy import is_under, records
from engine.core.graph import GraphModel
from engine.core.layout import layered_layout

X_GAP = 260.0
NODE_W = 184.0
NODE_H = 110.0
BLOCK_H = 128.0  # a collapsed block's card
ROW_GAP = 110.0  # between wrapped rows (room for frame titles)
FRAME_PAD = 36.0  # an expanded block's frame around its members (title above)


def collapsed_roots(model: GraphModel) -> list[str]:
    """Paths of the collapsed blocks not inside another collapsed block."""
    recs = records(model)
    held = {model.graph.nodes[n].get("scope") or "" for n in model.graph.nodes}
    shut = sorted(
        (p for p, r in recs.items() if r.get("collapsed") and any(is_under(h, p) for h in held)),
        key=lambda p: p.count("."),
    )  # a block whose members were all deleted shows nothing
    roots: list[str] = []
    for p in shut:
        if not any(is_under(p, r) for r in roots):
            roots.append(p)
    return roots


def unit_of(model: GraphModel, roots: list[str] | None = None) -> dict[str, str]:
    """``node → unit``: the outermost collapsed block holding it, or the node itself."""
    roots = collapsed_roots(model) if roots is None else roots
    out = {}
    for n in model.graph.nodes:
        scope = model.graph.nodes[n].get("scope") or ""
        out[n] = next((r for r in roots if is_under(scope, r)), n)
    return out


def visible_graph(model: GraphModel) -> nx.MultiDiGraph:
    """The units and the edges between different units (ports renumbered per unit)."""
    unit = unit_of(model)
    g = nx.MultiDiGraph()
    for n in model.graph.nodes:
        g.add_node(unit[n])
    taken: dict[str, int] = {}
    for u, v, _ in model.graph.edges(keys=True):
        a, b = unit[u], unit[v]
        if a != b:
            k = taken.get(b, 0)
            taken[b] = k + 1
            g.add_edge(a, b, key=k)
    return g


def wrapped_layout(
    g: nx.MultiDiGraph,
    heights: dict[str, float] | None = None,
    aspect: tuple[float, float] = (1600.0, 1000.0),
) -> dict[str, tuple[float, float]]:
    """Layered positions of ``g``'s nodes, its columns cut into rows to fit ``aspect``.

    Parameters
    ----------
    g : networkx.MultiDiGraph
        The units and their edges.
    heights : dict, optional
        Item heights that differ from a node's.
    aspect : (float, float)
        The window the whole should fit best (width, height in pixels).

    Returns
    -------
    dict
        ``unit → (x, y)`` top-left corners.
    """
    if not len(g):
        return {}
    heights = heights or {}
    pos = layered_layout(g, heights=heights, default_height=NODE_H)
    cols = {u: round(x / X_GAP) for u, (x, _) in pos.items()}
    n_cols = max(cols.values()) + 1
    best, best_pos = -1.0, pos
    for rows in range(1, n_cols + 1):
        per_row = math.ceil(n_cols / rows)
        if rows > 1 and math.ceil(n_cols / (rows - 1)) == per_row:
            continue
        placed, height = _rows(pos, cols, per_row, heights)
        width = (per_row - 1) * X_GAP + NODE_W + 2 * FRAME_PAD
        zoom = min(aspect[0] / width, aspect[1] / (height + 2 * FRAME_PAD))
        if zoom > best + 1e-9:
            best, best_pos = zoom, placed
    return best_pos


def _rows(
    pos: dict, cols: dict, per_row: int, heights: dict
) -> tuple[dict[str, tuple[float, float]], float]:
    """Columns cut every ``per_row``; each row as tall as its own content."""
    top: dict[int, float] = {}
    bottom: dict[int, float] = {}
    for u, (_, y) in pos.items():
        r = cols[u] // per_row
        top[r] = min(top.get(r, y), y)
        bottom[r] = max(bottom.get(r, y), y + heights.get(u, NODE_H))
    offset, y0 = {}, 0.0
    for r in sorted(top):
        offset[r] = y0 - top[r]
        y0 += bottom[r] - top[r] + ROW_GAP
    placed = {
        u: ((cols[u] % per_row) * X_GAP, y + offset[cols[u] // per_row])
        for u, (_, y) in pos.items()
    }
    return placed, y0 - ROW_GAP


def block_layout(
    model: GraphModel, aspect: tuple[float, float] = (1600.0, 1000.0)
) -> tuple[dict[str, tuple[float, float]], dict[str, tuple[float, float]]]:
    """Positions of the visible nodes and of the collapsed blocks' cards.

    Returns
    -------
    (dict, dict)
        ``node → (x, y)`` for nodes outside collapsed blocks, ``path → (x, y)`` for the
        outermost collapsed blocks.
    """
    g = visible_graph(model)
    roots = set(collapsed_roots(model))
    pos = wrapped_layout(g, {u: BLOCK_H for u in g.nodes if u in roots}, aspect)
    nodes = {u: p for u, p in pos.items() if u not in roots}
    blocks = {u: p for u, p in pos.items() if u in roots}
    return nodes, blocks


def apply_block_layout(model: GraphModel, aspect: tuple[float, float] = (1600.0, 1000.0)) -> None:
    """Lay a design out with :func:`block_layout` (for builders and loading, not an edit)."""
    nodes, blocks = block_layout(model, aspect)
    model.set_positions(nodes)
    recs = records(model)
    for path, p in blocks.items():
        model.set_block(path, {**recs[path], "pos": [p[0], p[1]]})
