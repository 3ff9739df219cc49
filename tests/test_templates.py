"""Templates: the lesson's acceptance numbers, torchvision parameter counts, ids and shapes."""

from __future__ import annotations

import math
from pathlib import Path

import networkx as nx
import pytest

from engine import analyze
from engine.core.fileformat import load, loads, save, to_dict
from engine.nodes import NODE_TYPES
from engine.templates import (
    DEFAULT_TEMPLATE,
    TEMPLATES,
    build,
    deep_resnet,
    googlenet,
    inception3a_googlenet,
    inception3a_naive,
    inception3a_reduced,
    resnet18,
    resnet50,
    resnet_basic_64,
    resnet_basic_256,
    resnet_bottleneck,
    vgg16,
)

FORMAT_DOC = Path(__file__).resolve().parent.parent / "docs" / "format.md"

TEACHING_WEIGHTS = [
    (inception3a_naive, 387_072),
    (inception3a_reduced, 157_184),
    (inception3a_googlenet, 163_328),
    (resnet_basic_64, 73_728),
    (resnet_basic_256, 1_179_648),
    (resnet_bottleneck, 69_632),
]

NETWORK_PARAMS = [
    (googlenet, 6_624_904),
    (resnet18, 11_689_512),
    (resnet50, 25_557_032),
    (vgg16, 138_357_544),
]


@pytest.fixture(scope="module")
def built():
    """Each full network built once for the module."""
    return {f.__name__: f() for f, _ in NETWORK_PARAMS}


@pytest.mark.parametrize(
    "builder,weights", TEACHING_WEIGHTS, ids=lambda v: getattr(v, "__name__", v)
)
def test_teaching_block_weights(builder, weights):
    """Teaching blocks without bias have exactly the lesson's weight count and no other params."""
    t = analyze(builder()).totals
    assert (t.weights, t.biases, t.params) == (weights, 0, weights)


@pytest.mark.parametrize(
    "builder,biases",
    [
        (inception3a_naive, 64 + 128 + 32),
        (inception3a_reduced, 64 + 96 + 128 + 16 + 32),
        (inception3a_googlenet, 64 + 96 + 128 + 16 + 32 + 32),
        (resnet_basic_64, 128),
        (resnet_bottleneck, 64 + 64 + 256),
    ],
    ids=lambda v: getattr(v, "__name__", str(v)),
)
def test_teaching_block_bias_flag(builder, biases):
    """bias=True adds one bias per output channel of every conv."""
    assert analyze(builder(bias=True)).totals.biases == biases


@pytest.mark.parametrize(
    "builder,shape",
    [
        (inception3a_naive, (416, 28, 28)),
        (inception3a_reduced, (416, 28, 28)),
        (inception3a_googlenet, (256, 28, 28)),
        (resnet_basic_64, (64, 56, 56)),
        (resnet_basic_256, (256, 56, 56)),
        (resnet_bottleneck, (256, 56, 56)),
    ],
    ids=lambda v: getattr(v, "__name__", str(v)),
)
def test_teaching_block_output_shape(builder, shape):
    """Each teaching block ends in one output node of the expected shape."""
    a = analyze(builder())
    assert a.errors == []
    assert a.nodes[a.totals.output].shape == shape


def test_inception_reduced_branches():
    """The reduced 3a block has its reductions and concatenates 64+128+32+192 channels in order."""
    m = inception3a_reduced()
    a = analyze(m)
    assert a.nodes["branch2_reduce"].shape == (96, 28, 28)
    assert a.nodes["branch3_reduce"].shape == (16, 28, 28)
    assert [a.nodes[n].shape[0] for n in m.inputs("concat")] == [64, 128, 32, 192]


def test_resnet_blocks_add_identity():
    """Residual teaching blocks add the block input (the input node) as their second operand."""
    for builder in (resnet_basic_64, resnet_bottleneck):
        m = builder()
        assert m.inputs("add")[1] == "input"
        assert m.node_type(next(iter(m.graph.successors("add")))) == "relu"


@pytest.mark.parametrize("builder,params", NETWORK_PARAMS, ids=lambda v: getattr(v, "__name__", v))
def test_network_param_count(built, builder, params):
    """Full networks have torchvision's parameter counts and no errors."""
    a = analyze(built[builder.__name__])
    assert a.errors == []
    assert a.totals.params == params


@pytest.mark.parametrize(
    "net,node,shape",
    [
        ("googlenet", "maxpool1", (64, 56, 56)),
        ("googlenet", "inception3a_concat", (256, 28, 28)),
        ("googlenet", "inception4e_concat", (832, 14, 14)),
        ("googlenet", "maxpool4", (832, 7, 7)),
        ("googlenet", "inception5b_concat", (1024, 7, 7)),
        ("googlenet", "fc", (1000,)),
        ("resnet18", "layer1_0_relu_1", (64, 56, 56)),
        ("resnet18", "layer4_1_relu_1", (512, 7, 7)),
        ("resnet18", "fc", (1000,)),
        ("resnet50", "layer1_0_downsample_1", (256, 56, 56)),
        ("resnet50", "layer4_2_relu_2", (2048, 7, 7)),
        ("resnet50", "flatten", (2048,)),
        ("resnet50", "fc", (1000,)),
        ("vgg16", "features_30", (512, 7, 7)),
        ("vgg16", "flatten", (25088,)),
        ("vgg16", "classifier_6", (1000,)),
    ],
)
def test_network_node_shapes(built, net, node, shape):
    """Key nodes of the full networks have torchvision's shapes."""
    assert analyze(built[net]).nodes[node].shape == shape


@pytest.mark.parametrize(
    "net,node,type_name",
    [
        ("resnet18", "conv1", "conv"),
        ("resnet18", "bn1", "batchnorm"),
        ("resnet18", "relu", "relu"),
        ("resnet18", "maxpool", "maxpool"),
        ("resnet18", "layer1_0_bn1", "batchnorm"),
        ("resnet18", "layer2_0_downsample_0", "conv1x1"),
        ("resnet18", "layer1_0_add", "add"),
        ("resnet50", "layer1_0_downsample_0", "conv1x1"),
        ("resnet50", "layer3_5_conv3", "conv1x1"),
        ("resnet50", "layer1_0_relu_2", "relu"),
        ("resnet50", "avgpool", "global_avgpool"),
        ("googlenet", "conv1_conv", "conv"),
        ("googlenet", "conv1_bn", "batchnorm"),
        ("googlenet", "conv2_conv", "conv1x1"),
        ("googlenet", "inception3a_branch2_1_conv", "conv"),
        ("googlenet", "inception3a_branch4_0", "maxpool"),
        ("googlenet", "dropout", "dropout"),
        ("vgg16", "features_0", "conv"),
        ("vgg16", "features_4", "maxpool"),
        ("vgg16", "classifier_0", "linear"),
        ("vgg16", "classifier_2", "dropout"),
    ],
)
def test_network_ids_follow_torchvision(built, net, node, type_name):
    """Node ids are torchvision module paths with '.' → '_', of the matching type."""
    assert built[net].node_type(node) == type_name


def test_resnet18_first_block_has_no_downsample(built):
    """ResNet-18's layer1 blocks keep 64 channels, so they have no downsample branch."""
    assert "layer1_0_downsample_0" not in built["resnet18"]
    assert built["resnet18"].inputs("layer1_0_add") == ["layer1_0_bn2", "maxpool"]


def test_googlenet_details(built):
    """GoogLeNet uses BN eps 0.001, ceil_mode pools, a 3×3 "5×5" branch and dropout 0.2."""
    m = built["googlenet"]
    assert m.params("conv1_bn")["eps"] == 0.001
    assert m.params("maxpool1")["ceil_mode"] is True
    assert m.params("inception3a_branch4_0")["ceil_mode"] is True
    assert m.params("inception3a_branch3_1_conv")["kernel_size"] == 3
    assert m.params("dropout")["p"] == 0.2
    assert m.params("conv1_conv")["bias"] is False


def test_one_by_one_convs_use_conv1x1(built):
    """No template uses the k×k conv type with a 1×1 kernel."""
    models = list(built.values()) + [
        t.builder() for t in TEMPLATES.values() if t.category == "Teaching"
    ]
    for m in models:
        for n in m.nodes:
            if m.node_type(n) == "conv":
                assert m.params(n)["kernel_size"] != 1, n


def test_registry_entries():
    """Every registry entry builds an error-free graph with a position for every node."""
    assert DEFAULT_TEMPLATE == "inception3a_reduced"
    for key, t in TEMPLATES.items():
        assert t.key == key and t.category in ("Teaching", "Networks") and t.description
        m = t.builder()
        assert analyze(m).errors == []
        assert all(m.pos(n) is not None for n in m.nodes)


X_GAP, Y_GAP = 260.0, 150.0  # layered_layout's column and row spacing


# Networks built from blocks open with collapsed blocks and wrapped rows (tests/test_block_layout.py).
BLOCK_TEMPLATES = ("googlenet", "resnet18", "resnet50", "vgg16")


@pytest.mark.parametrize("key", [k for k in TEMPLATES if k not in BLOCK_TEMPLATES])
def test_template_layout_reads_left_to_right_without_overlaps(key):
    """Positions are finite, start at (0, 0), fit the box of depth × nodes, edges go right, no overlap."""
    m = TEMPLATES[key].builder()
    pos = {n: m.pos(n) for n in m.nodes}
    assert all(math.isfinite(v) for p in pos.values() for v in p)
    xs, ys = [p[0] for p in pos.values()], [p[1] for p in pos.values()]
    assert min(xs) == 0 and min(ys) == 0
    assert max(xs) <= X_GAP * nx.dag_longest_path_length(m.graph)
    assert max(ys) <= Y_GAP * len(m)
    for u, v, _ in m.edges():
        assert pos[v][0] - pos[u][0] >= X_GAP, (u, v)
    columns: dict[float, list[float]] = {}
    for x, y in pos.values():
        columns.setdefault(x, []).append(y)
    for x, col in columns.items():
        col.sort()
        assert all(b - a >= Y_GAP for a, b in zip(col, col[1:])), x
    for x in columns:  # columns never share an item's width
        assert all(abs(x - other) >= X_GAP for other in columns if other != x)


def test_build_unknown_key():
    """build() names the unknown key and lists the known ones."""
    with pytest.raises(KeyError, match="unknown template 'nope'.*inception3a_reduced"):
        build("nope")


def test_deep_resnet_size_and_determinism():
    """deep_resnet(100) has 501 nodes, analyses cleanly and is the same every time."""
    a, b = deep_resnet(100), deep_resnet(100)
    assert len(a) == 501
    assert analyze(a).errors == []
    assert to_dict(a) == to_dict(b)


def test_deep_resnet_rejects_zero_blocks():
    """deep_resnet needs at least one block."""
    with pytest.raises(ValueError, match="at least 1"):
        deep_resnet(0)


@pytest.mark.parametrize("key", ["inception3a_reduced", "resnet50"])
def test_template_round_trips_through_file(tmp_path, key):
    """A template saved and loaded again gives the identical document and analysis."""
    m = build(key)
    path = tmp_path / f"{key}.json"
    save(m, path)
    again = load(path)
    assert to_dict(again) == to_dict(m)
    assert analyze(again).to_dict() == analyze(m).to_dict()


def test_format_doc_example_loads():
    """The example in docs/format.md loads and is the resnet_basic_64 template (73,728 weights)."""
    text = FORMAT_DOC.read_text("utf-8")
    example = text.split("## Example", 1)[1].split("```json", 1)[1].split("```", 1)[0]
    m = loads(example)
    assert analyze(m).totals.weights == 73_728
    assert to_dict(m) == to_dict(resnet_basic_64())


def test_format_doc_lists_every_node_type_and_param():
    """docs/format.md documents every node type and each of its parameters."""
    text = FORMAT_DOC.read_text("utf-8")
    for name, ntype in NODE_TYPES.items():
        section = text.split(f"**`{name}`**", 1)
        assert len(section) == 2, name
        body = section[1].split("\n**`", 1)[0]
        for p in ntype.params:
            assert f"| `{p.name}` |" in body, (name, p.name)


@pytest.mark.parametrize(
    "key", [k for k, t in TEMPLATES.items() if t.category == "Teaching"] + ["resnet18"]
)
def test_torch_forward_shape_matches_analysis(key):
    """A forward pass through the torch module gives the analysed output shape."""
    import torch

    from engine.runtime.build import build_module

    m = build(key)
    a = analyze(m)
    p = m.params("input")
    with torch.no_grad():
        out = build_module(m).eval()(torch.zeros(1, p["channels"], p["height"], p["width"]))
    assert tuple(out.shape[1:]) == a.nodes[a.totals.output].shape
