"""The built-in block library: Inception, residual, inverted residual, SE, DenseNet layer.

Each entry is a block-type document (see :mod:`engine.blocks.types`) checked once at
import. Member names follow torchvision's attribute names where torchvision has the
block (``conv1``, ``bn1``, ``downsample.0``; ``branch2.0.conv``; ``norm1``), so a network
built from them has torchvision's ``state_dict`` keys.
"""

from __future__ import annotations

from engine.blocks.types import BlockType, E, check_type_cycles, type_from_dict


def _conv(out, k, stride=1, padding=0, bias=False, groups=1) -> dict:
    return {"out_channels": out, "kernel_size": k, "stride": stride, "padding": padding,
            "groups": groups, "bias": bias}  # fmt: skip


def _pw(out, stride=1, bias=False, groups=1) -> dict:
    return {"out_channels": out, "stride": stride, "bias": bias, "groups": groups}


def _chain(*ids: str, start: str = "in") -> list[list]:
    prev, edges = start, []
    for i in ids:
        edges.append([prev, i])
        prev = i
    return edges


BASIC_CONV = {
    "key": "basic_conv",
    "title": "Conv-BN-ReLU (BasicConv2d)",
    "class": "BasicConv2d",
    "description": "GoogLeNet's BasicConv2d: conv without bias, BatchNorm (eps 0.001), ReLU",
    "params": {"out_channels": 64, "kernel_size": 1, "stride": 1, "padding": 0},
    "nodes": [
        {
            "id": "conv",
            "type": "conv",
            "params": _conv(E("out_channels"), E("kernel_size"), E("stride"), E("padding")),
        },  # fmt: skip
        {"id": "bn", "type": "batchnorm", "params": {"eps": 0.001}},
        {"id": "relu", "type": "relu"},
    ],
    "edges": _chain("conv", "bn", "relu"),
    "output": "relu",
}


def _naive_branches(reduced: bool) -> dict:
    nodes = [{"id": "branch1", "type": "conv1x1", "params": _pw(E("ch1x1"), bias=E("bias"))},
             {"id": "branch1_relu", "type": "relu"}]  # fmt: skip
    edges = _chain("branch1", "branch1_relu")
    for b, k, red in (("branch2", 3, "ch3x3red"), ("branch3", 5, "ch5x5red")):
        out = "ch3x3" if b == "branch2" else "ch5x5"
        chain = []
        if reduced:
            nodes += [
                {"id": f"{b}_reduce", "type": "conv1x1", "params": _pw(E(red), bias=E("bias"))},
                {"id": f"{b}_reduce_relu", "type": "relu"},
            ]
            chain = [f"{b}_reduce", f"{b}_reduce_relu"]
        nodes += [
            {"id": b, "type": "conv", "params": _conv(E(out), k, 1, k // 2, bias=E("bias"))},
            {"id": f"{b}_relu", "type": "relu"},
        ]
        edges += _chain(*chain, b, f"{b}_relu")
    nodes.append({"id": "branch4", "type": "maxpool",
                  "params": {"kernel_size": 3, "stride": 1, "padding": 1}})  # fmt: skip
    edges.append(["in", "branch4"])
    last = "branch4"
    if reduced:
        nodes += [
            {
                "id": "branch4_proj",
                "type": "conv1x1",
                "params": _pw(E("pool_proj"), bias=E("bias")),
                "when": "pool_proj > 0",
            },  # fmt: skip
            {"id": "branch4_relu", "type": "relu", "when": "pool_proj > 0"},
        ]
        edges += _chain("branch4_proj", "branch4_relu", start="branch4")
        last = "branch4_relu"
    nodes.append({"id": "concat", "type": "concat"})
    for port, src in enumerate(("branch1_relu", "branch2_relu", "branch3_relu", last)):
        edges.append([src, "concat", port])
    return {"nodes": nodes, "edges": edges, "output": "concat"}


INCEPTION_NAIVE = {
    "key": "inception_naive",
    "title": "Inception (naive)",
    "class": "InceptionNaive",
    "description": "1×1, 3×3 and 5×5 convs and a 3×3 max pool side by side, concatenated",
    "params": {"ch1x1": 64, "ch3x3": 128, "ch5x5": 32, "bias": False},
    **_naive_branches(False),
}

INCEPTION_REDUCED = {
    "key": "inception_reduced",
    "title": "Inception (1×1 reductions)",
    "class": "InceptionReduced",
    "description": "1×1 convs shrink channels before the 3×3 and 5×5; pool_proj 0 = no projection",
    "params": {
        "ch1x1": 64,
        "ch3x3red": 96,
        "ch3x3": 128,
        "ch5x5red": 16,
        "ch5x5": 32,
        "pool_proj": 0,
        "bias": False,
    },  # fmt: skip
    **_naive_branches(True),
}

INCEPTION = {
    "key": "inception",
    "title": "Inception (GoogLeNet)",
    "class": "Inception",
    "description": "torchvision's Inception block: BasicConv2d branches, the table's six counts",
    "params": {
        "ch1x1": 64,
        "ch3x3red": 96,
        "ch3x3": 128,
        "ch5x5red": 16,
        "ch5x5": 32,
        "pool_proj": 32,
    },  # fmt: skip
    "nodes": [
        {"id": "branch1", "block": "basic_conv", "params": {"out_channels": E("ch1x1")}},
        {"id": "branch2.0", "block": "basic_conv", "params": {"out_channels": E("ch3x3red")}},
        {
            "id": "branch2.1",
            "block": "basic_conv",
            "params": {"out_channels": E("ch3x3"), "kernel_size": 3, "padding": 1},
        },
        {"id": "branch3.0", "block": "basic_conv", "params": {"out_channels": E("ch5x5red")}},
        {
            "id": "branch3.1",
            "block": "basic_conv",
            "params": {"out_channels": E("ch5x5"), "kernel_size": 3, "padding": 1},
        },
        {
            "id": "branch4.0",
            "type": "maxpool",
            "params": {"kernel_size": 3, "stride": 1, "padding": 1, "ceil_mode": True},
        },
        {"id": "branch4.1", "block": "basic_conv", "params": {"out_channels": E("pool_proj")}},
        {"id": "concat", "type": "concat"},
    ],  # fmt: skip
    "edges": [
        ["in", "branch1"],
        *_chain("branch2.0", "branch2.1"),
        *_chain("branch3.0", "branch3.1"),
        *_chain("branch4.0", "branch4.1"),
        ["branch1", "concat", 0],
        ["branch2.1", "concat", 1],
        ["branch3.1", "concat", 2],
        ["branch4.1", "concat", 3],
    ],  # fmt: skip
    "output": "concat",
}

_DOWNSAMPLE = "stride != 1 or in_channels != {out}"

BASIC_BLOCK = {
    "key": "basic_block",
    "title": "Residual basic block",
    "class": "BasicBlock",
    "description": "two 3×3 convs with BatchNorm and a shortcut (1×1 conv when the shape changes)",
    "params": {"planes": 64, "stride": 1},
    "nodes": [
        {"id": "conv1", "type": "conv", "params": _conv(E("planes"), 3, E("stride"), 1)},
        {"id": "bn1", "type": "batchnorm"},
        {"id": "relu", "type": "relu"},
        {"id": "conv2", "type": "conv", "params": _conv(E("planes"), 3, 1, 1)},
        {"id": "bn2", "type": "batchnorm"},
        {
            "id": "downsample.0",
            "type": "conv1x1",
            "params": _pw(E("planes"), E("stride")),
            "when": _DOWNSAMPLE.format(out="planes"),
        },
        {"id": "downsample.1", "type": "batchnorm", "when": _DOWNSAMPLE.format(out="planes")},
        {"id": "add", "type": "add"},
        {"id": "relu_1", "type": "relu"},
    ],  # fmt: skip
    "edges": [
        *_chain("conv1", "bn1", "relu", "conv2", "bn2"),
        *_chain("downsample.0", "downsample.1"),
        ["bn2", "add", 0],
        ["downsample.1", "add", 1],
        ["add", "relu_1"],
    ],  # fmt: skip
    "output": "relu_1",
}

BOTTLENECK = {
    "key": "bottleneck",
    "title": "Residual bottleneck",
    "class": "Bottleneck",
    "description": "1×1 down to width, 3×3 (stride here, v1.5), 1×1 up to width × expansion",
    "params": {"width": 64, "stride": 1, "expansion": 4},
    "nodes": [
        {"id": "conv1", "type": "conv1x1", "params": _pw(E("width"))},
        {"id": "bn1", "type": "batchnorm"},
        {"id": "relu", "type": "relu"},
        {"id": "conv2", "type": "conv", "params": _conv(E("width"), 3, E("stride"), 1)},
        {"id": "bn2", "type": "batchnorm"},
        {"id": "relu_1", "type": "relu"},
        {"id": "conv3", "type": "conv1x1", "params": _pw(E("width * expansion"))},
        {"id": "bn3", "type": "batchnorm"},
        {
            "id": "downsample.0",
            "type": "conv1x1",
            "params": _pw(E("width * expansion"), E("stride")),
            "when": _DOWNSAMPLE.format(out="width * expansion"),
        },
        {
            "id": "downsample.1",
            "type": "batchnorm",
            "when": _DOWNSAMPLE.format(out="width * expansion"),
        },
        {"id": "add", "type": "add"},
        {"id": "relu_2", "type": "relu"},
    ],  # fmt: skip
    "edges": [
        *_chain("conv1", "bn1", "relu", "conv2", "bn2", "relu_1", "conv3", "bn3"),
        *_chain("downsample.0", "downsample.1"),
        ["bn3", "add", 0],
        ["downsample.1", "add", 1],
        ["add", "relu_2"],
    ],  # fmt: skip
    "output": "relu_2",
}

INVERTED_RESIDUAL = {
    "key": "inverted_residual",
    "title": "Inverted residual (MobileNet v2)",
    "class": "InvertedResidual",
    "description": "1×1 expand, 3×3 depthwise, 1×1 linear projection; identity shortcut when "
    "the shape is kept",
    "params": {"expansion": 6, "stride": 1, "out_channels": 32},
    "nodes": [
        {
            "id": "expand",
            "type": "conv1x1",
            "params": _pw(E("in_channels * expansion")),
            "when": "expansion != 1",
        },
        {"id": "expand_bn", "type": "batchnorm", "when": "expansion != 1"},
        {"id": "expand_relu", "type": "relu6", "when": "expansion != 1"},
        {
            "id": "depthwise",
            "type": "conv",
            "params": _conv(
                E("in_channels * expansion"), 3, E("stride"), 1, groups=E("in_channels * expansion")
            ),
        },
        {"id": "depthwise_bn", "type": "batchnorm"},
        {"id": "depthwise_relu", "type": "relu6"},
        {"id": "project", "type": "conv1x1", "params": _pw(E("out_channels"))},
        {"id": "project_bn", "type": "batchnorm"},
        {"id": "add", "type": "add", "when": "stride == 1 and in_channels == out_channels"},
    ],  # fmt: skip
    "edges": [
        *_chain(
            "expand",
            "expand_bn",
            "expand_relu",
            "depthwise",
            "depthwise_bn",
            "depthwise_relu",
            "project",
            "project_bn",
        ),
        ["project_bn", "add", 0],
        ["in", "add", 1],
    ],  # fmt: skip
    "output": "add",
}

DEPTHWISE_SEPARABLE = {
    "key": "depthwise_separable",
    "title": "Depthwise-separable conv",
    "class": "DepthwiseSeparable",
    "description": "3×3 depthwise conv, then 1×1 pointwise conv, each with BatchNorm and ReLU",
    "params": {"out_channels": 64, "stride": 1},
    "nodes": [
        {
            "id": "depthwise",
            "type": "conv",
            "params": _conv(E("in_channels"), 3, E("stride"), 1, groups=E("in_channels")),
        },
        {"id": "bn1", "type": "batchnorm"},
        {"id": "relu1", "type": "relu"},
        {"id": "pointwise", "type": "conv1x1", "params": _pw(E("out_channels"))},
        {"id": "bn2", "type": "batchnorm"},
        {"id": "relu2", "type": "relu"},
    ],  # fmt: skip
    "edges": _chain("depthwise", "bn1", "relu1", "pointwise", "bn2", "relu2"),
    "output": "relu2",
}

SQUEEZE_EXCITATION = {
    "key": "squeeze_excitation",
    "title": "Squeeze-and-excitation",
    "class": "SqueezeExcitation",
    "description": "global pool, 1×1 down by the reduction, ReLU, 1×1 up, sigmoid; scales "
    "each channel",
    "params": {"reduction": 16},
    "nodes": [
        {"id": "avgpool", "type": "global_avgpool"},
        {"id": "fc1", "type": "conv1x1", "params": _pw(E("in_channels // reduction"), bias=True)},
        {"id": "relu", "type": "relu"},
        {"id": "fc2", "type": "conv1x1", "params": _pw(E("in_channels"), bias=True)},
        {"id": "sigmoid", "type": "sigmoid"},
        {"id": "scale", "type": "mul"},
    ],  # fmt: skip
    "edges": [
        *_chain("avgpool", "fc1", "relu", "fc2", "sigmoid"),
        ["in", "scale", 0],
        ["sigmoid", "scale", 1],
    ],  # fmt: skip
    "output": "scale",
}

DENSE_LAYER = {
    "key": "dense_layer",
    "title": "DenseNet layer",
    "class": "DenseLayer",
    "description": "BN-ReLU-1×1 conv (bn_size × growth), BN-ReLU-3×3 conv (growth), "
    "concatenated to its input",
    "params": {"growth_rate": 32, "bn_size": 4},
    "nodes": [
        {"id": "norm1", "type": "batchnorm"},
        {"id": "relu1", "type": "relu"},
        {"id": "conv1", "type": "conv1x1", "params": _pw(E("bn_size * growth_rate"))},
        {"id": "norm2", "type": "batchnorm"},
        {"id": "relu2", "type": "relu"},
        {"id": "conv2", "type": "conv", "params": _conv(E("growth_rate"), 3, 1, 1)},
        {"id": "concat", "type": "concat"},
    ],  # fmt: skip
    "edges": [
        *_chain("norm1", "relu1", "conv1", "norm2", "relu2", "conv2"),
        ["in", "concat", 0],
        ["conv2", "concat", 1],
    ],  # fmt: skip
    "output": "concat",
}

_DOCS = (BASIC_CONV, INCEPTION_NAIVE, INCEPTION_REDUCED, INCEPTION, BASIC_BLOCK, BOTTLENECK,
         INVERTED_RESIDUAL, DEPTHWISE_SEPARABLE, SQUEEZE_EXCITATION, DENSE_LAYER)  # fmt: skip

#: The built-in block types by key, in palette order.
BUILTIN_TYPES: dict[str, BlockType] = {d["key"]: type_from_dict(d, builtin=True) for d in _DOCS}
check_type_cycles(BUILTIN_TYPES)
