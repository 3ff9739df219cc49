"""engine.runtime.build: the live torch model of a graph (parameters, shapes, capture, seeds)."""

from __future__ import annotations

import re
import warnings

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from random_graphs import graphs
from small_graphs import SMALL_SIDE, conv_chain, input_of, small_template
from torch import nn

from engine import GraphModel, analyze
from engine.codegen.emit import InvalidGraphError, make_plan, render
from engine.codegen.targets import module_targets
from engine.runtime.build import build_module
from engine.templates import TEMPLATES, build, deep_resnet, resnet50

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("key", list(TEMPLATES))
def test_template_param_count_equals_analysis(key):
    """Every template's torch parameter count is the analysis total, exactly."""
    g = build(key) if key not in SMALL_SIDE else small_template(key)
    assert count(build_module(g)) == analyze(g).totals.params


@pytest.mark.parametrize("key", list(TEMPLATES))
def test_template_node_shapes_equal_analysis(key):
    """Every node's captured output has the analysis shape (templates at reduced size)."""
    g = small_template(key)
    a = analyze(g)
    out = build_module(g, capture=True)(torch.randn(1, *a.nodes[input_of(g)].shape))
    assert list(out) == a.order
    assert {n: tuple(t.shape[1:]) for n, t in out.items()} == {n: a.nodes[n].shape for n in a.order}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs())
def test_random_graph_params_and_shapes_equal_analysis(g):
    """Random valid graphs: parameter count and every node's shape agree with the analysis."""
    a = analyze(g)
    m = build_module(g, capture=True)
    assert count(m) == a.totals.params
    out = m(torch.randn(2, *a.nodes["input"].shape))
    assert {n: tuple(t.shape) for n, t in out.items()} == {
        n: (2,) + a.nodes[n].shape for n in a.order
    }


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs())
def test_random_graph_capture_agrees_with_plain_forward(g):
    """Random graphs: the captured sink outputs equal the plain forward's outputs exactly."""
    x = torch.randn(1, *analyze(g).nodes["input"].shape)
    plan = make_plan(g)
    with torch.inference_mode():
        out = build_module(g, seed=2, capture=True)(x)
        y = build_module(g, seed=2)(x)
    y = y if isinstance(y, tuple) else (y,)
    assert len(y) == len(plan.sinks)
    assert all(torch.equal(out[n], t) for n, t in zip(plan.sinks, y))


def test_deep_resnet_params_and_shapes_equal_analysis():
    """The 100-block deep ResNet (501 nodes, 8 px): parameters and every node's shape agree."""
    g = deep_resnet(100, 8, 8)
    a = analyze(g)
    m = build_module(g, capture=True)
    assert count(m) == a.totals.params == 100 * 2 * (8 * 8 * 9 + 8)
    out = m(torch.randn(1, 8, 8, 8))
    assert len(out) == 501
    assert all(tuple(out[n].shape[1:]) == a.nodes[n].shape for n in a.order)


def test_resnet50_full_size_forward():
    """ResNet-50 at 3×224×224: 25,557,032 parameters and a 1×1000 output."""
    m = build_module(resnet50())
    assert count(m) == 25_557_032
    with torch.inference_mode():
        assert m(torch.randn(1, 3, 224, 224)).shape == (1, 1000)


def test_submodules_sit_at_their_targets():
    """Every layer node's module is at its target (engine.codegen.targets), nested."""
    g = small_template("resnet18")
    m = build_module(g)
    assert {"conv1", "layer1"} <= set(dict(m.named_children()))
    targets = module_targets(g)
    for n, t in targets.items():
        assert m.get_submodule(t) is not None, n
    assert {k.rsplit(".", 1)[0] for k in m.state_dict()} <= set(targets.values())
    assert "layer1.0.conv1.weight" in m.state_dict()


def test_same_seed_same_weights_other_seed_other_weights():
    """Initialisation is a function of the seed."""
    sd = [build_module(conv_chain(), seed=s).state_dict() for s in (3, 3, 4)]
    assert all(torch.equal(sd[0][k], sd[1][k]) for k in sd[0])
    assert not torch.equal(sd[0]["c.weight"], sd[2]["c.weight"])


def test_build_leaves_global_rng_alone():
    """Building does not reseed torch's global generator."""
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    build_module(conv_chain(), seed=7)
    assert torch.equal(torch.rand(3), expected)


def test_module_is_in_eval_mode():
    """The built module is returned in eval mode (BatchNorm uses running stats)."""
    m = build_module(conv_chain())
    assert not m.training and not m.bn.training


def test_several_sinks_give_a_tuple_in_topological_order():
    """With two sinks forward returns both outputs, in topological order."""
    g = GraphModel("two heads")
    g.add_node("input", {"channels": 2, "height": 6, "width": 6}, "x")
    g.add_node("relu", {}, "r")
    g.add_node("maxpool", {"kernel_size": 2}, "p")
    g.connect("x", "r")
    g.connect("x", "p")
    out = build_module(g)(torch.randn(1, 2, 6, 6))
    assert isinstance(out, tuple) and [t.shape for t in out] == [(1, 2, 6, 6), (1, 2, 3, 3)]


def test_capture_holds_every_node_and_matches_plain_forward():
    """Capture mode returns each node's output (input included, same object) and the same result."""
    g = small_template("inception3a_reduced")
    x = torch.randn(1, *analyze(g).nodes[input_of(g)].shape)
    plain = build_module(g, seed=1)
    cap = build_module(g, seed=1, capture=True)
    with torch.inference_mode():
        out = cap(x)
        y = plain(x)
    assert set(out) == set(g.nodes)
    assert out[input_of(g)] is x
    assert torch.equal(out[analyze(g).totals.output], y)


def test_concat_is_in_port_order():
    """Concat stacks its inputs by port, not by insertion order."""
    g = GraphModel("cat")
    g.add_node("input", {"channels": 1, "height": 4, "width": 4}, "x")
    g.add_node("maxpool", {"kernel_size": 1}, "a")
    g.add_node("relu", {}, "b")
    g.add_node("concat", {}, "cat")
    g.connect("x", "a")
    g.connect("x", "b")
    g.connect("b", "cat", 0)
    g.connect("a", "cat", 5)
    x = -torch.ones(1, 1, 4, 4)
    out = build_module(g)(x)
    assert torch.equal(out[:, 0], torch.zeros(1, 4, 4)) and torch.equal(out[:, 1], x[:, 0])


def test_uneven_same_padding_matches_torch_same():
    """An even kernel with padding "same" gives torch's own "same" result, without a warning."""
    g = GraphModel("same")
    g.add_node("input", {"channels": 2, "height": 7, "width": 6}, "x")
    g.add_node("conv", {"out_channels": 3, "kernel_size": [2, 4], "padding": "same"}, "c")
    g.connect("x", "c")
    m = build_module(g)
    ref = nn.Conv2d(2, 3, (2, 4), padding="same")
    ref.load_state_dict(m.c.state_dict())
    x = torch.randn(1, 2, 7, 6)
    with warnings.catch_warnings():
        # torch warns (once per process, from C++) that even kernels pad unevenly.
        warnings.simplefilter("ignore", UserWarning)
        expected = ref(x)
    assert torch.allclose(m(x), expected, atol=1e-6, rtol=0)


def test_out_of_place_code():
    """No in-place ops: no inplace=True module and no augmented assignment in forward."""
    g = small_template("resnet50")
    src = render(make_plan(g))
    assert "+=" not in src and "inplace" not in src
    assert not re.search(r"\.[a-z0-9]\w*[a-z0-9]_\(", src)  # no x.relu_(), x.add_() …
    assert not any(getattr(mod, "inplace", False) for mod in build_module(g).modules())


def test_captured_maps_survive_later_nodes():
    """c → relu, dropout, add(c, relu): captured maps are not overwritten in place."""
    g = GraphModel("inplace")
    g.add_node("input", {"channels": 2, "height": 6, "width": 6}, "x")
    g.add_node("conv", {"out_channels": 3, "kernel_size": 3, "padding": 1}, "c")
    g.add_node("relu", {}, "r")
    g.add_node("dropout", {}, "d")
    g.add_node("add", {}, "s")
    for a, b in (("x", "c"), ("c", "r"), ("r", "d"), ("c", "s"), ("d", "s")):
        g.connect(a, b)
    m = build_module(g, capture=True)
    x = torch.randn(1, 2, 6, 6, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        out = m(x)
        conv = torch.nn.functional.conv2d(x, m.c.weight, m.c.bias, padding=1)
    assert torch.equal(out["c"], conv) and bool((out["c"] < 0).any())
    assert torch.equal(out["r"], conv.clamp(min=0)) and torch.equal(out["d"], out["r"])
    assert torch.equal(out["s"], conv + conv.clamp(min=0))


def test_invalid_graph_refused_listing_every_error():
    """A graph with analysis errors is refused, each error in the message and on .errors."""
    g = conv_chain()
    g.add_node("conv", {"out_channels": 2, "kernel_size": 3}, "orphan")
    g.set_param("c", "kernel_size", 20)
    with pytest.raises(InvalidGraphError) as info:
        build_module(g)
    assert sorted(n for n, _ in info.value.errors) == ["c", "orphan"]
    assert "conv 'c' kernel 20 is larger" in str(info.value)
    assert "conv 'orphan' has no input" in str(info.value)


def test_empty_graph_refused():
    """An empty graph is refused with a message."""
    with pytest.raises(InvalidGraphError, match="no nodes"):
        build_module(GraphModel())


def test_accepts_the_networkx_graph():
    """build_module takes the GraphModel's networkx graph as well."""
    g = conv_chain()
    assert count(build_module(g.graph)) == analyze(g).totals.params
