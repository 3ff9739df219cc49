"""ResNet-18, ResNet-50 and a generated deep ResNet, with torchvision's module paths."""

from __future__ import annotations

from engine.blocks.hierarchy import add_instance
from engine.core.graph import GraphModel
from engine.templates.builder import _Builder


def _resnet_stem(b: _Builder) -> str:
    h = b.input(3, 224, 224)
    h = b.conv("conv1", h, 64, 7, 2, 3, bias=False)
    h = b.relu("relu", b.bn("bn1", h))
    return b.pool("maxpool", h, 3, 2, 1)


def _resnet_head(b: _Builder, h: str) -> GraphModel:
    h = b.node("avgpool", "global_avgpool", h)
    h = b.node("flatten", "flatten", h)
    b.node("fc", "linear", h, out_features=1000)
    return b.done()


def _resnet(name: str, block: str, expansion: int, layers: tuple[int, ...]) -> GraphModel:
    """Stem, stages ``layer1``… of ``block`` instances (``layer1.0``…), head.

    Built from the block library (``basic_block`` or ``bottleneck``): each stage is a plain
    block holding its residual blocks, as torchvision's ``nn.Sequential`` stages.
    """
    b = _Builder(name)
    h = _resnet_stem(b)
    cin = 64
    for i, count in enumerate(layers):
        planes = 64 << i
        stage = f"layer{i + 1}"
        for j in range(count):
            stride = 2 if i > 0 and j == 0 else 1
            values = {"planes": planes} if block == "basic_block" else {"width": planes}
            values["stride"] = stride
            h = add_instance(b.m, block, f"{stage}.{j}", h, cin, values)
            cin = planes * expansion
        b.m.set_block(stage, {"name": stage, "type": None, "params": {}, "collapsed": False})
    return _resnet_head(b, h)


def resnet18() -> GraphModel:
    """torchvision's ResNet-18 at 3×224×224 (basic blocks [2, 2, 2, 2]).

    The adaptive average pool is a global average pool.

    Returns
    -------
    GraphModel
        11,689,512 parameters.
    """
    return _resnet("ResNet-18", "basic_block", 1, (2, 2, 2, 2))


def resnet50() -> GraphModel:
    """torchvision's ResNet-50 (v1.5: stride on the 3×3 conv) at 3×224×224.

    Bottleneck blocks [3, 4, 6, 3]; the adaptive average pool is a global average pool.

    Returns
    -------
    GraphModel
        25,557,032 parameters; ``layer4_2_relu_2`` is 2048×7×7.
    """
    return _resnet("ResNet-50", "bottleneck", 4, (3, 4, 6, 3))


def deep_resnet(blocks: int = 100, channels: int = 16, size: int = 32) -> GraphModel:
    """A plain deep stack of basic residual blocks, for scale tests and benchmarks.

    Each block is 3×3 conv, ReLU, 3×3 conv, add with the block's input, ReLU: five
    nodes, so 100 blocks are 501 nodes with the input. Deterministic.

    Parameters
    ----------
    blocks : int
        Number of residual blocks (at least 1).
    channels, size : int
        Channels and height = width of the input, kept by every block.

    Returns
    -------
    GraphModel
        ``1 + 5 * blocks`` nodes.
    """
    if blocks < 1:
        raise ValueError(f"blocks must be at least 1, got {blocks}")
    b = _Builder(f"Deep ResNet ({blocks} blocks)")
    x = b.input(channels, size, size)
    for i in range(blocks):
        h = b.relu(f"block{i}_relu1", b.conv(f"block{i}_conv1", x, channels, 3, padding=1))
        h = b.conv(f"block{i}_conv2", h, channels, 3, padding=1)
        x = b.relu(f"block{i}_relu2", b.node(f"block{i}_add", "add", [h, x]))
    return b.done()
