"""The graph file format: exact round trips, refusals naming node and field, atomic saves."""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import FormatError, GraphModel
from engine.core import fileformat
from engine.templates import googlenet


def doc(nodes: list, edges: list | None = None, **top) -> dict:
    """A version-1 document."""
    d = {"format": "convcanvas.graph", "version": 1, "nodes": nodes}
    if edges is not None:
        d["edges"] = edges
    d.update(top)
    return d


INPUT = {"id": "x", "type": "input", "params": {"channels": 3, "height": 8, "width": 8}}


def refusal(d) -> FormatError:
    """The FormatError that loading ``d`` (a dict or text) raises."""
    with pytest.raises(FormatError) as err:
        if isinstance(d, dict):
            fileformat.from_dict(d)
        else:
            fileformat.loads(d)
    return err.value


def placed_model() -> GraphModel:
    """GoogLeNet with fractional positions and a concat with port gaps."""
    m = googlenet()
    for i, n in enumerate(m.nodes):
        m.set_pos(n, (i * 10.25, -i / 3))
    m.add_node("concat", {}, "tail", pos=(1.5, 2))
    m.connect("fc", "tail", 0)  # invalid concat of features: still saved as is
    m.connect("dropout", "tail", 4)
    return m


# --------------------------------------------------------------------------- round trips
def test_load_save_load_is_identical(tmp_path: Path):
    """A saved model loads with the same ids, order, params, positions, edges, and bytes."""
    first = tmp_path / "a.json"
    fileformat.save(placed_model(), first)
    one = fileformat.load(first)
    second = tmp_path / "b.json"
    fileformat.save(one, second)
    two = fileformat.load(second)
    assert first.read_bytes() == second.read_bytes()
    assert one.nodes == two.nodes
    assert [one.pos(n) for n in one.nodes] == [two.pos(n) for n in two.nodes]
    assert [one.params(n) for n in one.nodes] == [two.params(n) for n in two.nodes]
    assert one.edges() == two.edges() and two.ports("tail") == [(0, "fc"), (4, "dropout")]


def test_missing_position_loads_as_none_and_stays_missing():
    """pos is optional: a node without it has no position and is saved without one."""
    d = doc([INPUT, {"id": "r", "type": "relu", "pos": [1, 2]}], [{"src": "x", "dst": "r"}])
    m = fileformat.from_dict(d)
    assert (m.pos("x"), m.pos("r")) == (None, (1.0, 2.0))
    nodes = json.loads(fileformat.dumps(m))["nodes"]
    assert "pos" not in nodes[0] and nodes[1]["pos"] == [1, 2]
    assert fileformat.dumps(fileformat.loads(fileformat.dumps(m))) == fileformat.dumps(m)


def test_saved_positions_are_rounded_to_three_decimals():
    """Whole numbers are written as integers, others rounded to three decimals."""
    text = fileformat.dumps(placed_model())
    nodes = json.loads(text)["nodes"]
    assert nodes[0]["pos"] == [0, 0]
    assert nodes[1]["pos"] == [10.25, -0.333]


def test_saving_writes_every_parameter():
    """A node saved with a partial params dict is written with torch's defaults filled in."""
    m = fileformat.from_dict(doc([{"id": "p", "type": "maxpool", "params": {"kernel_size": 3}}]))
    assert json.loads(fileformat.dumps(m))["nodes"][0]["params"] == {
        "kernel_size": 3,
        "stride": None,
        "padding": 0,
        "ceil_mode": False,
    }


def test_cycle_in_a_file_is_kept_not_lost():
    """A file with a cycle loads with its edges and saves them back."""
    d = doc(
        [INPUT, {"id": "a", "type": "add"}, {"id": "b", "type": "relu"}],
        [
            {"src": "x", "dst": "a", "port": 0},
            {"src": "b", "dst": "a", "port": 1},
            {"src": "a", "dst": "b", "port": 0},
        ],
    )
    m = fileformat.from_dict(d)
    assert sorted(m.edges()) == [("a", "b", 0), ("b", "a", 1), ("x", "a", 0)]
    assert fileformat.loads(fileformat.dumps(m)).edges() == m.edges()


# --------------------------------------------------------------------------- refusals
def test_non_json_is_refused():
    """Text that is not JSON is refused as such."""
    assert refusal("{nodes: [").message.startswith("not a JSON file: ")


def test_pickle_bytes_are_refused_as_non_json():
    """A pickle is not JSON: refused, nothing unpickled."""
    assert refusal(b"\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00K\x01.").message.startswith(
        "not a JSON file"
    )


def test_nan_is_refused():
    """NaN is not JSON; Python's parser would accept it, the loader does not."""
    text = json.dumps(doc([dict(INPUT, pos=[0, 0])])).replace("[0, 0]", "[NaN, 0]")
    assert refusal(text).message == "not a JSON file: NaN is not a JSON value"


def test_other_json_is_refused():
    """A JSON file of another kind is named as not a convcanvas graph."""
    err = refusal({"format": "something.else", "version": 1, "nodes": []})
    assert err.message == (
        "the file is not a convcanvas graph: 'format' is 'something.else', "
        "expected 'convcanvas.graph'"
    )


def test_newer_version_is_refused_with_advice():
    """Version 3 is refused, saying to update ConvCanvas."""
    err = refusal(doc([], version=3))
    assert err.message == (
        "the file has format version 3, newer than this ConvCanvas reads "
        "(2); update ConvCanvas to open it"
    )
    assert err.field == "version"


def test_unknown_top_level_field_is_refused():
    """Fields other than format, version, name, nodes, edges are refused."""
    assert refusal(doc([], script="print(1)")).message == "unknown top-level field(s): script"


def test_unknown_type_names_node_and_field():
    """An unknown type is refused naming the node and the 'type' field."""
    err = refusal(doc([{"id": "n1", "type": "transformer"}]))
    assert (err.node, err.field) == ("n1", "type")
    assert err.message.startswith("node 'n1': unknown type 'transformer' (known: input, conv,")


def test_non_string_type_is_refused():
    """A list as type is refused as an unknown type, not a crash."""
    err = refusal(doc([{"id": "n1", "type": ["conv"]}]))
    assert (err.node, err.field) == ("n1", "type")


def test_missing_param_names_node_and_field():
    """A conv without kernel_size is refused naming it."""
    err = refusal(doc([{"id": "c", "type": "conv", "params": {"out_channels": 4}}]))
    assert (err.node, err.field, err.message) == (
        "c",
        "kernel_size",
        "node 'c': conv needs 'kernel_size'",
    )


def test_unknown_param_names_node_and_field():
    """An unknown parameter is refused naming it and listing the known ones."""
    err = refusal(doc([{"id": "d", "type": "dropout", "params": {"p": 0.5, "inplace": True}}]))
    assert (err.node, err.field) == ("d", "inplace")
    assert err.message == "node 'd': dropout has no parameter 'inplace' (known: p)"


def test_ill_typed_param_names_node_and_field():
    """kernel_size "3" (a string) is refused naming node and field."""
    err = refusal(
        doc([{"id": "c", "type": "conv", "params": {"out_channels": 4, "kernel_size": "3"}}])
    )
    assert (err.node, err.field) == ("c", "kernel_size")
    assert err.message == "node 'c': 'kernel_size' must be an integer, got '3'"


def test_float_where_int_is_needed_is_refused():
    """out_channels 4.0 is not an integer."""
    err = refusal(doc([{"id": "c", "type": "conv1x1", "params": {"out_channels": 4.0}}]))
    assert err.message == "node 'c': 'out_channels' must be an integer, got 4.0"


def test_params_not_an_object_is_refused():
    """params must be an object."""
    err = refusal(doc([{"id": "r", "type": "relu", "params": []}]))
    assert (err.node, err.field, err.message) == (
        "r",
        "params",
        "node 'r': 'params' must be an object",
    )


def test_bad_position_is_refused():
    """pos must be two finite numbers."""
    err = refusal(doc([dict(INPUT, pos=[1, "2"])]))
    assert (err.node, err.field) == ("x", "pos")


def test_duplicate_ids_are_refused():
    """Two nodes with one id are refused naming it."""
    err = refusal(doc([INPUT, {"id": "x", "type": "relu"}]))
    assert (err.node, err.message) == ("x", "node 'x' appears twice: ids must be unique")


def test_missing_id_is_refused():
    """A node without an id is refused by its position in the list."""
    assert (
        refusal(doc([{"type": "relu"}])).message
        == "nodes[0]: 'id' must be a non-empty string, got None"
    )


def test_edge_to_unknown_node_is_refused():
    """An edge whose dst is not a node is refused naming it."""
    err = refusal(doc([INPUT], [{"src": "x", "dst": "ghost", "port": 0}]))
    assert (err.node, err.field) == ("ghost", "dst")
    assert err.message == "edges[0]: 'dst' refers to unknown node 'ghost'"


def test_duplicate_port_is_refused():
    """Two edges into port 0 of one concat are refused naming both sources."""
    err = refusal(
        doc(
            [INPUT, {"id": "r", "type": "relu"}, {"id": "cat", "type": "concat"}],
            [
                {"src": "x", "dst": "r"},
                {"src": "x", "dst": "cat", "port": 0},
                {"src": "r", "dst": "cat", "port": 0},
            ],
        )
    )
    assert (err.node, err.field) == ("cat", "port")
    assert err.message == "edges[2]: port 0 of 'cat' is used twice (by 'x' and 'r')"


def test_second_input_of_single_input_node_is_refused():
    """A relu fed at port 1 is refused: it has one input."""
    err = refusal(doc([INPUT, {"id": "r", "type": "relu"}], [{"src": "x", "dst": "r", "port": 1}]))
    assert err.message == "edges[0]: relu 'r' has one input (port 0), not port 1"


def test_edge_into_input_is_refused():
    """An input node takes no inputs, even from a file."""
    err = refusal(doc([INPUT, {"id": "y", "type": "input"}], [{"src": "x", "dst": "y"}]))
    assert err.message == "edges[0]: input 'y' takes no inputs"


def test_load_names_the_file(tmp_path: Path):
    """load() prefixes the file name to the message and keeps node and field."""
    f = tmp_path / "net.json"
    f.write_text(json.dumps(doc([{"id": "c", "type": "conv"}])), encoding="utf-8")
    with pytest.raises(FormatError) as err:
        fileformat.load(f)
    assert err.value.message == "net.json: node 'c': conv needs 'out_channels'"
    assert (err.value.node, err.value.path) == ("c", str(f))


def test_code_in_a_file_is_never_run(tmp_path: Path):
    """Python in ids, names and types stays text: nothing is executed."""
    marker = tmp_path / "ran"
    code = f"__import__('os').system('touch {marker}')"
    m = fileformat.from_dict(doc([dict(INPUT, id=code)], name=code))
    assert m.nodes == [code] and m.name == code
    refusal(doc([{"id": "a", "type": code}]))
    assert not marker.exists()


# --------------------------------------------------------------------------- atomic saves
def test_failed_rename_leaves_the_old_file_and_no_temp(tmp_path: Path, monkeypatch):
    """If the final rename fails, the old file is intact and the temporary file is gone."""
    target = tmp_path / "net.json"
    target.write_text("old", encoding="utf-8")

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError):
        fileformat.save(googlenet(), target)
    assert target.read_text(encoding="utf-8") == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.json"]


def test_failed_write_leaves_the_old_file(tmp_path: Path, monkeypatch):
    """If flushing to disk fails half-way, the old file is intact and no temp is left."""
    target = tmp_path / "net.json"
    target.write_text("old", encoding="utf-8")
    monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(5, "I/O error")))
    with pytest.raises(OSError):
        fileformat.save(googlenet(), target)
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["net.json"]


def test_save_keeps_the_old_files_permissions(tmp_path: Path):
    """Replacing a 0640 file leaves it 0640 (a temp file alone would make it 0600)."""
    target = tmp_path / "net.json"
    target.write_text("old", encoding="utf-8")
    target.chmod(0o640)
    fileformat.save(googlenet(), target)
    assert target.stat().st_mode & 0o777 == 0o640


def test_new_file_gets_the_usual_permissions(tmp_path: Path):
    """A new file is readable by others as the umask allows, not 0600."""
    target = tmp_path / "new.json"
    old = os.umask(0o022)
    try:
        fileformat.save(googlenet(), target)
    finally:
        os.umask(old)
    assert target.stat().st_mode & 0o777 == 0o644


# --------------------------------------------------------------------------- fuzzing
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 1 << 40)
    | st.floats(allow_nan=False)
    | st.text(max_size=6)
    | st.sampled_from(["conv", "x", "same", "input", "concat"]),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


def _paths(value, prefix=()):
    """Every path (tuple of keys/indices) into a JSON value."""
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, prefix + (i,))


@functools.cache
def _small_doc_text() -> str:
    """A valid document: GoogLeNet's first nodes and edges, and the concat with port gaps."""
    base = fileformat.to_dict(placed_model())
    keep = base["nodes"][:6] + [n for n in base["nodes"] if n["id"] in ("fc", "dropout", "tail")]
    ids = {n["id"] for n in keep}
    base["nodes"] = keep
    base["edges"] = [e for e in base["edges"] if e["src"] in ids and e["dst"] in ids]
    scopes = {n.get("scope", "") for n in keep}  # the blocks that keep members
    base["blocks"] = [b for b in base["blocks"] if b["path"] in scopes]
    text = json.dumps(base)
    assert len(fileformat.loads(text).edges()) == 8  # valid before any mutation
    return text


@settings(max_examples=150, deadline=None, derandomize=True)
@given(data=st.data())
def test_mutated_documents_load_or_raise_format_error(data):
    """Replacing any part of a valid document with random JSON loads or raises FormatError."""
    d = json.loads(_small_doc_text())
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        path = data.draw(st.sampled_from(list(_paths(d))[1:]), label="path")
        parent = d
        for key in path[:-1]:
            parent = parent[key]
        parent[path[-1]] = data.draw(JSON_VALUES, label="value")
    try:
        m = fileformat.loads(json.dumps(d))
    except FormatError as exc:
        assert exc.message
    else:
        assert fileformat.dumps(fileformat.loads(fileformat.dumps(m))) == fileformat.dumps(m)
