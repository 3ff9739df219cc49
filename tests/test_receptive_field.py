"""Receptive fields: exact values on known layers and networks, and a gradient measurement.

The measurement backpropagates from one output value in float64 through layers with
positive weights and inputs, and takes the extent of the non-zero input gradient
(``tests/helpers_torch.py``). Average pooling is used instead of max pooling: a max pool
passes gradient to one element per window only.
"""

from __future__ import annotations

import networkx as nx
from helpers_torch import gradient_extents
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import GraphModel, analyze, receptive_field
from engine.core import fileformat
from engine.nodes import compile_params
from engine.templates import resnet18, vgg16


def chain(*layers, size: int = 32, channels: int = 1) -> GraphModel:
    """``input → layers[0] → layers[1] …``; each layer is ``(type, params)``; ids l0, l1, …"""
    m = GraphModel()
    m.add_node("input", {"channels": channels, "height": size, "width": size}, "x")
    src = "x"
    for i, (t, p) in enumerate(layers):
        m.add_node(t, p, f"l{i}")
        m.connect(src, f"l{i}")
        src = f"l{i}"
    return m


def test_input_sees_one_pixel():
    """The input's receptive field is one pixel with jump 1 at offset 0."""
    assert analyze(chain())["x"].rf == ((1, 1, 0), (1, 1, 0))


def test_two_3x3_convs_see_5x5():
    """Two stacked 3×3 convolutions (padding 1) see 5×5, starting 2 pixels before."""
    m = chain(
        ("conv", {"out_channels": 1, "kernel_size": 3, "padding": 1}),
        ("conv", {"out_channels": 1, "kernel_size": 3, "padding": 1}),
    )
    assert analyze(m)["l1"].rf == ((5, 1, -2), (5, 1, -2))


def test_stride_multiplies_the_jump():
    """A stride-2 7×7 conv then a 3×3 stride-2 pool: jump 4, size 7 + 2·2 = 11 (ResNet stem)."""
    m = chain(
        ("conv", {"out_channels": 1, "kernel_size": 7, "stride": 2, "padding": 3}),
        ("maxpool", {"kernel_size": 3, "stride": 2, "padding": 1}),
    )
    assert analyze(m)["l1"].rf == ((11, 4, -5), (11, 4, -5))


def test_dilation_widens_the_window():
    """A 3×3 conv with dilation 3 spans 7 pixels; on a jump-2 input it spans 1 + 2·3·2 = 13."""
    m = chain(
        ("avgpool", {"kernel_size": 2}),
        ("conv", {"out_channels": 1, "kernel_size": 3, "dilation": 3}),
    )
    assert analyze(m)["l1"].rf == ((2 + 2 * 3 * 2, 2, 0), (2 + 2 * 3 * 2, 2, 0))


def test_same_padding_even_kernel_starts_at_left_pad():
    """padding "same" with a 4-wide kernel pads 1 left, 2 right (torch): start −1 along W."""
    m = chain(("conv", {"out_channels": 1, "kernel_size": [3, 4], "padding": "same"}))
    assert analyze(m)["l0"].rf == ((3, 1, -1), (4, 1, -1))


def test_pair_params_give_per_axis_fields():
    """Kernel [1, 5] and stride [1, 2] give different fields along H and W."""
    m = chain(
        ("conv", {"out_channels": 1, "kernel_size": [1, 5], "stride": [1, 2]}),
        ("conv", {"out_channels": 1, "kernel_size": 3}),
    )
    assert analyze(m)["l1"].rf == ((3, 1, 0), (5 + 2 * 2, 2, 0))


def test_global_pool_covers_the_whole_input():
    """After global average pooling the window covers every input pixel of the feature map."""
    m = chain(
        ("conv", {"out_channels": 1, "kernel_size": 3, "stride": 2}),
        ("global_avgpool", {}),
        ("flatten", {}),
        ("linear", {"out_features": 2}),
        size=15,
    )
    # conv: 7×7 outputs of size 3, jump 2 → the last one ends at 2·6 + 3 = 15.
    rf = receptive_field(m)
    assert rf["l1"] == ((15, 14, 0), (15, 14, 0))
    assert rf["l3"] == rf["l1"]


def test_concat_takes_the_union_of_branches():
    """Concat of a 1×1 and a 5×5 (padding 2) branch sees the 5×5 window."""
    m = chain()
    m.add_node("conv1x1", {"out_channels": 1}, "a")
    m.add_node("conv", {"out_channels": 1, "kernel_size": 5, "padding": 2}, "b")
    m.add_node("concat", {}, "cat")
    for src, dst in (("x", "a"), ("x", "b"), ("a", "cat"), ("b", "cat")):
        m.connect(src, dst)
    assert analyze(m)["cat"].rf == ((5, 1, -2), (5, 1, -2))


def test_merge_of_unequal_jumps_covers_every_pixel():
    """Branches of jump 2 and jump 1 on equal 4×4 maps: one window covering both at every pixel."""
    m = chain(size=9)
    m.add_node("conv", {"out_channels": 1, "kernel_size": 3, "stride": 2}, "a")  # jump 2
    m.add_node("conv", {"out_channels": 1, "kernel_size": 6}, "b")  # jump 1
    m.add_node("add", {}, "sum")
    for src, dst in (("x", "a"), ("x", "b"), ("a", "sum"), ("b", "sum")):
        m.connect(src, dst)
    # b's window of pixel 3 starts 3 pixels before a's: start −3, end 6 → size 9, jump 2.
    assert analyze(m)["sum"].rf == ((9, 2, -3), (9, 2, -3))
    measured = gradient_extents(m, [("sum", (i, i)) for i in range(4)], "x")
    for i, (rows, _) in enumerate(measured):
        assert max(0, -3 + 2 * i) <= rows[0] and rows[1] <= min(8, -3 + 2 * i + 8)


def test_vgg16_conv5_3_and_pool5():
    """VGG-16: conv5_3 sees 196 pixels and pool5 212, with jumps 16 and 32."""
    a = analyze(vgg16())
    assert a["features_28"].rf[0] == (196, 16, -90)
    assert a["features_30"].rf[0] == (212, 32, -90)


def test_resnet18_last_block_sees_435():
    """ResNet-18's last block output sees 435 pixels with jump 32."""
    a = analyze(resnet18())
    assert a["layer4_1_relu_1"].rf == ((435, 32, -217), (435, 32, -217))


# --------------------------------------------------------------------------- measurement
RF_LAYERS = st.one_of(
    st.fixed_dictionaries(
        {
            "type": st.just("conv"),
            "out_channels": st.integers(1, 2),
            "kernel_size": st.integers(1, 4),
            "stride": st.integers(1, 2),
            "padding": st.integers(0, 2),
            "dilation": st.integers(1, 2),
        }
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("conv"),
            "out_channels": st.integers(1, 2),
            "kernel_size": st.lists(st.integers(1, 4), min_size=2, max_size=2),
            "padding": st.just("same"),
            "dilation": st.integers(1, 2),
        }
    ),
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(["avgpool", "maxpool"]),
            "kernel_size": st.integers(1, 3),
            "stride": st.integers(1, 3),
            "padding": st.integers(0, 1),
            "ceil_mode": st.booleans(),
        }
    ),
    st.fixed_dictionaries(
        {"type": st.just("conv1x1"), "out_channels": st.integers(1, 2), "stride": st.integers(1, 2)}
    ),
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(
                ["relu", "batchnorm", "dropout", "concat", "add", "global_avgpool"]
            )
        }
    ),
)


@st.composite
def rf_graphs(draw) -> GraphModel:
    """A small random graph of every layer type with branches and merges."""
    m = GraphModel()
    size = draw(st.integers(10, 22))
    m.add_node("input", {"channels": 1, "height": size, "width": draw(st.integers(10, 22))}, "x")
    nodes = ["x"]
    for i in range(draw(st.integers(1, 6))):
        spec = dict(draw(RF_LAYERS))
        t = spec.pop("type")
        if t in ("concat", "add"):
            m.add_node(t, {}, f"n{i}")
            for s in draw(st.lists(st.sampled_from(nodes), min_size=2, max_size=3)):
                m.connect(s, f"n{i}")
        else:
            m.add_node(t, spec, f"n{i}")
            m.connect(draw(st.sampled_from(nodes)), f"n{i}")
        nodes.append(f"n{i}")
    if draw(st.booleans()):
        m.add_node("flatten", {}, "flat")
        m.add_node("linear", {"out_features": 1}, "fc")
        m.connect(nodes[-1], "flat")
        m.connect("flat", "fc")
    return m


def _covering_only(m: GraphModel, a) -> set[str]:
    """Nodes at or after a merge of unequal jumps: their window covers, it is not the extent."""
    g = m.graph
    loose = set()
    for n in a.order:
        r = a[n]
        if r.shape is None or m.node_type(n) not in ("concat", "add"):
            continue
        if len({tuple(a[u].rf[ax][1] for ax in (0, 1)) for u in m.inputs(n)}) > 1:
            loose |= {n} | nx.descendants(g, n)
    return loose


def _max_as_avg(m: GraphModel) -> GraphModel:
    """A copy whose max pools are average pools of the same geometry (same window, but the
    gradient reaches every pixel of it, not only the maximum)."""
    c = m.copy()
    for n in c.nodes:
        if c.node_type(n) == "maxpool":
            c.graph.nodes[n]["type"] = "avgpool"
            c.graph.nodes[n]["compiled"] = compile_params("avgpool", c.params(n))
    return c


def _window(rf_axis: tuple, px: tuple | None, axis: int) -> tuple[int, int]:
    """First and last input pixel (inclusive, unclipped) of output pixel ``px`` along ``axis``."""
    size, jump, start = rf_axis
    lo = start + (px[axis] * jump if px is not None else 0)
    return lo, lo + size - 1


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(model=rf_graphs())
def test_receptive_field_equals_gradient_extent(model):
    """First, middle and last output pixels: the input gradient fills the clipped RF window."""
    a = analyze(model)
    p = model.params("x")
    limits = (p["height"], p["width"])
    loose = _covering_only(model, a)
    targets = []
    for n in a.order:
        r = a[n]
        if r.shape is None or n == "x":
            continue
        if len(r.shape) == 3:
            h, w = r.shape[1], r.shape[2]
            targets += [(n, px) for px in sorted({(0, 0), (h // 2, w // 2), (h - 1, w - 1)})]
        elif model.node_type(n) == "flatten":
            targets.append((n, None))  # each feature is one position: the window covers all
        else:
            targets.append((n, (0, 0)))
    if not targets:
        return
    measured = gradient_extents(_max_as_avg(model), targets, "x")
    for (n, px), extent in zip(targets, measured):
        if extent is None:
            # Only a window reaching into the padding can see no pixel at all.
            assert n in loose or any(
                _window(a[n].rf[ax], px, ax)[0] < 0 or _window(a[n].rf[ax], px, ax)[1] >= limits[ax]
                for ax in (0, 1)
            ), (n, px, fileformat.dumps(model))
            continue
        for axis in (0, 1):
            lo, hi = _window(a[n].rf[axis], px, axis)
            lo_c, hi_c = max(lo, 0), min(hi, limits[axis] - 1)
            got_lo, got_hi = extent[axis]
            assert lo_c <= got_lo and got_hi <= hi_c, (n, px, axis, (lo, hi), extent)
            if n in loose:
                continue
            if lo >= 0:
                assert got_lo == lo, (n, px, axis, (lo, hi), extent)
            if hi < limits[axis]:
                assert got_hi == hi, (n, px, axis, (lo, hi), extent)
