"""Analysis errors: each names the node and says what to do; one broken node stops only
its descendants."""

from __future__ import annotations

import pytest

from engine import CycleError, GraphModel, ParamError, analyze
from engine.core import fileformat


def build(nodes: list[tuple], edges: list[tuple]) -> GraphModel:
    """A model from ``(id, type, params)`` nodes and ``(src, dst)`` edges."""
    m = GraphModel()
    for nid, t, p in nodes:
        m.add_node(t, p, nid)
    for src, dst in edges:
        m.connect(src, dst)
    return m


def x(c: int = 3, h: int = 8, w: int = 8) -> tuple:
    """An input node ``x``."""
    return ("x", "input", {"channels": c, "height": h, "width": w})


def test_cycle_from_a_file_is_reported_on_its_nodes():
    """A cycle loaded from a file marks its nodes; the node after it waits on it."""
    doc = {
        "format": "convcanvas.graph",
        "version": 1,
        "nodes": [
            {"id": "x", "type": "input", "params": {"height": 8, "width": 8}},
            {"id": "a", "type": "add"},
            {"id": "after", "type": "relu"},
            {"id": "b", "type": "relu"},
        ],
        "edges": [
            {"src": "x", "dst": "a", "port": 0},
            {"src": "b", "dst": "a", "port": 1},
            {"src": "a", "dst": "b"},
            {"src": "b", "dst": "after"},
        ],
    }
    a = analyze(fileformat.from_dict(doc))
    assert a["a"].error == "add 'a' is part of a cycle; remove one of its edges"
    assert a["b"].error == "relu 'b' is part of a cycle; remove one of its edges"
    assert a["after"].waiting_on == "b" and a["after"].error is None
    assert a["x"].shape == (3, 8, 8)
    assert a.order.index("after") > a.order.index("b")


def test_connect_refuses_the_same_cycle():
    """The model itself refuses the edge that closes a cycle, with CycleError."""
    m = build([x(), ("a", "relu", {}), ("b", "relu", {})], [("x", "a"), ("a", "b")])
    m.add_node("add", {}, "s")
    m.connect("b", "s")
    with pytest.raises(CycleError, match="connecting 's' → 'a' would make a cycle"):
        m.disconnect("a", 0)
        m.connect("s", "a")


def test_unconnected_input_is_reported():
    """A conv with nothing connected says to connect a node."""
    a = analyze(build([x(), ("c", "conv", {"out_channels": 4, "kernel_size": 3})], []))
    assert a["c"].error == "conv 'c' has no input; connect a node to it"


def test_too_few_inputs_is_reported():
    """A concat with one input asks for another."""
    a = analyze(build([x(), ("cat", "concat", {})], [("x", "cat")]))
    assert a["cat"].error == "concat 'cat' needs at least 2 inputs, has 1; connect another"


def test_concat_spatial_mismatch_names_both_inputs():
    """Concat of 28×28 and 14×14 names both sources and their sizes."""
    m = build(
        [
            x(3, 28, 28),
            ("b1", "relu", {}),
            ("b3", "maxpool", {"kernel_size": 2}),
            ("cat", "concat", {}),
        ],
        [("x", "b1"), ("x", "b3"), ("b1", "cat"), ("b3", "cat")],
    )
    assert (
        analyze(m)["cat"].error
        == "concat 'cat' needs equal H×W: 28×28 from 'b1' but 14×14 from 'b3'"
    )


def test_add_shape_mismatch_names_both_inputs():
    """Add of 8 and 4 channels names both shapes."""
    m = build(
        [
            x(),
            ("p", "conv1x1", {"out_channels": 8}),
            ("q", "conv1x1", {"out_channels": 4}),
            ("s", "add", {}),
        ],
        [("x", "p"), ("x", "q"), ("p", "s"), ("q", "s")],
    )
    assert (
        analyze(m)["s"].error
        == "add 's' needs inputs of equal shape: 8×8×8 from 'p' but 4×8×8 from 'q'"
    )


def test_kernel_larger_than_padded_input_is_reported():
    """A 7×7 kernel on a 5×5 input with padding 0 says what to lower."""
    m = build([x(3, 5, 9), ("c", "conv", {"out_channels": 4, "kernel_size": 7})], [("x", "c")])
    assert analyze(m)["c"].error == (
        "conv 'c' kernel 7 is larger than its padded input 5 along "
        "H; lower kernel_size or dilation, or add padding"
    )


def test_dilated_kernel_counts_its_span():
    """A 3×3 kernel with dilation 4 spans 9 pixels: too large for 8 + 0 padding."""
    m = build(
        [x(), ("c", "conv", {"out_channels": 4, "kernel_size": 3, "dilation": 4})], [("x", "c")]
    )
    assert "kernel 9 is larger than its padded input 8 along H" in analyze(m)["c"].error


def test_pool_padding_over_half_the_kernel_is_reported():
    """Pool padding 2 with kernel 3 is refused as torch refuses it."""
    m = build([x(), ("p", "maxpool", {"kernel_size": 3, "padding": 2})], [("x", "p")])
    assert analyze(m)["p"].error == (
        "maxpool 'p' padding 2 is more than half the kernel 3 "
        "along H (torch refuses it); lower padding"
    )


def test_non_positive_sizes_are_refused_on_input_nodes():
    """An input of height 0 is refused when made, naming the field."""
    with pytest.raises(ParamError) as err:
        build([("x", "input", {"channels": 3, "height": 0, "width": 8})], [])
    assert err.value.message == "node 'x': 'height' must be at least 1, got 0"


def test_non_positive_sizes_in_a_file_name_the_node():
    """A file with out_channels 0 is refused naming the node and field."""
    doc = {
        "format": "convcanvas.graph",
        "version": 1,
        "nodes": [{"id": "c", "type": "conv1x1", "params": {"out_channels": 0}}],
    }
    with pytest.raises(fileformat.FormatError) as err:
        fileformat.from_dict(doc)
    assert (err.value.node, err.value.field) == ("c", "out_channels")
    assert err.value.message == "node 'c': 'out_channels' must be at least 1, got 0"


def test_input_channels_not_divisible_by_groups():
    """Groups 2 on 3 input channels says to make groups divide 3."""
    m = build(
        [x(), ("c", "conv", {"out_channels": 4, "kernel_size": 3, "groups": 2})], [("x", "c")]
    )
    assert analyze(m)["c"].error == (
        "conv 'c' input channels 3 are not divisible by groups 2; make groups divide 3"
    )


def test_output_channels_not_divisible_by_groups():
    """Groups 2 with 5 output channels says to make groups divide 5."""
    m = build([x(4), ("c", "conv1x1", {"out_channels": 5, "groups": 2})], [("x", "c")])
    assert analyze(m)["c"].error == (
        "conv1x1 'c' out_channels 5 are not divisible by groups 2; make groups divide 5"
    )


def test_linear_on_a_spatial_tensor_asks_for_flatten():
    """A linear fed a C×H×W tensor says to put a flatten before it."""
    m = build([x(), ("fc", "linear", {"out_features": 10})], [("x", "fc")])
    assert analyze(m)["fc"].error == (
        "linear 'fc' needs features but 'x' gives a spatial 3×8×8 "
        "tensor; put a flatten (or global avg pool + flatten) "
        "before it"
    )


def test_conv_after_flatten_is_reported():
    """A conv fed features says it cannot follow flatten."""
    m = build(
        [x(), ("f", "flatten", {}), ("c", "conv1x1", {"out_channels": 2})], [("x", "f"), ("f", "c")]
    )
    assert analyze(m)["c"].error == (
        "conv1x1 'c' needs a C×H×W input but 'f' gives 192 "
        "features; a convolution cannot follow flatten or linear"
    )


def test_broken_node_stops_only_its_descendants():
    """Downstream of a broken conv waits on it; the other branch keeps its numbers."""
    m = build(
        [
            x(3, 8, 8),
            ("bad", "conv", {"out_channels": 4, "kernel_size": 9}),
            ("after", "relu", {}),
            ("after2", "relu", {}),
            ("good", "conv", {"out_channels": 4, "kernel_size": 3}),
        ],
        [("x", "bad"), ("bad", "after"), ("after", "after2"), ("x", "good")],
    )
    a = analyze(m)
    assert a["bad"].error is not None and a["bad"].shape is None
    assert (a["after"].waiting_on, a["after2"].waiting_on) == ("bad", "bad")
    assert a["after2"].error is None
    assert a["good"].shape == (4, 6, 6) and a["good"].params == 4 * 3 * 9 + 4
    assert a.totals.params == 112 and a.totals.output == "good"
    assert [n for n, _ in a.errors] == ["bad"]
    assert not a.ok
    rows = {row["id"]: row for row in a.to_dict()["nodes"]}
    assert rows["after2"]["error"] == "waiting on 'bad'"


def test_cycle_of_single_input_nodes_is_reported():
    """Two relus feeding each other (from a file) are both marked as a cycle."""
    doc = {
        "format": "convcanvas.graph",
        "version": 1,
        "nodes": [
            {"id": "x", "type": "input"},
            {"id": "a", "type": "relu"},
            {"id": "b", "type": "relu"},
        ],
        "edges": [{"src": "b", "dst": "a"}, {"src": "a", "dst": "b"}],
    }
    a = analyze(fileformat.from_dict(doc))
    assert [n for n, _ in a.errors] == ["a", "b"]
    assert a["b"].error == "relu 'b' is part of a cycle; remove one of its edges"
    assert a.totals.params == 0 and a.totals.output == "x"
