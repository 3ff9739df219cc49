"""Automatic layered layout: no overlaps, edges left to right, layers, determinism."""

from __future__ import annotations

import itertools

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.core.fileformat import from_dict
from engine.core.graph import GraphModel
from engine.core.layout import layered_layout
from engine.templates import TEMPLATES, build, deep_resnet

ITEM_W, ITEM_H = 200, 110


def overlapping(pos: dict) -> list:
    """Pairs of nodes whose 200×110 items overlap."""
    items = sorted(pos.items(), key=lambda kv: kv[1])
    bad = []
    for (a, (xa, ya)), (b, (xb, yb)) in itertools.combinations(items, 2):
        if abs(xa - xb) < ITEM_W and abs(ya - yb) < ITEM_H:
            bad.append((a, b))
    return bad


def crossings(model: GraphModel, pos: dict) -> int:
    """Crossings among edges that join adjacent columns."""
    edges = [(u, v) for u, v, _ in model.edges() if pos[v][0] - pos[u][0] == 260]
    count = 0
    for (u1, v1), (u2, v2) in itertools.combinations(edges, 2):
        if pos[u1][0] == pos[u2][0] and u1 != u2 and v1 != v2:
            if (pos[u1][1] - pos[u2][1]) * (pos[v1][1] - pos[v2][1]) < 0:
                count += 1
    return count


@pytest.fixture(scope="module")
def templates():
    """Every template built once."""
    return {k: t.builder() for k, t in TEMPLATES.items()}


def test_templates_no_overlap(templates):
    """No two node items of any template overlap."""
    for key, m in templates.items():
        assert overlapping(layered_layout(m)) == [], key


def test_deep_resnet_no_overlap():
    """A 60-block deep ResNet lays out without overlaps."""
    assert overlapping(layered_layout(deep_resnet(60))) == []


def test_edges_go_left_to_right(templates):
    """Every edge of every template goes from a left column to a right one."""
    for key, m in templates.items():
        pos = layered_layout(m)
        for u, v, _ in m.edges():
            assert pos[u][0] < pos[v][0], (key, u, v)


def test_column_is_longest_path_depth():
    """A node's column is its longest-path depth times x_gap."""
    m = build("inception3a_reduced")
    pos = layered_layout(m)
    assert pos["input"][0] == 0
    assert pos["branch4_pool"][0] == 260
    assert pos["branch2_3x3"][0] == 3 * 260
    assert pos["concat"][0] == 5 * 260


def test_spacing_keywords():
    """x_gap sets the column distance and y_gap the distance within a column."""
    m = build("inception3a_naive")
    pos = layered_layout(m, x_gap=100, y_gap=400)
    assert pos["concat"][0] == 300
    ys = sorted(pos[n][1] for n in ("branch1_1x1", "branch2_3x3", "branch3_5x5", "branch4_pool"))
    assert min(b - a for a, b in zip(ys, ys[1:])) >= 399


def test_top_left_is_origin(templates):
    """The leftmost column is at x = 0 and the topmost node at y = 0."""
    pos = layered_layout(templates["googlenet"])
    assert min(x for x, _ in pos.values()) == 0
    assert min(y for _, y in pos.values()) == 0


def test_inception_blocks_have_no_crossings(templates):
    """Barycenter ordering leaves no crossings between adjacent columns in the 3a blocks."""
    for key in ("inception3a_naive", "inception3a_reduced", "inception3a_googlenet"):
        m = templates[key]
        assert crossings(m, layered_layout(m)) == 0, key


def test_ordering_undoes_bad_insertion_order():
    """Nodes inserted in crossing order are reordered so that the two chains do not cross."""
    m = GraphModel()
    m.add_node("input", node_id="x")
    m.add_node("relu", node_id="a")
    m.add_node("relu", node_id="b")
    m.add_node("relu", node_id="b2")  # inserted first but follows b
    m.add_node("relu", node_id="a2")
    for s, d in (("x", "a"), ("x", "b"), ("b", "b2"), ("a", "a2")):
        m.connect(s, d)
    pos = layered_layout(m)
    assert crossings(m, pos) == 0
    assert (pos["a"][1] < pos["b"][1]) == (pos["a2"][1] < pos["b2"][1])


def test_deterministic(templates):
    """The same graph, built twice, gets identical positions; repeated calls agree."""
    a = layered_layout(templates["resnet50"])
    assert a == layered_layout(build("resnet50"))
    assert a == layered_layout(templates["resnet50"])


def test_cycle_does_not_break_layout():
    """Nodes on a cycle (kept by loading) still get distinct, non-overlapping positions."""
    doc = {
        "format": "convcanvas.graph",
        "version": 1,
        "nodes": [
            {"id": "x", "type": "input"},
            {"id": "a", "type": "add"},
            {"id": "r", "type": "relu"},
            {"id": "s", "type": "relu"},
        ],
        "edges": [
            {"src": "x", "dst": "a", "port": 0},
            {"src": "s", "dst": "a", "port": 1},
            {"src": "a", "dst": "r"},
            {"src": "r", "dst": "s"},
        ],
    }
    m = from_dict(doc)
    pos = layered_layout(m)
    assert set(pos) == {"x", "a", "r", "s"}
    assert overlapping(pos) == []
    assert pos["x"][0] < pos["a"][0] < pos["r"][0] < pos["s"][0]


def test_cycle_without_sources():
    """A graph that is only a cycle is laid out too."""
    doc = {
        "format": "convcanvas.graph",
        "version": 1,
        "nodes": [{"id": "p", "type": "relu"}, {"id": "q", "type": "relu"}],
        "edges": [{"src": "p", "dst": "q"}, {"src": "q", "dst": "p"}],
    }
    pos = layered_layout(from_dict(doc))
    assert pos == {"p": (0.0, 0.0), "q": (260.0, 0.0)}


def test_empty_graph():
    """An empty graph has no positions."""
    assert layered_layout(GraphModel()) == {}


@st.composite
def dags(draw):
    """Random DAGs of up to 25 nodes: every node after the first takes 1-3 earlier inputs."""
    n = draw(st.integers(2, 25))
    m = GraphModel()
    m.add_node("input", node_id="n0")
    for i in range(1, n):
        srcs = draw(st.lists(st.integers(0, i - 1), min_size=1, max_size=3, unique=True))
        if len(srcs) == 1:
            m.add_node("relu", node_id=f"n{i}")
        else:
            m.add_node("add", node_id=f"n{i}")
        for s in srcs:
            m.connect(f"n{s}", f"n{i}")
    return m


@settings(max_examples=40, deadline=None)
@given(dags())
def test_random_dags(m):
    """Random DAGs: no overlaps and every edge left to right."""
    pos = layered_layout(m)
    assert overlapping(pos) == []
    assert all(pos[u][0] < pos[v][0] for u, v, _ in m.edges())


def test_tall_items_keep_their_gap():
    """With heights given, a tall item keeps y_gap - default_height clear of its neighbours."""
    m = build("inception3a_naive")
    heights = {"branch2_3x3": 300.0}
    pos = layered_layout(m, heights=heights)
    column = sorted(
        (pos[n][1], n) for n in ("branch1_1x1", "branch2_3x3", "branch3_5x5", "branch4_pool")
    )
    gaps = [yb - (ya + heights.get(a, 110.0)) for (ya, a), (yb, _) in zip(column, column[1:])]
    assert min(gaps) >= 39
    assert [n for _, n in column].index("branch2_3x3") == 1


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 20).flatmap(
        lambda n: st.tuples(
            st.just(n),
            st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=40),
        )
    )
)
def test_random_graphs_with_cycles(case):
    """Any directed graph, cycles and self-loops included, gets a full non-overlapping layout."""
    n, edges = case
    g = nx.MultiDiGraph()
    g.add_nodes_from(f"n{i}" for i in range(n))
    for u, v in edges:
        g.add_edge(f"n{u}", f"n{v}")
    pos = layered_layout(g)
    assert set(pos) == set(g.nodes)
    assert overlapping(pos) == []
