"""Keeping a graph's order exactly through edits, with networkx's public API only.

networkx keeps nodes, and each node's outgoing edges, in insertion order. That order
breaks ties of the topological order and gives the edge order of a saved file, so an
undo must give it back. networkx has no public way to insert into the middle of that
order: the graph is rebuilt in place (same object, so that holders of it such as the
analysis see the change) when appending did not give the wanted order already.
"""

from __future__ import annotations

import networkx as nx


def reaches_itself(g: nx.MultiDiGraph, node: str) -> bool:
    """Whether ``node`` is on a cycle (a path leads from it back to it)."""
    if not g.in_degree(node) or not g.out_degree(node):
        return False
    seen: set[str] = set()
    stack = list(g.successors(node))
    while stack:
        v = stack.pop()
        if v == node:
            return True
        if v not in seen:
            seen.add(v)
            stack.extend(g.successors(v))
    return False


def rebuild(
    g: nx.MultiDiGraph,
    nodes: list[str],
    edges: list[tuple[str, str, int]],
    rename: dict[str, str] | None = None,
) -> None:
    """Refill ``g`` with ``nodes`` then ``edges``, in these orders; attributes are kept.

    Parameters
    ----------
    g : networkx.MultiDiGraph
        The graph, changed in place.
    nodes, edges : list
        Every node, and every edge as ``(src, dst, key)``, in the wanted order.
    rename : dict, optional
        Old id → new id for nodes that change their id on the way.
    """
    rename = rename or {}
    node_data = [(rename.get(n, n), dict(g.nodes[n])) for n in nodes]
    edge_data = [
        (rename.get(u, u), rename.get(v, v), k, dict(g.edges[u, v, k])) for u, v, k in edges
    ]
    attrs = dict(g.graph)
    g.clear()
    g.graph.update(attrs)
    g.add_nodes_from(node_data)
    g.add_edges_from(edge_data)


def put_in_order(
    g: nx.MultiDiGraph, node: str, index: int, succ_order: dict[str, list[tuple[str, int]]]
) -> None:
    """Move ``node`` to position ``index`` and give nodes their recorded outgoing edge order.

    Parameters
    ----------
    g : networkx.MultiDiGraph
        The graph, holding ``node`` (just appended) and its edges.
    index : int
        Where ``node`` was in the node order.
    succ_order : dict
        ``u → [(dst, key), ...]``: the outgoing edges of ``u`` in their old order. Edges
        that are gone are skipped; edges that are new since come after, as they are now.
    """
    nodes = list(g.nodes)
    wanted: dict[str, list[tuple[str, str, int]]] = {}
    for u, order in succ_order.items():
        if u not in g:
            continue
        now = [(u, v, k) for _, v, k in g.out_edges(u, keys=True)]
        present = set(now)
        want = [(u, v, k) for v, k in order if (u, v, k) in present]
        kept = set(want)
        want += [e for e in now if e not in kept]
        if want != now:
            wanted[u] = want
    if nodes[index] == node and not wanted:
        return
    nodes.remove(node)
    nodes.insert(index, node)
    edges = []
    for u in nodes:
        if u in wanted:
            edges.extend(wanted[u])
        else:
            edges.extend((u, v, k) for _, v, k in g.out_edges(u, keys=True))
    rebuild(g, nodes, edges)
