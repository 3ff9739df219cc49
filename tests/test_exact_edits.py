"""The editor's commands are exact: undo gives back the saved document, paste is all or nothing,
a failed model call changes nothing, views hear of a change once the analysis is current,
positions are given at load time, and nothing reaches into networkx's internals."""

from __future__ import annotations

import json
import re
import tomllib
from importlib.metadata import version
from pathlib import Path

import networkx as nx
import pytest

from designer.commands import PasteCommand, RemoveNodesCommand, copy_to_text, paste_from_text
from designer.document import Document
from designer.scene import GraphScene
from engine.core import fileformat
from engine.core.errors import (
    CycleError,
    DuplicateIdError,
    ParamError,
    PortError,
    UnknownNodeError,
)
from engine.core.graph import GraphModel
from engine.core.layout import layered_layout

ROOT = Path(__file__).resolve().parent.parent


def cyclic() -> GraphModel:
    """x → a → c → b → a (a cycle through c), b → d, x → e, e → cat (port 2), b → cat (port 0)."""
    doc = {
        "format": "convcanvas.graph",
        "version": 1,
        "name": "loop",
        "nodes": [
            {"id": "x", "type": "input", "params": {"channels": 2, "height": 8, "width": 8}},
            {"id": "a", "type": "add", "pos": [100, 0]},
            {"id": "c", "type": "relu", "pos": [200, 0]},
            {"id": "b", "type": "relu", "pos": [300, 0]},
            {"id": "d", "type": "relu", "pos": [400, 0]},
            {"id": "e", "type": "relu", "pos": [100, 100]},
            {"id": "cat", "type": "concat", "pos": [400, 100]},
        ],
        "edges": [
            {"src": "x", "dst": "e", "port": 0},
            {"src": "x", "dst": "a", "port": 0},
            {"src": "b", "dst": "cat", "port": 0},
            {"src": "b", "dst": "a", "port": 1},
            {"src": "a", "dst": "c", "port": 0},
            {"src": "c", "dst": "b", "port": 0},
            {"src": "b", "dst": "d", "port": 0},
            {"src": "e", "dst": "cat", "port": 2},
        ],
    }
    return fileformat.from_dict(doc)


def state(doc: Document) -> tuple[str, list[str]]:
    """The saved text and the analysis order: what an exact undo must give back."""
    return fileformat.dumps(doc.model), list(doc.analysis.order)


# --------------------------------------------------------------------------- undo of delete
@pytest.mark.parametrize("node", ["x", "a", "c", "b", "d", "e", "cat"])
def test_undo_of_delete_on_a_graph_with_a_cycle_gives_back_the_document(qtbot, node):
    """Deleting any node of a graph holding a cycle, then undo, restores the exact file and order."""
    doc = Document(cyclic())
    before = state(doc)
    doc.undo_stack.push(RemoveNodesCommand(doc, [node]))
    assert node not in doc.model
    doc.undo_stack.undo()
    assert state(doc) == before
    assert doc.analysis.nodes["c"].error == "relu 'c' is part of a cycle; remove one of its edges"


def test_undo_and_redo_of_a_multi_delete_on_a_cycle_are_exact(qtbot):
    """Deleting the cycle with its neighbours, undo, redo, undo: each state is exactly as before."""
    doc = Document(cyclic())
    before = state(doc)
    doc.undo_stack.push(RemoveNodesCommand(doc, ["a", "b", "c", "cat"]))
    after = state(doc)
    assert doc.model.nodes == ["x", "d", "e"] and doc.model.edges() == [("x", "e", 0)]
    doc.undo_stack.undo()
    assert state(doc) == before
    doc.undo_stack.redo()
    assert state(doc) == after
    doc.undo_stack.undo()
    assert state(doc) == before


def test_undo_of_delete_restores_each_node_s_outgoing_edge_order(qtbot):
    """A fan-out's edges come back in their old order, not appended (saved edge order and topo order)."""
    m = GraphModel()
    m.add_node("input", {"channels": 1, "height": 4, "width": 4}, "x", pos=(0, 0))
    for n in ("p", "q", "r"):
        m.add_node("relu", {}, n, pos=(100, 0))
        m.connect("x", n)
    doc = Document(m)
    before = state(doc)
    doc.undo_stack.push(RemoveNodesCommand(doc, ["p"]))
    doc.undo_stack.undo()
    assert doc.model.edges() == [("x", "p", 0), ("x", "q", 0), ("x", "r", 0)]
    assert state(doc) == before


def test_restore_refuses_a_cycle_the_removal_did_not_leave(qtbot):
    """After other edits, restoring a node whose edges would close a new cycle is refused."""
    m = GraphModel()
    m.add_node("input", {"channels": 1, "height": 4, "width": 4}, "x")
    m.add_node("add", {}, "a")
    m.add_node("relu", {}, "c")
    m.add_node("relu", {}, "b")
    m.connect("x", "a")
    m.connect("a", "c")
    m.connect("c", "b")
    record = m.remove_node("c")
    m.connect("b", "a")
    before = fileformat.dumps(m)
    with pytest.raises(CycleError, match="cannot restore 'c': 'b' now feeds 'a'"):
        m.restore_node(record)
    assert fileformat.dumps(m) == before


def test_restore_of_a_node_that_was_on_a_cycle_puts_the_cycle_back():
    """Removing a node of a loaded cycle and restoring it gives back the same cycle."""
    m = cyclic()
    record = m.remove_node("c")
    assert record["on_cycle"] is True
    m.restore_node(record)
    assert set(nx.find_cycle(m.graph)) == {("a", "c", 0), ("c", "b", 0), ("b", "a", 1)}


# --------------------------------------------------------------------------- paste
def test_paste_of_json_holding_a_cycle_adds_all_of_it(qtbot):
    """Pasting a copied cycle adds every node and edge (like opening the file); the analysis flags it."""
    doc = Document(cyclic())
    text = copy_to_text(doc, ["a", "c", "b"])
    n_nodes, n_edges = len(doc.model), len(doc.model.edges())
    cmd = paste_from_text(doc, text)
    doc.undo_stack.push(cmd)
    assert cmd.new_ids == ["a1", "c1", "b1"]
    assert len(doc.model) == n_nodes + 3 and len(doc.model.edges()) == n_edges + 3
    assert set(nx.find_cycle(doc.model.graph, "a1")) == {
        ("a1", "c1", 0),
        ("c1", "b1", 0),
        ("b1", "a1", 1),
    }
    assert doc.analysis.nodes["c1"].error == "relu 'c1' is part of a cycle; remove one of its edges"


def test_undo_of_a_cycle_paste_gives_back_the_document(qtbot):
    """Undo of that paste restores the exact saved text and order."""
    doc = Document(cyclic())
    before = state(doc)
    doc.undo_stack.push(paste_from_text(doc, copy_to_text(doc, ["a", "c", "b"])))
    doc.undo_stack.undo()
    assert state(doc) == before


def test_refused_paste_adds_nothing_and_pushes_nothing(qtbot):
    """A source with a relu fed twice is refused whole before anything is added."""
    source = GraphModel()
    source.add_node("input", {"channels": 1, "height": 4, "width": 4}, "x", pos=(0, 0))
    source.add_node("relu", {}, "r", pos=(0, 0))
    source.add_node("relu", {}, "s", pos=(0, 0))
    source.graph.add_edge("x", "s", key=0)
    source.graph.add_edge("r", "s", key=1)  # past the model's checks, as a raw graph allows
    doc = Document(cyclic())
    before = state(doc)
    with pytest.raises(PortError, match="relu 's' has one input"):
        PasteCommand(doc, source)
    assert state(doc) == before and doc.undo_stack.count() == 0


def test_add_subgraph_with_a_bad_last_edge_changes_nothing():
    """add_subgraph checks every node and edge before adding any: no node, no event."""
    m = cyclic()
    before = fileformat.dumps(m)
    events = []
    m.subscribe(events.append)
    nodes = [("p", "relu", {}, (0, 0)), ("q", "relu", {}, (0, 0))]
    with pytest.raises(UnknownNodeError, match="there is no node 'zz' among them"):
        m.add_subgraph(nodes, [("p", "q", 0), ("q", "zz", 0)])
    assert fileformat.dumps(m) == before and events == []


def test_paste_without_positions_places_nodes_in_the_model(qtbot):
    """Pasted nodes without positions get the source's layered layout, offset, in the model."""
    doc = Document(cyclic())
    text = json.dumps(
        {
            "format": "convcanvas.graph",
            "version": 1,
            "nodes": [{"id": "p", "type": "relu"}, {"id": "q", "type": "relu"}],
            "edges": [{"src": "p", "dst": "q", "port": 0}],
        }
    )
    layout = layered_layout(fileformat.loads(text))
    doc.undo_stack.push(paste_from_text(doc, text, offset=(10, 20)))
    for n in ("p", "q"):
        assert doc.model.pos(n) == (layout[n][0] + 10, layout[n][1] + 20)


# --------------------------------------------------------------------------- failed calls
def _failing_calls():
    """(name, call, error) for model calls that must be refused without any change."""
    return [
        ("add_node duplicate", lambda m: m.add_node("relu", {}, "a"), DuplicateIdError),
        ("add_node bad pos", lambda m: m.add_node("relu", {}, "z", pos=(1, "y")), ParamError),
        (
            "add_node nan pos",
            lambda m: m.add_node("relu", {}, "z", pos=(1, float("nan"))),
            ParamError,
        ),
        ("connect taken port", lambda m: m.connect("x", "c", 0), PortError),
        ("connect cycle", lambda m: m.connect("d", "a"), CycleError),
        ("disconnect empty", lambda m: m.disconnect("cat", 1), PortError),
        ("set_params bad", lambda m: m.set_params("cat", {"dim": 7}), ParamError),
        ("set_pos inf", lambda m: m.set_pos("a", (float("inf"), 0)), ParamError),
        ("set_pos three numbers", lambda m: m.set_pos("a", (1, 2, 3)), ParamError),
        ("set_positions bad last", lambda m: m.set_positions({"a": (5, 5), "b": "xy"}), ParamError),
        (
            "set_positions unknown last",
            lambda m: m.set_positions({"a": (5, 5), "zz": (1, 1)}),
            UnknownNodeError,
        ),
        ("rename taken", lambda m: m.rename_node("a", "b"), DuplicateIdError),
        ("remove unknown", lambda m: m.remove_node("zz"), UnknownNodeError),
    ]


@pytest.mark.parametrize(
    "name, call, error", _failing_calls(), ids=[c[0] for c in _failing_calls()]
)
def test_failed_model_call_changes_nothing(name, call, error):
    """A refused GraphModel call raises its typed error, leaves the document as it was, emits nothing."""
    m = cyclic()
    before = (fileformat.dumps(m), m.structure_version)
    events = []
    m.subscribe(events.append)
    with pytest.raises(error):
        call(m)
    assert (fileformat.dumps(m), m.structure_version) == before and events == []


def test_bad_position_message_names_the_node():
    """A refused position names the node and the field."""
    m = cyclic()
    with pytest.raises(ParamError, match=r"the position of 'b' must be two finite numbers") as exc:
        m.set_positions({"a": (5, 5), "b": (1, float("nan"))})
    assert (exc.value.node, exc.value.field) == ("b", "pos")


# --------------------------------------------------------------------------- views
def test_views_hear_each_change_with_the_analysis_current(qtbot):
    """Every structural signal finds the analysis already updated; analysis_changed follows it."""
    doc = Document(cyclic())
    seen = []

    def check(kind):
        def slot(*args):
            a = doc.analysis
            seen.append(kind)
            assert sorted(a.order) == sorted(doc.model.nodes), kind
            for n in doc.model.nodes:
                assert a.inputs[n] == doc.model.inputs(n), (kind, n)

        return slot

    for sig in ("node_added", "node_removed", "edge_added", "edge_removed", "node_renamed"):
        getattr(doc, sig).connect(check(sig))
    doc.graph_reset.connect(check("graph_reset"))
    doc.analysis_changed.connect(lambda changed: seen.append("analysis_changed"))
    doc.undo_stack.push(RemoveNodesCommand(doc, ["e"]))
    assert seen == ["node_removed", "analysis_changed"]
    seen.clear()
    doc.undo_stack.undo()
    assert seen == ["node_added", "analysis_changed"] + ["edge_added", "analysis_changed"] * 2
    seen.clear()
    doc.replace_model(cyclic())
    assert seen == ["graph_reset", "analysis_changed"]


def test_params_changed_finds_the_new_result(qtbot):
    """When params_changed is heard, the node's result already has the new shape."""
    m = GraphModel()
    m.add_node("input", {"channels": 3, "height": 8, "width": 8}, "x", pos=(0, 0))
    doc = Document(m)
    shapes = []
    doc.params_changed.connect(lambda n: shapes.append(doc.analysis.nodes[n].shape))
    doc.model.set_param("x", "channels", 5)
    assert shapes == [(5, 8, 8)]


def test_scene_items_show_the_new_design_right_after_graph_reset(qtbot):
    """On graph_reset the scene's items already show the new analysis (no wait for a later signal)."""
    doc = Document(cyclic())
    scene = GraphScene(doc)
    shown = {}

    def on_reset():
        shown.update({n: scene.node_item(n).result for n in doc.model.nodes})

    doc.graph_reset.connect(on_reset)  # connected after the scene: runs after its slot
    m = GraphModel("other")
    m.add_node("input", {"channels": 4, "height": 6, "width": 6}, "img", pos=(0, 0))
    m.add_node("relu", {}, "act", pos=(200, 0))
    m.connect("img", "act")
    doc.replace_model(m)
    assert shown["act"] is doc.analysis.nodes["act"] and shown["act"].shape == (4, 6, 6)


def test_scene_shows_a_parameter_edit_that_leaves_the_result_alone(qtbot):
    """A parameter that changes no shape or count (dropout p) still reaches the node item."""
    m = GraphModel()
    m.add_node("input", {"channels": 3, "height": 8, "width": 8}, "x", pos=(0, 0))
    m.add_node("dropout", {"p": 0.5}, "drop", pos=(200, 0))
    m.connect("x", "drop")
    doc = Document(m)
    scene = GraphScene(doc)
    doc.model.set_param("drop", "p", 0.25)
    assert scene.node_item("drop").params["p"] == 0.25


# --------------------------------------------------------------------------- positions at load
def unplaced() -> GraphModel:
    """x → c → r without positions (as a hand-written file may have)."""
    m = GraphModel()
    m.add_node("input", {"channels": 3, "height": 8, "width": 8}, "x")
    m.add_node("conv", {"out_channels": 4, "kernel_size": 3}, "c")
    m.add_node("relu", {}, "r")
    m.connect("x", "c")
    m.connect("c", "r")
    return m


def test_document_lays_out_nodes_without_positions_at_load(qtbot):
    """A design without positions gets its layered layout when the document takes it: no undo step."""
    expected = layered_layout(unplaced())
    doc = Document(unplaced())
    assert {n: doc.model.pos(n) for n in doc.model.nodes} == expected
    assert doc.undo_stack.count() == 0 and not doc.modified


def test_opening_a_design_without_positions_lays_it_out_before_the_reset(qtbot):
    """replace_model places the nodes before graph_reset: views never see a node without a position."""
    doc = Document(cyclic())
    missing = []
    doc.graph_reset.connect(
        lambda: missing.extend(n for n in doc.model.nodes if doc.model.pos(n) is None)
    )
    doc.replace_model(unplaced())
    assert missing == [] and doc.model.pos("r") == layered_layout(unplaced())["r"]
    assert doc.undo_stack.count() == 0 and not doc.modified


def test_scene_never_edits_the_model(qtbot):
    """Building a scene and resetting its document emits no model event from the scene."""
    doc = Document(unplaced())
    events = []
    doc.model.subscribe(events.append)
    GraphScene(doc)
    assert events == []


# --------------------------------------------------------------------------- networkx
INTERNALS = re.compile(r"\._succ\b|\._pred\b|\._adj\b|\._node\b(?!\()|__networkx_cache__")


def test_no_code_reaches_into_networkx_internals():
    """No module of the app or the tests uses networkx's private adjacency dicts or cache."""
    offenders = []
    for folder in ("engine", "designer", "widgets", "cli", "bench", "tests"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            if path.name == Path(__file__).name:
                text = text.replace(INTERNALS.pattern, "")
            for i, line in enumerate(text.splitlines(), 1):
                if INTERNALS.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{i}: {line.strip()}")
    assert offenders == []


def test_networkx_is_pinned_to_a_range_holding_the_installed_version():
    """pyproject.toml bounds networkx on both sides, and the tested version lies inside."""
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    (spec,) = [d for d in deps if d.startswith("networkx")]
    low = re.search(r">=\s*([\d.]+)", spec).group(1)
    high = re.search(r"<\s*([\d.]+)", spec).group(1)

    def key(v: str) -> tuple[int, ...]:
        return tuple(int(p) for p in re.findall(r"\d+", v)[:3])

    assert key(low) <= key(version("networkx")) < key(high)
