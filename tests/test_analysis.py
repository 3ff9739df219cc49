"""Analysis: exact per-node numbers, totals, templates against torch, incremental updates."""

from __future__ import annotations

import pytest
from helpers_torch import run_graph

from engine import Analyzer, GraphModel, analyze
from engine.templates import deep_resnet, googlenet, resnet18, resnet50, vgg16


def small_net() -> GraphModel:
    """3×32×32 → 3×3 conv 16 (pad 1) → BN → ReLU → 2×2 max pool → flatten → linear 10."""
    m = GraphModel()
    m.add_node("input", {"channels": 3, "height": 32, "width": 32}, "x")
    m.add_node("conv", {"out_channels": 16, "kernel_size": 3, "padding": 1}, "conv")
    m.add_node("batchnorm", {}, "bn")
    m.add_node("relu", {}, "relu")
    m.add_node("maxpool", {"kernel_size": 2}, "pool")
    m.add_node("flatten", {}, "flat")
    m.add_node("linear", {"out_features": 10}, "fc")
    for src, dst in zip(m.nodes, m.nodes[1:]):
        m.connect(src, dst)
    return m


def test_conv_numbers():
    """3×3 conv 3→16 on 32×32: 432 weights, 16 biases, 442,368 MACs, 64 KiB out."""
    r = analyze(small_net())["conv"]
    assert r.shape == (16, 32, 32)
    assert (r.weights, r.biases, r.other, r.params) == (432, 16, 0, 448)
    assert r.macs == 432 * 32 * 32
    assert r.activation_bytes == 16 * 32 * 32 * 4


def test_batchnorm_counts_weight_and_bias_as_other():
    """BatchNorm2d(16) has 32 learnable parameters (running stats are buffers)."""
    r = analyze(small_net())["bn"]
    assert (r.weights, r.biases, r.other, r.macs) == (0, 0, 32, 0)


def test_flatten_and_linear_numbers():
    """Flatten gives 4096 features; linear 4096→10 has 40,960 + 10 params, 40,960 MACs."""
    a = analyze(small_net())
    assert a["flat"].shape == (4096,)
    assert a["fc"].shape == (10,)
    assert (a["fc"].weights, a["fc"].biases, a["fc"].macs) == (40960, 10, 40960)


def test_totals_of_small_net():
    """Totals add up every node: 41,450 params, 483,328 MACs."""
    t = analyze(small_net()).totals
    assert (t.weights, t.biases, t.other, t.params) == (432 + 40960, 26, 32, 41450)
    assert t.macs == 442368 + 40960
    assert t.output == "fc"
    # x, conv/bn/relu (16×32×32 each), pool (16×16×16), flatten (4096), fc (10).
    assert t.activation_bytes == 4 * (3 * 1024 + 3 * 16 * 1024 + 16 * 256 + 4096 + 10)


def branch_net() -> GraphModel:
    """x (3×8×8) → two 1×1 convs ``a`` and ``b`` (8 channels each) → concat ``cat``."""
    m = GraphModel()
    m.add_node("input", {"channels": 3, "height": 8, "width": 8}, "x")
    m.add_node("conv1x1", {"out_channels": 8}, "a")
    m.add_node("conv1x1", {"out_channels": 8}, "b")
    m.add_node("concat", {}, "cat")
    for src, dst in (("x", "a"), ("x", "b"), ("a", "cat"), ("b", "cat")):
        m.connect(src, dst)
    return m


def test_peak_memory_holds_branch_inputs_until_the_merge():
    """x → two 1×1 convs → concat: the peak (8 KiB) is when concat's output joins both inputs."""
    m = branch_net()
    t = analyze(m).totals
    # x 768 B + a 2048 + b 2048 → x freed (4096 live) → cat 4096 joins a and b: 8192.
    assert t.peak_activation_bytes == 8192
    assert t.activation_bytes == 768 + 2048 + 2048 + 4096


def test_peak_memory_follows_parameter_edits():
    """After edits, the incrementally kept peak and sums equal the hand count and analyze()."""
    m = branch_net()
    an = Analyzer(m)
    m.set_param("a", "out_channels", 4)
    # a 1024 + b 2048 (x freed) → cat 3072 joins them: 6144 (full pass, keeps the profile).
    assert an.analysis.totals.peak_activation_bytes == 6144
    m.set_param("b", "out_channels", 2)  # now with the kept memory profile
    # x 768 + a 1024 + b 512 = 2304 → x freed → cat 1536 joins a and b: 3072.
    t = an.analysis.totals
    assert (t.peak_activation_bytes, t.activation_bytes) == (3072, 768 + 1024 + 512 + 1536)
    fresh = analyze(m.copy()).totals
    assert (t.params, t.macs, t.output, t.output_rf) == (
        fresh.params,
        fresh.macs,
        "cat",
        fresh.output_rf,
    )


def test_analyze_accepts_a_networkx_graph():
    """analyze() takes the model or its MultiDiGraph and gives the same result."""
    m = small_net()
    assert analyze(m.graph).totals.to_dict() == analyze(m).totals.to_dict()


def test_to_dict_row():
    """The JSON row of a node lists shape, params, MACs, bytes and the receptive field."""
    row = analyze(small_net()).to_dict()["nodes"][1]
    assert row == {
        "id": "conv",
        "type": "conv",
        "shape": [16, 32, 32],
        "params": 448,
        "weights": 432,
        "biases": 16,
        "macs": 442368,
        "activation_bytes": 65536,
        "rf": {"size": [3, 3], "jump": [1, 1], "start": [-1, -1]},
        "error": None,
    }


# --------------------------------------------------------------------------- templates
@pytest.mark.parametrize(
    "build, params, macs",
    [
        (resnet50, 25_557_032, 4_089_184_256),
        (resnet18, 11_689_512, 1_814_073_344),
        (vgg16, 138_357_544, 15_470_264_320),
        (googlenet, 6_624_904, 1_498_376_192),
    ],
)
def test_template_totals_match_published_counts(build, params, macs):
    """ResNet-50/18, VGG-16, GoogLeNet: torchvision's parameter counts, MACs at 224×224."""
    a = analyze(build())
    assert a.ok
    assert a.totals.params == params
    assert a.totals.macs == macs
    assert a[a.totals.output].shape == (1000,)


@pytest.mark.parametrize("build", [resnet50, resnet18, googlenet, vgg16])
def test_template_matches_torch_node_by_node(build):
    """Every node of the template at 64×64 has torch's shape, parameters and MACs."""
    m = build()
    m.set_params("input", {"height": 64, "width": 64})
    a = analyze(m)
    oracle, _ = run_graph(m)
    for n, o in oracle.items():
        assert o.error is None, (n, o.error)
        assert a[n].shape == o.shape, n
        assert (a[n].weights, a[n].biases, a[n].other, a[n].macs) == (
            o.weights,
            o.biases,
            o.other,
            o.macs,
        ), n


# --------------------------------------------------------------------------- incremental
def chain() -> tuple[GraphModel, Analyzer]:
    """x → c1 (3×3 conv 8, pad 1) → r1 → c2 (3×3 conv 8, pad 1) → r2 → gap, with an Analyzer."""
    m = GraphModel()
    m.add_node("input", {"channels": 3, "height": 16, "width": 16}, "x")
    m.add_node("conv", {"out_channels": 8, "kernel_size": 3, "padding": 1}, "c1")
    m.add_node("relu", {}, "r1")
    m.add_node("conv", {"out_channels": 8, "kernel_size": 3, "padding": 1}, "c2")
    m.add_node("relu", {}, "r2")
    m.add_node("global_avgpool", {}, "gap")
    for src, dst in zip(m.nodes, m.nodes[1:]):
        m.connect(src, dst)
    return m, Analyzer(m)


def test_channel_edit_stops_after_the_next_conv():
    """c1 out_channels 8 → 16 recomputes c1, r1 and c2 (same output shape): 3 nodes."""
    m, an = chain()
    seen = []
    an.subscribe(lambda a, changed: seen.append(changed))
    m.set_param("c1", "out_channels", 16)
    assert an.analysis.recomputed == 3
    assert seen == [{"c1", "r1", "c2"}]
    assert an.analysis["c2"].weights == 8 * 16 * 9
    assert an.analysis.totals.params == analyze(m.copy()).totals.params


def test_edit_that_keeps_the_output_recomputes_one_node():
    """Turning off c1's bias recomputes c1 only, and the totals follow."""
    m, an = chain()
    before = an.analysis.totals.params
    m.set_param("c1", "bias", False)
    assert an.analysis.recomputed == 1
    assert an.analysis.totals.params == before - 8


def test_size_edit_reaches_the_end():
    """c1 kernel 5 with padding 1 shrinks H×W: all 5 nodes after x are recomputed."""
    m, an = chain()
    m.set_param("c1", "kernel_size", 5)
    assert an.analysis.recomputed == 5
    assert an.analysis["r2"].shape == (8, 14, 14)


def test_input_edit_recomputes_everything():
    """Changing the input size recomputes all 6 nodes."""
    m, an = chain()
    m.set_param("x", "height", 20)
    assert an.analysis.recomputed == 6
    assert an.analysis["gap"].rf[0] == (20 + 4, 20, -2)


def test_adding_an_unconnected_node_recomputes_it_only():
    """A new node computes itself; connecting it computes it again."""
    m, an = chain()
    m.add_node("relu", {}, "extra")
    assert an.analysis.recomputed == 1
    assert an.analysis["extra"].error == "relu 'extra' has no input; connect a node to it"
    m.connect("r2", "extra")
    assert an.analysis.recomputed == 1
    assert an.analysis["extra"].shape == (8, 16, 16)


def test_moving_a_node_recomputes_nothing():
    """A position change does not notify the analysis listeners."""
    m, an = chain()
    seen = []
    an.subscribe(lambda a, changed: seen.append(changed))
    m.set_pos("c1", (10, 10))
    assert seen == []


def test_fixing_a_broken_node_releases_its_descendants():
    """A too-large kernel makes r1…gap wait; fixing it recomputes them and clears waiting."""
    m, an = chain()
    m.set_param("c1", "kernel_size", 19)
    assert an.analysis["gap"].waiting_on == "c1"
    m.set_param("c1", "kernel_size", 3)
    assert an.analysis.recomputed == 5
    assert an.analysis.ok and an.analysis["gap"].shape == (8, 1, 1)


def test_removing_a_node_makes_its_consumer_wait_for_input():
    """Removing c2 leaves r2 without input; restoring it brings the chain back."""
    m, an = chain()
    record = m.remove_node("c2")
    assert an.analysis["r2"].error == "relu 'r2' has no input; connect a node to it"
    assert "c2" not in an.analysis.nodes
    m.restore_node(record)
    assert an.analysis.ok and an.analysis["gap"].shape == (8, 1, 1)


def test_channel_edit_in_a_2001_node_graph_recomputes_three():
    """In deep_resnet(400) a block conv1 channel edit recomputes conv1, relu1, conv2 only."""
    m = deep_resnet(400)
    an = Analyzer(m)
    m.set_param("block200_conv1", "out_channels", 24)
    assert an.analysis.recomputed == 3
    fresh = analyze(m.copy())
    assert an.analysis.totals.to_dict() == fresh.totals.to_dict()


def test_graph_reset_recomputes_everything():
    """Replacing the model's content (open a file) rebuilds the whole analysis."""
    m, an = chain()
    m.replace(small_net())
    assert an.analysis.recomputed == 7
    assert an.analysis.totals.params == 41450


def test_depth_is_the_longest_path_from_the_input():
    """Depth counts nodes on the longest path: a merge takes its deepest input + 1."""
    m = GraphModel()
    m.add_node("input", {"channels": 2, "height": 4, "width": 4}, "x")
    m.add_node("relu", {}, "a")
    m.add_node("relu", {}, "b")
    m.add_node("concat", {}, "cat")
    for src, dst in (("x", "a"), ("a", "b"), ("x", "cat"), ("b", "cat")):
        m.connect(src, dst)
    a = analyze(m)
    assert [a[n].depth for n in ("x", "a", "b", "cat")] == [0, 1, 2, 3]


def test_breaking_a_loaded_cycle_updates_like_a_fresh_analysis():
    """A cycle from a file, then its closing edge removed: the Analyzer equals analyze()."""
    from engine.core import fileformat

    m = fileformat.from_dict(
        {
            "format": "convcanvas.graph",
            "version": 1,
            "nodes": [
                {"id": "x", "type": "input", "params": {"height": 8, "width": 8}},
                {"id": "after", "type": "relu"},
                {"id": "s", "type": "add"},
                {"id": "r", "type": "relu"},
            ],
            "edges": [
                {"src": "x", "dst": "s", "port": 0},
                {"src": "r", "dst": "s", "port": 1},
                {"src": "s", "dst": "r"},
                {"src": "r", "dst": "after"},
            ],
        }
    )
    an = Analyzer(m)
    assert an.analysis["after"].waiting_on == "r"
    m.disconnect("s", 1)
    fresh = analyze(m.copy())
    for n in m.nodes:
        assert (an.analysis[n].shape, an.analysis[n].error, an.analysis[n].waiting_on) == (
            fresh[n].shape,
            fresh[n].error,
            fresh[n].waiting_on,
        ), n
    assert an.analysis["s"].error == "add 's' needs at least 2 inputs, has 1; connect another"
    m.connect("x", "s")
    assert an.analysis.ok and an.analysis["after"].shape == (3, 8, 8)


def test_node_leaving_a_cycle_is_recomputed():
    """Cutting n1 → n5 (one of two loops) leaves n1 below the other cycle, waiting on n0."""
    from engine.core import fileformat

    m = fileformat.from_dict(
        {
            "format": "convcanvas.graph",
            "version": 1,
            "nodes": [
                {"id": "x", "type": "input", "params": {"height": 8, "width": 8}},
                {"id": "n0", "type": "relu"},
                {"id": "n1", "type": "concat"},
                {"id": "n5", "type": "concat"},
            ],
            "edges": [
                {"src": "x", "dst": "n1", "port": 0},
                {"src": "n0", "dst": "n1", "port": 1},
                {"src": "n0", "dst": "n5", "port": 0},
                {"src": "n1", "dst": "n5", "port": 1},
                {"src": "n5", "dst": "n0", "port": 0},
            ],
        }
    )
    an = Analyzer(m)
    assert an.analysis["n1"].error == "concat 'n1' is part of a cycle; remove one of its edges"
    m.disconnect("n5", 1)
    assert an.analysis["n1"].error is None
    assert an.analysis["n1"].waiting_on == "n0"


def test_rename_updates_like_a_fresh_analysis():
    """After renaming a branch node the Analyzer's results equal analyze() on a copy."""
    m = branch_net()
    m.add_node("relu", {}, "orphan")  # an error naming its own id
    an = Analyzer(m)
    seen = []
    an.subscribe(lambda a, changed: seen.append(set(changed)))
    m.rename_node("a", "reduce_1x1")
    m.rename_node("orphan", "lonely")
    fresh = analyze(m.copy())
    slots = type(fresh["x"]).__slots__
    assert an.analysis.order == fresh.order
    assert {n: tuple(getattr(r, s) for s in slots) for n, r in an.analysis.nodes.items()} == {
        n: tuple(getattr(r, s) for s in slots) for n, r in fresh.nodes.items()
    }
    assert an.analysis.to_dict() == fresh.to_dict()
    assert "a" not in an.analysis.nodes and "a" in seen[0]
    assert an.analysis["lonely"].error == "relu 'lonely' has no input; connect a node to it"
