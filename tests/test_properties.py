"""Property tests: the analysis agrees with real torch.nn layers and with a fresh analysis.

Shapes, parameter counts, MACs and errors are compared with ``tests/helpers_torch.py``,
an oracle that runs one torch layer per node; incremental results are compared with a
fresh :func:`engine.analyze` after random edit sequences.
"""

from __future__ import annotations

import networkx as nx
import pytest
from helpers_torch import run_graph
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import Analyzer, GraphModel, ParamError, analyze
from engine.analysis.analyzer import _MemoryProfile
from engine.core.errors import EngineError
from engine.nodes import NODE_TYPES, pair

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def pair_or_int(lo: int, hi: int):
    """An int, or ``[h, w]`` with each in ``[lo, hi]``."""
    return st.one_of(st.integers(lo, hi), st.lists(st.integers(lo, hi), min_size=2, max_size=2))


def conv_params():
    """Random ``conv`` parameters, including "same" padding, dilation and groups."""
    return st.fixed_dictionaries(
        {
            "out_channels": st.sampled_from([1, 2, 3, 4, 6]),
            "kernel_size": pair_or_int(1, 5),
            "stride": pair_or_int(1, 3),
            "padding": st.one_of(st.just("same"), pair_or_int(0, 3)),
            "dilation": pair_or_int(1, 3),
            "groups": st.sampled_from([1, 1, 2, 3]),
            "bias": st.booleans(),
        }
    )


def conv1x1_params():
    """Random ``conv1x1`` parameters."""
    return st.fixed_dictionaries(
        {
            "out_channels": st.sampled_from([1, 2, 3, 4, 6]),
            "stride": pair_or_int(1, 3),
            "groups": st.sampled_from([1, 1, 2, 3]),
            "bias": st.booleans(),
        }
    )


def pool_params():
    """Random max/avg pool parameters, including ceil_mode and a default stride."""
    return st.fixed_dictionaries(
        {
            "kernel_size": pair_or_int(1, 5),
            "stride": st.one_of(st.none(), pair_or_int(1, 3)),
            "padding": pair_or_int(0, 2),
            "ceil_mode": st.booleans(),
        }
    )


def avgpool_params():
    """Random avg pool parameters: pool_params with count_include_pad and divisor_override."""
    return st.fixed_dictionaries(
        {
            "kernel_size": pair_or_int(1, 5),
            "stride": st.one_of(st.none(), pair_or_int(1, 3)),
            "padding": pair_or_int(0, 2),
            "ceil_mode": st.booleans(),
            "count_include_pad": st.booleans(),
            "divisor_override": st.one_of(st.none(), st.integers(1, 30)),
        }
    )


def conv_transpose_params():
    """Random transposed-conv parameters; output_padding below stride or dilation (as torch)."""

    @st.composite
    def draw(draw):
        stride = draw(pair_or_int(1, 3))
        dilation = draw(pair_or_int(1, 2))
        limit = max(max(pair(stride)), max(pair(dilation))) - 1
        return {
            "out_channels": draw(st.sampled_from([1, 2, 3, 4, 6])),
            "kernel_size": draw(pair_or_int(1, 4)),
            "stride": stride,
            "padding": draw(pair_or_int(0, 2)),
            "output_padding": draw(st.integers(0, limit)),
            "groups": draw(st.sampled_from([1, 1, 2, 3])),
            "bias": draw(st.booleans()),
            "dilation": dilation,
        }

    return draw()


def upsample_params():
    """Random upsampling: a scale factor (also below 1) or a size; nearest or bilinear."""
    return st.one_of(
        st.fixed_dictionaries(
            {
                "scale_factor": st.sampled_from([0.5, 1.0, 1.5, 2.0, 3.0, 2.5]),
                "mode": st.just("nearest"),
            }  # fmt: skip
        ),
        st.fixed_dictionaries(
            {
                "scale_factor": st.sampled_from([0.5, 2.0, 3.0]),
                "mode": st.just("bilinear"),
                "align_corners": st.booleans(),
            }  # fmt: skip
        ),
        st.fixed_dictionaries(
            {"size": pair_or_int(1, 20), "mode": st.sampled_from(["nearest", "bilinear"])}
        ),
    )


def slope():
    """A float parameter of an activation (slopes, alpha), negative ones included."""
    return st.one_of(st.sampled_from([0.01, 0.2, 1.0, -0.5]), st.floats(-3.0, 3.0))


PARAMS = {
    "conv": conv_params(),
    "conv1x1": conv1x1_params(),
    "maxpool": pool_params(),
    "avgpool": avgpool_params(),
    "global_avgpool": st.just({}),
    "relu": st.just({}),
    "flatten": st.just({}),
    "dropout": st.fixed_dictionaries({"p": st.floats(0.0, 1.0)}),
    "batchnorm": st.fixed_dictionaries(
        {
            "eps": st.sampled_from([1e-5, 1e-3]),
            "momentum": st.floats(0.0, 1.0),
            "affine": st.booleans(),
        }
    ),
    "linear": st.fixed_dictionaries({"out_features": st.integers(1, 9), "bias": st.booleans()}),
    "relu6": st.just({}),
    "hardswish": st.just({}),
    "hardsigmoid": st.one_of(
        st.just({}), st.fixed_dictionaries({"alpha": slope(), "beta": st.floats(-2.0, 2.0)})
    ),
    "gelu": st.fixed_dictionaries({"approximate": st.sampled_from(["none", "tanh"])}),
    "leaky_relu": st.fixed_dictionaries({"negative_slope": slope()}),
    "elu": st.fixed_dictionaries({"alpha": slope()}),
    "mish": st.just({}),
    "tanh": st.just({}),
    "softmax": st.just({}),
    "conv_transpose": conv_transpose_params(),
    "upsample": upsample_params(),
    "layernorm2d": st.fixed_dictionaries(
        {"eps": st.sampled_from([1e-5, 1e-6]), "elementwise_affine": st.booleans()}
    ),
    "channel_slice": st.integers(0, 6).flatmap(
        lambda a: st.fixed_dictionaries({"start": st.just(a), "stop": st.integers(a + 1, 8)})
    ),
    "channel_shuffle": st.fixed_dictionaries({"groups": st.integers(1, 4)}),
    "prelu": st.fixed_dictionaries(
        {"num_parameters": st.integers(1, 6), "init": st.floats(-1.0, 1.0)}
    ),
    "clamp": st.one_of(
        st.fixed_dictionaries({"min": st.floats(-2.0, 0.0), "max": st.floats(0.0, 3.0)}),
        st.fixed_dictionaries({"min": st.floats(-2.0, 2.0)}),
        st.fixed_dictionaries({"max": st.floats(-2.0, 2.0)}),
    ),
    "grn": st.fixed_dictionaries({"eps": st.sampled_from([1e-6, 1e-3])}),
    "scale_shift": st.fixed_dictionaries({"scale": slope(), "shift": slope()}),
    "pad": st.fixed_dictionaries(
        {
            "left": st.integers(0, 3),
            "right": st.integers(0, 3),
            "top": st.integers(0, 3),
            "bottom": st.integers(0, 3),
            "mode": st.sampled_from(["constant", "reflect", "replicate"]),
        }
    ),
    "silu": st.just({}),
    "sigmoid": st.just({}),
    "identity": st.just({}),
    "adaptive_avgpool": st.fixed_dictionaries({"output_size": pair_or_int(1, 8)}),
}


def assert_matches_oracle(model: GraphModel) -> None:
    """Every node: error exactly where torch fails; else equal shape, params and MACs."""
    a = analyze(model)
    oracle, _ = run_graph(model)
    for n, o in oracle.items():
        r = a[n]
        if o.waiting:
            assert r.shape is None and r.waiting_on is not None, (n, r.error)
        elif o.error is not None:
            assert r.error is not None, f"{n}: torch failed ({o.error}) but analysis gave {r.shape}"
        else:
            assert r.error is None and r.waiting_on is None, f"{n}: {r.error} but torch ran"
            assert r.shape == o.shape, n
            assert (r.weights, r.biases, r.other) == (o.weights, o.biases, o.other), n
            assert r.macs == o.macs, n
            assert r.activation_bytes == 4 * _numel(o.shape), n
    ok = [o for o in oracle.values() if o.shape is not None]
    assert a.totals.params == sum(o.params for o in ok)
    assert a.totals.macs == sum(o.macs for o in ok)


def _numel(shape: tuple) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def _torch_refuses(type_name: str, params: dict, cin: int) -> bool:
    """Whether torch refuses to build the layer (the model's only up-front refusal)."""
    import torch
    from torch import nn

    p = params
    if type_name == "conv_transpose":
        layer = nn.ConvTranspose2d(cin, p["out_channels"], p["kernel_size"],
                                   stride=p["stride"], output_padding=p["output_padding"],
                                   dilation=p["dilation"])  # fmt: skip
        try:
            layer(torch.zeros(1, cin, 4, 4))
        except RuntimeError:
            return True
        return False
    try:
        nn.Conv2d(
            cin,
            p["out_channels"],
            p["kernel_size"],
            stride=p["stride"],
            padding=p["padding"],
            dilation=p["dilation"],
            groups=1,
        )
    except ValueError:
        return True
    return False


def test_property_tests_cover_every_node_type():
    """PARAMS (single-input layers), the merges and the input make up every node type."""
    from engine.nodes import NODE_TYPES

    assert set(PARAMS) | {"input", "concat", "add", "mul"} == set(NODE_TYPES)


@pytest.mark.parametrize("type_name", sorted(PARAMS))  # every single-input type, each tested
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data(), cin=st.integers(1, 6), h=st.integers(1, 12), w=st.integers(1, 12))
def test_every_node_type_matches_torch(type_name, data, cin, h, w):
    """One node of every type, random params and input: analysis equals real torch layers."""
    params = data.draw(PARAMS[type_name], label="params")
    m = GraphModel()
    m.add_node("input", {"channels": cin, "height": h, "width": w}, "x")
    src = "x"
    if type_name == "linear" and data.draw(st.booleans(), label="flatten first"):
        src = m.add_node("flatten", {}, "flat")
        m.connect("x", src)
    try:
        m.add_node(type_name, params, "n")
    except ParamError:
        # The model refuses only what torch refuses too (padding "same" with stride > 1,
        # output_padding not below stride or dilation).
        assert type_name in ("conv", "conv_transpose")
        assert _torch_refuses(type_name, params, cin)
        return
    m.connect(src, "n")
    assert_matches_oracle(m)


@SETTINGS
@given(
    data=st.data(),
    cin=st.integers(1, 6),
    h=st.integers(1, 12),
    w=st.integers(1, 12),
    merge=st.sampled_from(["concat", "add", "mul"]),
)
def test_merges_match_torch(data, cin, h, w, merge):
    """Concat, add, mul of 2–3 random branches: errors and shapes as torch (add: no broadcast)."""
    m = GraphModel()
    m.add_node("input", {"channels": cin, "height": h, "width": w}, "x")
    branches = []
    for i in range(data.draw(st.integers(2, 3), label="branches")):
        kind = data.draw(
            st.sampled_from(["conv", "maxpool", "relu", "global_avgpool"]), label="kind"
        )
        try:
            b = m.add_node(kind, data.draw(PARAMS[kind], label="params"), f"b{i}")
        except ParamError:
            b = m.add_node("relu", {}, f"b{i}")
        m.connect("x", b)
        branches.append(b)
    m.add_node(merge, {}, "m")
    for b in branches:
        m.connect(b, "m")
    assert_matches_oracle(m)


# --------------------------------------------------------------------------- random graphs
SAME_SHAPE = [
    ("conv", {"out_channels": 4, "kernel_size": 3, "padding": "same"}),
    ("conv", {"out_channels": 4, "kernel_size": [2, 4], "padding": "same", "dilation": 2}),
    ("conv1x1", {"out_channels": 4}),
    ("conv1x1", {"out_channels": 4, "groups": 2}),
    ("relu", {}),
    ("batchnorm", {}),
    ("dropout", {}),
    ("silu", {}),
    ("hardswish", {}),
    ("identity", {}),
]


@st.composite
def random_graphs(draw, max_ops: int = 9) -> GraphModel:
    """A random DAG with branches and concat/add merges; ~half the layers keep the shape."""
    m = GraphModel()
    m.add_node(
        "input",
        {
            "channels": draw(st.sampled_from([2, 4])),
            "height": draw(st.integers(3, 14)),
            "width": draw(st.integers(3, 14)),
        },
        "x",
    )
    nodes = ["x"]
    for i in range(draw(st.integers(1, max_ops))):
        nid = f"n{i}"
        choice = draw(st.sampled_from(["same", "same", "random", "merge", "merge"]))
        if choice == "merge" and len(nodes) >= 2:
            srcs = draw(st.lists(st.sampled_from(nodes), min_size=2, max_size=3))
            m.add_node(draw(st.sampled_from(["concat", "add", "mul"])), {}, nid)
            for s in srcs:
                m.connect(s, nid)
        else:
            src = draw(st.sampled_from(nodes))
            if choice == "same":
                kind, params = draw(st.sampled_from(SAME_SHAPE))
            else:
                kind = draw(st.sampled_from(sorted(PARAMS)))
                params = draw(PARAMS[kind])
            try:
                m.add_node(kind, params, nid)
            except ParamError:
                continue
            m.connect(src, nid)
        nodes.append(nid)
    return m


@SETTINGS
@given(model=random_graphs())
def test_random_graphs_match_torch(model):
    """Random graphs with branches and merges: every node's shape, params, MACs as torch."""
    assert_matches_oracle(model)


@SETTINGS
@given(model=random_graphs())
def test_peak_memory_matches_simulation(model):
    """Peak activation memory equals a step-by-step simulation of a forward pass."""
    a = analyze(model)
    g = model.graph
    ok = [n for n in a.order if a[n].shape is not None]
    pos = {n: i for i, n in enumerate(a.order)}
    live: dict[str, int] = {}
    peak = 0
    for n in a.order:
        if a[n].shape is not None:
            live[n] = a[n].activation_bytes
            peak = max(peak, sum(live.values()))
        for u in list(live):
            outs = list(g.successors(u))
            if outs and max(pos[v] for v in outs) <= pos[n]:
                del live[u]
    assert a.totals.peak_activation_bytes == peak
    assert a.totals.activation_bytes == sum(a[n].activation_bytes for n in ok)
    # The totals gathered during the full pass equal those recomputed after an edit.
    assert _totals(a) == _totals_of(_MemoryProfile(a).totals(a.nodes))


# --------------------------------------------------------------------------- incremental
def _snapshot(a) -> dict:
    return {
        n: (
            r.shape,
            r.weights,
            r.biases,
            r.other,
            r.macs,
            r.activation_bytes,
            r.rf,
            r.error,
            r.waiting_on,
            r.depth,
        )
        for n, r in a.nodes.items()
    }


def _totals(a) -> tuple:
    return _totals_of(a.totals)


def _totals_of(t) -> tuple:
    return (
        t.params,
        t.weights,
        t.biases,
        t.other,
        t.macs,
        t.activation_bytes,
        t.peak_activation_bytes,
        t.output_rf,
        t.output,
    )


EDITS = ["param", "param", "param", "add", "connect", "disconnect", "remove", "restore"]


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(model=random_graphs(max_ops=7), data=st.data())
def test_incremental_equals_fresh_analysis(model, data):
    """After every edit of a random sequence, the Analyzer's result equals a fresh analyze()."""
    analyzer = Analyzer(model)
    removed: list[dict] = []
    for step in range(12):
        edit = data.draw(st.sampled_from(EDITS), label=f"edit {step}")
        nodes = model.nodes
        try:
            if edit == "param":
                n = data.draw(st.sampled_from(nodes))
                t = model.node_type(n)
                if t == "input":
                    model.set_params(
                        n,
                        {
                            "channels": data.draw(st.sampled_from([2, 4])),
                            "height": data.draw(st.integers(2, 12)),
                        },
                    )
                elif t in PARAMS and t not in ("relu", "flatten", "global_avgpool"):
                    model.set_params(n, data.draw(PARAMS[t]))
            elif edit == "add":
                kind, params = data.draw(
                    st.sampled_from(SAME_SHAPE + [("concat", {}), ("add", {})])
                )
                model.add_node(kind, params)
            elif edit == "connect":
                model.connect(data.draw(st.sampled_from(nodes)), data.draw(st.sampled_from(nodes)))
            elif edit == "disconnect":
                edges = model.edges()
                if edges:
                    _, dst, port = data.draw(st.sampled_from(edges))
                    model.disconnect(dst, port)
            elif edit == "remove" and len(nodes) > 1:
                removed.append(model.remove_node(data.draw(st.sampled_from(nodes))))
            elif edit == "restore" and removed:
                model.restore_node(removed.pop())
        except EngineError:
            pass  # refused edits (cycles, taken ports, bad params) change nothing
        fresh = analyze(model.copy())
        assert _snapshot(analyzer.analysis) == _snapshot(fresh), f"after {edit}"
        assert analyzer.analysis.order == fresh.order
        assert _totals(analyzer.analysis) == _totals(fresh)
    assert nx.is_directed_acyclic_graph(model.graph)


# --------------------------------------------------------------------------- cycles
@SETTINGS
@given(model=random_graphs(max_ops=7), data=st.data())
def test_cycles_from_files_mark_exactly_the_cycle_nodes(model, data):
    """Back edges from a file: exactly the cycle nodes get the cycle error, descendants wait."""
    g = model.graph
    nodes = [n for n in model.nodes if model.node_type(n) != "input"]
    if not nodes:
        return
    for _ in range(data.draw(st.integers(1, 3), label="back edges")):
        src, dst = data.draw(st.sampled_from(model.nodes)), data.draw(st.sampled_from(nodes))
        if NODE_TYPES[model.node_type(dst)].max_inputs is None:  # merges: concat, add, mul
            port = model.free_port(dst)
        else:
            port = 0
            for u in model.inputs(dst):  # a single input is replaced by the back edge
                g.remove_edge(u, dst, key=0)
        g.add_edge(src, dst, key=port)
    a = analyze(model)
    on_cycle = {
        n for comp in nx.strongly_connected_components(g) if len(comp) > 1 for n in comp
    } | {n for n in g if g.has_edge(n, n)}
    below = set().union(*(nx.descendants(g, n) for n in on_cycle)) - on_cycle
    for n in model.nodes:
        if n in on_cycle:
            assert a[n].error.endswith("is part of a cycle; remove one of its edges"), n
        elif n in below:
            assert a[n].shape is None, n
    assert sorted(a.order) == sorted(model.nodes)
    # The rest is as if the nodes on cycles and below them were not there.
    rest = model.copy()
    for n in on_cycle | below:
        rest.graph.remove_node(n)
    clean = _snapshot(analyze(rest))
    got = _snapshot(a)
    for n in rest.nodes:
        assert got[n] == clean[n], n
    analyzer = Analyzer(model)
    for _ in range(3):
        edges = model.edges()
        if not edges:
            break
        _, dst, port = data.draw(st.sampled_from(edges), label="removed edge")
        model.disconnect(dst, port)
        assert _snapshot(analyzer.analysis) == _snapshot(analyze(model.copy()))
        assert _totals(analyzer.analysis) == _totals(analyze(model.copy()))
