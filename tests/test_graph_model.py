"""GraphModel: node types and params as torch, structural rules, events, remove/restore."""

from __future__ import annotations

import pytest

from engine import CycleError, DuplicateIdError, GraphModel, ParamError, PortError, UnknownNodeError


def small() -> GraphModel:
    """x → c (3×3 conv 8) → r (relu)."""
    m = GraphModel("small")
    m.add_node("input", {"channels": 3, "height": 16, "width": 16}, "x", pos=(0, 0))
    m.add_node("conv", {"out_channels": 8, "kernel_size": 3}, "c", pos=(0, 100))
    m.add_node("relu", {}, "r", pos=(0, 200))
    m.connect("x", "c")
    m.connect("c", "r")
    return m


def test_conv_defaults_are_torchs():
    """A conv with only out_channels and kernel_size gets torch's defaults."""
    m = GraphModel()
    m.add_node("conv", {"out_channels": 4, "kernel_size": 3}, "c")
    assert m.params("c") == {
        "out_channels": 4,
        "kernel_size": 3,
        "stride": 1,
        "padding": 0,
        "dilation": 1,
        "groups": 1,
        "bias": True,
    }


@pytest.mark.parametrize(
    "type_name,given,expected",
    [
        (
            "conv1x1",
            {"out_channels": 2},
            {"out_channels": 2, "stride": 1, "groups": 1, "bias": True},
        ),
        (
            "avgpool",
            {"kernel_size": 2},
            {
                "kernel_size": 2,
                "stride": None,
                "padding": 0,
                "ceil_mode": False,
                "count_include_pad": True,
                "divisor_override": None,
            },
        ),
        ("hardsigmoid", {}, {"alpha": 1 / 6, "beta": 0.5}),
        ("gelu", {}, {"approximate": "none"}),
        ("leaky_relu", {}, {"negative_slope": 0.01}),
        (
            "upsample",
            {"scale_factor": 2.0},
            {"size": None, "scale_factor": 2.0, "mode": "nearest", "align_corners": False},
        ),
        (
            "conv_transpose",
            {"out_channels": 2, "kernel_size": 3},
            {
                "out_channels": 2,
                "kernel_size": 3,
                "stride": 1,
                "padding": 0,
                "output_padding": 0,
                "groups": 1,
                "bias": True,
                "dilation": 1,
            },
        ),
        ("layernorm2d", {}, {"eps": 1e-5, "elementwise_affine": True}),
        ("prelu", {}, {"num_parameters": 1, "init": 0.25}),
        ("batchnorm", {}, {"eps": 1e-5, "momentum": 0.1, "affine": True}),
        ("linear", {"out_features": 3}, {"out_features": 3, "bias": True}),
        ("dropout", {}, {"p": 0.5}),
        ("relu", {}, {}),
        ("flatten", {}, {}),
        ("global_avgpool", {}, {}),
        ("concat", {}, {}),
        ("add", {}, {}),
    ],
)
def test_other_defaults_are_torchs(type_name, given, expected):
    """Every other type's omitted params get the issue's (torch's) defaults."""
    m = GraphModel()
    m.add_node(type_name, given, "n")
    assert m.params("n") == expected


def test_pool_stride_defaults_to_none_meaning_kernel():
    """A pool's stride defaults to None (torch: the kernel size)."""
    m = GraphModel()
    m.add_node("maxpool", {"kernel_size": 2}, "p")
    assert m.params("p") == {"kernel_size": 2, "stride": None, "padding": 0, "ceil_mode": False}


def test_int_or_pair_accepts_both_forms():
    """kernel_size takes an int or [h, w]; tuples become lists."""
    m = GraphModel()
    m.add_node("conv", {"out_channels": 1, "kernel_size": (3, 5), "stride": [1, 2]}, "c")
    assert m.params("c")["kernel_size"] == [3, 5]
    assert m.params("c")["stride"] == [1, 2]


def test_pair_of_three_is_refused_by_name():
    """A three-element kernel_size is refused naming the node and the field."""
    with pytest.raises(ParamError) as err:
        GraphModel().add_node("conv", {"out_channels": 1, "kernel_size": [1, 2, 3]}, "c")
    assert (
        err.value.message == "node 'c': 'kernel_size' must be an integer or [h, w], got [1, 2, 3]"
    )
    assert (err.value.node, err.value.field) == ("c", "kernel_size")


def test_padding_same_with_stride_is_refused():
    """padding "same" with stride 2 is refused, as torch refuses it."""
    with pytest.raises(ParamError, match='padding "same" needs stride 1'):
        GraphModel().add_node(
            "conv", {"out_channels": 1, "kernel_size": 3, "stride": 2, "padding": "same"}, "c"
        )


def test_padding_other_words_are_refused():
    """padding "valid" is not one of int, [h, w] or "same"."""
    with pytest.raises(ParamError, match="'padding' must be an integer, \\[h, w\\] or \"same\""):
        GraphModel().add_node("conv", {"out_channels": 1, "kernel_size": 3, "padding": "valid"})


def test_zero_channels_are_refused():
    """Non-positive sizes are refused when set: out_channels 0."""
    m = small()
    with pytest.raises(ParamError) as err:
        m.set_param("c", "out_channels", 0)
    assert err.value.message == "node 'c': 'out_channels' must be at least 1, got 0"


def test_bool_is_not_an_integer():
    """True is not accepted as a channel count."""
    with pytest.raises(ParamError, match="'out_channels' must be an integer, got True"):
        GraphModel().add_node("conv", {"out_channels": True, "kernel_size": 3})


def test_missing_required_param_is_named():
    """A conv without out_channels names the missing field."""
    with pytest.raises(ParamError) as err:
        GraphModel().add_node("conv", {"kernel_size": 3}, "c")
    assert err.value.message == "node 'c': conv needs 'out_channels'"


def test_unknown_param_lists_the_known_ones():
    """An unknown parameter is refused with the type's known parameters."""
    with pytest.raises(ParamError) as err:
        GraphModel().add_node("relu", {"inplace": True}, "r")
    assert err.value.message == "node 'r': relu has no parameter 'inplace' (known: none)"


def test_unknown_type_is_refused():
    """An unknown node type is refused, listing the known ones."""
    with pytest.raises(ParamError, match="unknown node type 'conv3d'"):
        GraphModel().add_node("conv3d", {}, "c")


def test_fresh_ids_count_up():
    """Ids made from the type count up: conv, conv1, conv2."""
    m = GraphModel()
    ids = [m.add_node("conv", {"out_channels": 1, "kernel_size": 1}) for _ in range(3)]
    assert ids == ["conv", "conv1", "conv2"]


def test_duplicate_id_is_refused():
    """Adding a node with an id already held raises DuplicateIdError."""
    m = small()
    with pytest.raises(DuplicateIdError, match="there is already a node 'c'"):
        m.add_node("relu", {}, "c")


def test_connect_refuses_a_cycle():
    """Connecting r → c (c already feeds r) raises CycleError naming both and adds nothing."""
    m = small()
    m.disconnect("c", 0)
    with pytest.raises(CycleError) as err:
        m.connect("r", "c")
    assert err.value.message == ("connecting 'r' → 'c' would make a cycle: 'c' already feeds 'r'")
    assert m.edges() == [("c", "r", 0)]


def test_connect_refuses_a_self_loop():
    """A node cannot feed itself."""
    m = small()
    m.add_node("add", {}, "a")
    with pytest.raises(CycleError):
        m.connect("a", "a")
    assert m.inputs("a") == []


def test_single_input_node_refuses_a_second_input():
    """A relu fed by c refuses another input, naming the current one."""
    m = small()
    with pytest.raises(PortError) as err:
        m.connect("x", "r")
    assert err.value.message == "relu 'r' already has its input from 'c'; disconnect it first"


def test_input_node_takes_no_inputs():
    """An input node refuses every input."""
    m = small()
    with pytest.raises(PortError, match="input 'x' takes no inputs"):
        m.connect("r", "x")


def test_merge_ports_count_up_and_order_inputs():
    """Concat inputs take ports 0, 1, … and inputs() follows the ports, gaps included."""
    m = small()
    m.add_node("concat", {}, "cat")
    assert m.connect("r", "cat") == 0
    assert m.connect("x", "cat", 5) == 5
    assert m.connect("c", "cat", 2) == 2
    assert m.inputs("cat") == ["r", "c", "x"]
    with pytest.raises(PortError, match="port 2 of 'cat' is already taken by 'c'"):
        m.connect("x", "cat", 2)


def test_disconnect_returns_the_source():
    """disconnect gives back the source; an empty port raises PortError."""
    m = small()
    assert m.disconnect("r", 0) == "c"
    assert m.inputs("r") == []
    with pytest.raises(PortError, match="'r' has no input at port 0"):
        m.disconnect("r", 0)


def test_unknown_node_is_named():
    """Queries on an unknown id raise UnknownNodeError naming it."""
    with pytest.raises(UnknownNodeError, match="there is no node 'nope'"):
        small().params("nope")


def test_remove_then_restore_puts_everything_back():
    """Removing and restoring a middle node restores order, params, position and ports."""
    m = small()
    m.add_node("concat", {}, "cat")
    m.connect("x", "cat", 0)
    m.connect("c", "cat", 3)
    before = (m.nodes, m.edges(), {n: m.params(n) for n in m.nodes}, {n: m.pos(n) for n in m.nodes})
    record = m.remove_node("c")
    assert m.nodes == ["x", "r", "cat"] and m.inputs("cat") == ["x"]
    m.restore_node(record)
    after = (m.nodes, m.edges(), {n: m.params(n) for n in m.nodes}, {n: m.pos(n) for n in m.nodes})
    assert sorted(after[1]) == sorted(before[1])
    assert (after[0], after[2], after[3]) == (before[0], before[2], before[3])
    assert m.ports("cat") == [(0, "x"), (3, "c")]


def test_refused_restore_changes_nothing():
    """Restoring a node whose input was removed since is refused and adds nothing."""
    m = small()
    record = m.remove_node("c")
    m.remove_node("x")
    with pytest.raises(UnknownNodeError, match="its input 'x' is gone"):
        m.restore_node(record)
    assert m.nodes == ["r"]


def test_set_param_returns_old_value_and_emits():
    """set_param returns the old value and emits one params_changed for the node."""
    m = small()
    events = []
    m.subscribe(events.append)
    assert m.set_param("c", "kernel_size", [1, 3]) == 3
    assert [(e.kind, e.nodes, e.structural) for e in events] == [("params_changed", ("c",), False)]
    assert m.graph.nodes["c"]["compiled"][1:3] == (1, 3)


def test_failed_set_params_changes_nothing():
    """A batch with one bad value changes no parameter and emits nothing."""
    m = small()
    events = []
    m.subscribe(events.append)
    with pytest.raises(ParamError):
        m.set_params("c", {"out_channels": 16, "groups": -1})
    assert m.params("c")["out_channels"] == 8 and events == []


def test_structure_version_counts_structural_edits_only():
    """Adding an edge bumps structure_version; moving a node does not."""
    m = small()
    v = m.structure_version
    m.set_pos("r", (5, 5))
    assert m.structure_version == v
    m.disconnect("r", 0)
    assert m.structure_version == v + 1


def test_copy_is_independent():
    """Editing a copy leaves the original as it was."""
    m = small()
    c = m.copy()
    c.set_param("c", "out_channels", 2)
    c.remove_node("r")
    assert m.params("c")["out_channels"] == 8 and "r" in m


def test_port_must_be_an_integer():
    """A bool port is refused (False would pass as 0 and save as false)."""
    m = small()
    m.disconnect("r", 0)
    with pytest.raises(PortError, match="port of 'r' must be a non-negative integer, got False"):
        m.connect("c", "r", False)
    assert m.inputs("r") == []


def test_delete_and_undo_restores_file_and_order_exactly():
    """Removing then restoring a node gives back the same document and topological order."""
    from engine import analyze
    from engine.core import fileformat
    from engine.templates import inception3a_reduced

    m = inception3a_reduced()
    before_doc, before_order = fileformat.dumps(m), analyze(m).order
    for node in list(m.nodes):
        record = m.remove_node(node)
        m.restore_node(record)
        assert fileformat.dumps(m) == before_doc, node
        assert analyze(m).order == before_order, node


def branchy() -> GraphModel:
    """small() plus a concat fed by x (port 0) and c (port 3) and a second consumer of c."""
    m = small()
    m.add_node("concat", {}, "cat")
    m.connect("x", "cat", 0)
    m.connect("c", "cat", 3)
    m.add_node("relu", {}, "r2")
    m.connect("c", "r2")
    return m


def test_rename_changes_only_the_id_in_the_saved_file():
    """Renaming a middle node keeps order, edges, ports and adjacency: the file differs only in the id."""
    from engine.core import fileformat

    m = branchy()
    before = fileformat.dumps(m)
    m.rename_node("c", "stem_conv")
    assert fileformat.dumps(m) == before.replace('"c"', '"stem_conv"')
    assert m.nodes == ["x", "stem_conv", "r", "cat", "r2"]
    assert m.ports("cat") == [(0, "x"), (3, "stem_conv")]


def test_rename_emits_one_structural_node_renamed_event():
    """rename_node emits node_renamed with the old and new id."""
    m = branchy()
    events = []
    m.subscribe(events.append)
    v = m.structure_version
    m.rename_node("x", "image")
    assert [(e.kind, e.nodes[0], e.structural, e.extra) for e in events] == [
        ("node_renamed", "image", True, {"old": "x", "new": "image"})
    ]
    assert m.structure_version == v + 1


@pytest.mark.parametrize(
    "new, error, match",
    [
        ("r", DuplicateIdError, "there is already a node 'r'"),
        ("", ParamError, "must not be empty"),
        ("   ", ParamError, "must not be empty"),
        (7, ParamError, "must be text, got 7"),
        ("n" * 201, ParamError, "at most 200 characters, got 201"),
    ],
)
def test_refused_rename_changes_nothing(new, error, match):
    """A taken, empty, blank, non-string or too long id is refused; nothing changes or is emitted."""
    from engine.core import fileformat

    m = branchy()
    before = fileformat.dumps(m)
    events = []
    m.subscribe(events.append)
    with pytest.raises(error, match=match):
        m.rename_node("c", new)
    assert fileformat.dumps(m) == before and events == []


def test_rename_of_an_unknown_node_is_refused():
    """Renaming an id the graph does not hold raises UnknownNodeError."""
    with pytest.raises(UnknownNodeError, match="there is no node 'nope'"):
        small().rename_node("nope", "x2")


def test_rename_and_rename_back_gives_the_identical_document():
    """Renaming every node and back restores the exact saved text."""
    from engine.core import fileformat

    m = branchy()
    before = fileformat.dumps(m)
    for n in list(m.nodes):
        m.rename_node(n, f"{n}_renamed")
    for n in list(m.nodes):
        m.rename_node(n, n[: -len("_renamed")])
    assert fileformat.dumps(m) == before


def test_rename_keeps_a_200_character_id():
    """An id of exactly 200 characters is accepted."""
    m = small()
    m.rename_node("r", "r" * 200)
    assert m.nodes[-1] == "r" * 200 and m.inputs("r" * 200) == ["c"]


def test_huge_integer_for_a_float_param_is_a_param_error():
    """A 401-digit integer for eps is refused by name and size, not with OverflowError."""
    m = GraphModel()
    m.add_node("batchnorm", {}, "b")
    with pytest.raises(ParamError) as err:
        m.set_param("b", "eps", 10**400)
    assert "'eps' must be between 0 and 1, got a 401-digit integer" in str(err.value)
    assert m.params("b")["eps"] == 1e-5
