"""Automatic left-to-right layered layout (a small Sugiyama-style layout).

1. Layers: a node's column is its longest-path depth from a source. Edges that close a
   cycle are ignored (the first unplaced node in insertion order is placed when the
   walk stalls), so cyclic graphs still get a layout.
2. Edges spanning several columns get a chain of invisible dummy nodes, one per column,
   so that long skip connections keep a lane of their own.
3. Order within each column: barycenter sweeps, left to right then right to left. A
   node feeding a multi-input node (a concat, an add) counts at the height of the port
   it feeds, so the inputs of a concat end up in port order and their wires never cross.
4. Rows: each column is placed as close as possible to the mean of its neighbours
   while keeping the order and the minimum gaps (weighted isotonic regression), over a
   few alternating passes. Lanes of long edges weigh as much as nodes, so a ResNet's
   skip connection runs straight and its block bows aside, with no drift along the net.

Everything is deterministic: ties are broken by insertion order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import networkx as nx

Position = tuple[float, float]


def _graph_of(graph: Any) -> nx.MultiDiGraph:
    return graph.graph if hasattr(graph, "graph") and not isinstance(graph, nx.Graph) else graph


def _layers(nodes: list, pred: Mapping, succ: Mapping) -> tuple[dict, set]:
    """Longest-path depth of every node, and the set of (u, v) edges used forward."""
    indeg = {n: sum(1 for u in pred[n] if u != n) for n in nodes}
    depth: dict = {}
    forward: set = set()
    ready = [n for n in nodes if indeg[n] == 0]
    i = 0
    next_forced = 0
    while len(depth) < len(nodes):
        if i == len(ready):  # stalled on a cycle: place the first unplaced node
            while nodes[next_forced] in depth:
                next_forced += 1
            ready.append(nodes[next_forced])
        n = ready[i]
        i += 1
        d = 0
        for u in pred[n]:
            if u in depth:
                forward.add((u, n))
                if depth[u] + 1 > d:
                    d = depth[u] + 1
        depth[n] = d
        for v in succ[n]:
            if v != n and v not in depth:
                indeg[v] -= 1
                if indeg[v] == 0:
                    ready.append(v)
    return depth, forward


def _port_ranks(g: nx.MultiDiGraph, forward: set) -> dict[tuple, float]:
    """``(u, v) → fraction`` for the forward edges into nodes with several inputs: where
    ``u``'s port sits among ``v``'s ports, spread over (-0.5, 0.5) (first port on top)."""
    out: dict[tuple, float] = {}
    for v in g.nodes:
        if g.in_degree(v) < 2:
            continue
        srcs = [u for u, _, _port in sorted(g.in_edges(v, keys=True), key=_port_key)]
        n = len(srcs)
        for k, u in enumerate(srcs):
            if (u, v) in forward and (u, v) not in out:  # a source on two ports: its first
                out[(u, v)] = (k + 0.5) / n - 0.5
    return out


def _port_key(edge: tuple) -> tuple:
    port = edge[2]
    return (0, port, "") if isinstance(port, int) else (1, 0, str(port))


def _isotonic(desired: list[float], weights: list[float], offsets: list[float]) -> list[float]:
    """Positions minimising the weighted squared distance to ``desired`` with
    ``y[i+1] - y[i] >= offsets[i+1] - offsets[i]`` (pool-adjacent-violators)."""
    blocks: list[list[float]] = []  # [weighted sum, weight, count]
    for d, w, c in zip(desired, weights, offsets):
        blocks.append([(d - c) * w, w, 1])
        while len(blocks) > 1 and blocks[-2][0] * blocks[-1][1] > blocks[-1][0] * blocks[-2][1]:
            s, ww, k = blocks.pop()
            blocks[-1][0] += s
            blocks[-1][1] += ww
            blocks[-1][2] += k
    out: list[float] = []
    for s, w, k in blocks:
        out.extend([s / w] * k)
    return [z + c for z, c in zip(out, offsets)]


def layered_layout(
    graph: Any,
    x_gap: float = 260.0,
    y_gap: float = 150.0,
    lane_gap: float = 150.0,
    sweeps: int = 4,
    heights: Mapping[str, float] | None = None,
    default_height: float = 110.0,
    extra_gap: Callable[[Any, Any], float] | None = None,
) -> dict[str, Position]:
    """Positions for every node, flowing left to right.

    Parameters
    ----------
    graph : GraphModel or networkx.MultiDiGraph
        The network.
    x_gap : float
        Distance between columns (node items are about 200 wide).
    y_gap : float
        Minimum vertical distance between two nodes of a column (items are about 110 tall).
    lane_gap : float
        Minimum vertical distance between a node and a long edge passing its column.
    sweeps : int
        Number of ordering and placement passes.
    heights : mapping of str to float, optional
        Item heights of nodes taller than usual (a concat with many input slots); two
        nodes of a column then keep ``max(y_gap, mean height + y_gap - default_height)``
        apart.
    default_height : float
        The height of the other items.
    extra_gap : callable, optional
        ``extra_gap(a, b)``: more room between node ``a`` and the node ``b`` below it in
        a column (e.g. for the frames that close under ``a`` and open above ``b``).

    Returns
    -------
    dict[str, tuple[float, float]]
        ``node → (x, y)``, the top-left corner of the node's item; nodes of a column are
        centred on their neighbours. The leftmost column is at x = 0, the highest item's
        top at y = 0.
    """
    g = _graph_of(graph)
    nodes = list(g.nodes)
    if not nodes:
        return {}
    pred, succ = g.pred, g.succ  # public read-only adjacency views
    depth, forward = _layers(nodes, pred, succ)

    # Dummy chains for long edges. Vertices are ints: real nodes first, then dummies.
    vid = {n: i for i, n in enumerate(nodes)}
    layer_of = [depth[n] for n in nodes]
    real = [True] * len(nodes)
    up: list[list[int]] = [[] for _ in nodes]  # neighbours in the column to the left
    down: list[list[int]] = [[] for _ in nodes]  # neighbours in the column to the right
    # Where on its right neighbour a vertex arrives: the port's place among the
    # neighbour's ports, as a fraction in (-0.5, 0.5) (0 for single-input nodes).
    at_port: dict[tuple[int, int], float] = {}
    port_rank = _port_ranks(g, forward)
    for u, v in sorted(forward, key=lambda e: (vid[e[1]], vid[e[0]])):
        a = vid[u]
        frac = port_rank.get((u, v), 0.0)
        for col in range(depth[u] + 1, depth[v]):
            d = len(layer_of)
            layer_of.append(col)
            real.append(False)
            up.append([a])
            down.append([])
            down[a].append(d)
            at_port[(a, d)] = frac
            a = d
        b = vid[v]
        down[a].append(b)
        up[b].append(a)
        at_port[(a, b)] = frac

    n_layers = max(layer_of) + 1
    columns: list[list[int]] = [[] for _ in range(n_layers)]
    for i, col in enumerate(layer_of):
        columns[col].append(i)
    rank = [0.0] * len(layer_of)
    for col in columns:
        for k, i in enumerate(col):
            rank[i] = k

    # Crossing reduction: barycenter sweeps.
    def order_by(col: list[int], nbrs: list[list[int]], ports: bool) -> list[int]:
        keys = []
        for i in col:
            ns = nbrs[i]
            if ports:  # right neighbours: the height of the port fed
                bary = (
                    sum(rank[j] + at_port.get((i, j), 0.0) for j in ns) / len(ns) if ns else rank[i]
                )
            else:
                bary = sum(rank[j] for j in ns) / len(ns) if ns else rank[i]
            keys.append((bary, rank[i], i))
        keys.sort()
        out = [k[2] for k in keys]
        for k, i in enumerate(out):
            rank[i] = k
        return out

    for s in range(sweeps):
        if s % 2 == 0:
            for c in range(1, n_layers):
                columns[c] = order_by(columns[c], up, False)
        else:
            for c in range(n_layers - 2, -1, -1):
                columns[c] = order_by(columns[c], down, True)

    # Coordinates: start stacked, then pull towards neighbours.
    heights = heights or {}
    height = [float(heights.get(n, default_height)) for n in nodes]
    space = y_gap - default_height
    half = [max(y_gap, h + space) / 2 for h in height]
    half += [lane_gap - y_gap / 2] * (len(real) - len(nodes))
    weight = [1.0] * len(real)
    offsets: list[list[float]] = []
    y = [0.0] * len(layer_of)
    for col in columns:
        off, acc, prev, above = [], 0.0, None, None
        for i in col:
            if prev is not None:
                acc += half[prev] + half[i]
            if extra_gap is not None and i < len(nodes):
                if above is not None:
                    acc += extra_gap(nodes[above], nodes[i])
                above = i  # the real node above the next one (lanes between them aside)
            off.append(acc)
            prev = i
        offsets.append(off)
        mid = acc / 2
        for i, o in zip(col, off):
            y[i] = o - mid

    def place(c: int, nbr_lists: tuple) -> None:
        col = columns[c]
        desired = []
        for i in col:
            total, count = 0.0, 0
            for nbrs in nbr_lists:
                for j in nbrs[i]:
                    total += y[j]
                    count += 1
            desired.append(total / count if count else y[i])
        for i, v in zip(col, _isotonic(desired, [weight[i] for i in col], offsets[c])):
            y[i] = v

    for s in range(sweeps):
        if s % 2 == 0:
            for c in range(n_layers):
                place(c, (up,))
        else:
            for c in range(n_layers - 1, -1, -1):
                place(c, (down,))
    for c in range(n_layers):
        place(c, (up, down))

    tops = [y[i] - height[i] / 2 for i in range(len(nodes))]
    top = min(tops)
    return {n: (float(depth[n] * x_gap), float(round(tops[i] - top))) for i, n in enumerate(nodes)}


def place_unplaced(model: Any) -> list[str]:
    """Give the nodes of ``model`` that have no position their :func:`layered_layout` one.

    Meant for load time (a file or template is opened), not as an edit: it goes through
    ``model.set_positions``, so the model checks the positions and notifies as usual.

    Parameters
    ----------
    model : GraphModel
        The design; nodes that have a position keep it.

    Returns
    -------
    list of str
        The ids that got a position, in model order.
    """
    missing = [n for n in model.nodes if model.pos(n) is None]
    if missing:
        layout = layered_layout(model)
        model.set_positions({n: layout[n] for n in missing})
    return missing
