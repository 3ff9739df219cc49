"""The canvas layout of a design with blocks: collapsed blocks as single units, long chains wrapped.

The *visible graph* has one unit per node outside collapsed blocks and one per outermost
collapsed block (keyed by its path); edges join the units of their ends. It is laid out
with :func:`engine.core.layout.layered_layout` and then wrapped: its columns are cut into
rows so that the whole fits a window of the given shape at the largest zoom (up to a
comfortable one), never cutting through an expanded block that fits in a row. The same
topology always gives the same layout, so expanding a block and collapsing it again
puts everything back, and expanding moves the rest aside in order without scrambling it.
"""

from __future__ import annotations

import math

import networkx as nx

from engine.blocks.hierarchy import block_of, is_under, records
from engine.core.graph import GraphModel
from engine.core.layout import layered_layout

X_GAP = 260.0
NODE_W = 184.0
NODE_H = 110.0
BLOCK_H = 128.0  # a collapsed block's card
ROW_GAP = 110.0  # between wrapped rows (room for frame titles)
FRAME_PAD = 36.0  # an expanded block's frame around its members (title above)
LONG_GROUP = 16  # columns: an expanded block wider than this may wrap
EVERY_WIDTH = 400  # columns: up to this many, every row width is tried
FRAME_TOP = 44.0  # room above a unit for each frame's title band (designer.block_items)
FRAME_BOTTOM = 22.0  # and below it for the frame's edge
MAX_FRAME_GAP = 58.0  # stacked units of a row stay < ROW_GAP apart (frames span one row)
COMFORT = 1.0  # a zoom at which every label reads well: more rows gain nothing


def collapsed_roots(model: GraphModel) -> list[str]:
    """Paths of the collapsed blocks not inside another collapsed block."""
    recs = records(model)
    held = set(_scopes(model).values())
    shut = sorted(
        (p for p, r in recs.items() if r.get("collapsed") and any(is_under(h, p) for h in held)),
        key=lambda p: p.count("."),
    )  # a block whose members were all deleted shows nothing
    roots: list[str] = []
    for p in shut:
        if not any(is_under(p, r) for r in roots):
            roots.append(p)
    return roots


def _scopes(model: GraphModel) -> dict[str, str]:
    """``node → its scope`` (``""`` at the top level)."""
    return {n: model.graph.nodes[n].get("scope") or "" for n in model.graph.nodes}


def unit_of(model: GraphModel, roots: list[str] | None = None) -> dict[str, str]:
    """``node → unit``: the outermost collapsed block holding it, or the node itself."""
    roots = collapsed_roots(model) if roots is None else roots
    return {
        n: next((r for r in roots if is_under(scope, r)), n) for n, scope in _scopes(model).items()
    }


def visible_graph(model: GraphModel, unit: dict[str, str] | None = None) -> nx.MultiDiGraph:
    """The units and the edges between different units (a node's edges keep their
    ports; a collapsed block's are numbered in order). ``unit``: :func:`unit_of`'s
    answer when the caller has it."""
    unit = unit_of(model) if unit is None else unit
    g = nx.MultiDiGraph()
    for n in model.graph.nodes:
        g.add_node(unit[n])
    taken: dict[str, int] = {}
    for u, v, port in model.graph.edges(keys=True):
        a, b = unit[u], unit[v]
        if a == b:
            continue
        if b == v:  # a node keeps its ports (the layout stacks a concat's inputs by them)
            g.add_edge(a, b, key=port)
        else:
            k = taken.get(b, 0)
            taken[b] = k + 1
            g.add_edge(a, b, key=k)
    return g


def wrapped_layout(
    g: nx.MultiDiGraph,
    heights: dict[str, float] | None = None,
    aspect: tuple[float, float] = (1600.0, 1000.0),
    groups: list[list[str]] | None = None,
    extra_gap=None,
) -> dict[str, tuple[float, float]]:
    """Layered positions of ``g``'s nodes, its columns cut into rows to fit ``aspect``.

    The rows chosen give the largest zoom at which the whole fits the window, counting
    any zoom above :data:`COMFORT` as equal (then the fewest rows win: fewer wires wrap).
    A row is never cut inside a group (an expanded block) of at most
    :data:`LONG_GROUP` columns: the cut moves to the group's edge, or the row runs on
    past it, so a block keeps its members side by side.

    Parameters
    ----------
    g : networkx.MultiDiGraph
        The units and their edges.
    heights : dict, optional
        Item heights that differ from a node's.
    aspect : (float, float)
        The window the whole should fit best (width, height in pixels).
    groups : list of list of str, optional
        Units to keep in one row where possible (the members of each expanded block).
    extra_gap : callable, optional
        More room between two units stacked in a column
        (:func:`engine.core.layout.layered_layout`).

    Returns
    -------
    dict
        ``unit → (x, y)`` top-left corners.
    """
    if not len(g):
        return {}
    heights = heights or {}
    pos = layered_layout(g, heights=heights, default_height=NODE_H, extra_gap=extra_gap)
    cols = {u: round(x / X_GAP) for u, (x, _) in pos.items()}
    n_cols = max(cols.values()) + 1
    spans = []
    for members in groups or []:
        cs = [cols[u] for u in members if u in cols]
        if cs:
            spans.append((min(cs), max(cs)))
    top = [math.inf] * n_cols  # each column's extent: a row's is its columns' union
    bottom = [-math.inf] * n_cols
    for u, (_, y) in pos.items():
        c = cols[u]
        top[c] = min(top[c], y)
        bottom[c] = max(bottom[c], y + heights.get(u, NODE_H))
    best, best_starts, seen = -1.0, (0,), set()
    if n_cols <= EVERY_WIDTH:  # every row width: a short last row may gain most
        widths = list(range(n_cols, 0, -1))
    else:  # each row count once (about 2·√columns widths; linear time per width)
        widths = sorted({math.ceil(n_cols / r) for r in range(1, n_cols + 1)}, reverse=True)
    for per_row in widths:
        starts = _row_starts(n_cols, per_row, spans)
        if starts in seen:
            continue
        seen.add(starts)
        width, height, _ = _extent(starts, n_cols, top, bottom)
        zoom = min(aspect[0] / (width + 2 * FRAME_PAD), aspect[1] / (height + 2 * FRAME_PAD))
        if min(zoom, COMFORT) > best + 1e-9:
            best, best_starts = min(zoom, COMFORT), starts
    _, _, offsets = _extent(best_starts, n_cols, top, bottom)
    row_of = [0] * n_cols
    for r, a in enumerate(best_starts):
        for c in range(a, best_starts[r + 1] if r + 1 < len(best_starts) else n_cols):
            row_of[c] = r
    return {
        u: ((cols[u] - best_starts[row_of[cols[u]]]) * X_GAP, y + offsets[row_of[cols[u]]])
        for u, (_, y) in pos.items()
    }


def _row_starts(n_cols: int, per_row: int, spans: list[tuple[int, int]]) -> tuple[int, ...]:
    """First columns of the rows: about ``per_row`` columns each, never cutting a span
    at most ``max(per_row, LONG_GROUP)`` wide (its row is cut before it, or runs on past
    it)."""
    bad = set()
    for a, b in spans:
        if b - a + 1 <= max(per_row, LONG_GROUP):
            bad.update(range(a + 1, b + 1))  # a cut before column c, for a < c <= b
    starts, s = [0], 0
    while s + per_row < n_cols:
        fits = [c for c in range(s + 1, s + per_row + 1) if c not in bad]
        if fits:
            s = fits[-1]
        else:  # a span from before the row's start runs past its end: cut after it
            s = next((c for c in range(s + per_row + 1, n_cols) if c not in bad), n_cols)
            if s == n_cols:
                break
        starts.append(s)
    return tuple(starts)


def _extent(
    starts: tuple[int, ...], n_cols: int, top: list[float], bottom: list[float]
) -> tuple[float, float, list[float]]:
    """The width and height of the columns cut into rows at ``starts`` (each row as
    tall as its own columns), and each row's vertical offset."""
    offsets, y0, widest = [], 0.0, 0
    for r, a in enumerate(starts):
        b = starts[r + 1] if r + 1 < len(starts) else n_cols
        widest = max(widest, b - a)
        t, bt = min(top[a:b]), max(bottom[a:b])
        offsets.append(y0 - t)
        y0 += bt - t + ROW_GAP
    return (widest - 1) * X_GAP + NODE_W, y0 - ROW_GAP, offsets


def expanded_groups(model: GraphModel, unit: dict[str, str] | None = None) -> list[list[str]]:
    """The visible units of every expanded block that shows nodes of its own (a stage
    holding only collapsed blocks may wrap between them; an opened block may not).
    ``unit``: :func:`unit_of`'s answer when the caller has it."""
    unit = unit_of(model) if unit is None else unit
    scope = _scopes(model)
    direct = {block_of(model, n) for n in model.graph.nodes if unit[n] == n}
    groups = []
    for path, rec in records(model).items():
        if rec.get("collapsed") or path not in direct:
            continue
        groups.append(sorted({unit[n] for n in model.graph.nodes if is_under(scope[n], path)}))
    return groups


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
    unit = unit_of(model)
    roots = {u for n, u in unit.items() if u != n}
    g = visible_graph(model, unit)
    frames = frames_of(model, unit)

    def extra(a: str, b: str) -> float:  # room for the frames closing under a, opening over b
        fa, fb = frames[a], frames[b]
        return min(FRAME_BOTTOM * len(fa - fb) + FRAME_TOP * len(fb - fa), MAX_FRAME_GAP)

    pos = wrapped_layout(
        g, {u: BLOCK_H for u in g.nodes if u in roots}, aspect, expanded_groups(model, unit), extra
    )
    nodes = {u: p for u, p in pos.items() if u not in roots}
    blocks = {u: p for u, p in pos.items() if u in roots}
    return nodes, blocks


def frames_of(model: GraphModel, unit: dict[str, str] | None = None) -> dict[str, frozenset[str]]:
    """``unit → the opened blocks whose frames hold it``: the frames of expanded blocks
    that show nodes (a stage holding only collapsed cards needs no room between stacked
    units). The layout leaves room between two units stacked in a column for the frames
    that close under the upper one and open above the lower one. ``unit``:
    :func:`unit_of`'s answer when the caller has it."""
    unit = unit_of(model) if unit is None else unit
    scope = _scopes(model)
    shown = [n for n in model.graph.nodes if unit[n] == n]
    framed = [  # (a block inside a collapsed one shows no node: it has no frame)
        p
        for p, rec in records(model).items()
        if not rec.get("collapsed") and any(is_under(scope[n], p) for n in shown)
    ]
    out = {}
    for u in set(unit.values()):
        where = scope[u] if u in scope else u  # a card: the frames around its block
        out[u] = frozenset(p for p in framed if p != u and is_under(where, p))
    return out


def apply_block_layout(model: GraphModel, aspect: tuple[float, float] = (1600.0, 1000.0)) -> None:
    """Lay a design out with :func:`block_layout` (for builders and loading, not an edit)."""
    nodes, blocks = block_layout(model, aspect)
    model.set_positions(nodes)
    recs = records(model)
    for path, p in blocks.items():
        model.set_block(path, {**recs[path], "pos": [p[0], p[1]]})
