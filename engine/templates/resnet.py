"""ResNet-18, ResNet-50 and a generated deep ResNet, with torchvision's module paths."""

from __future__ import annotations

from collections.abc import Callable

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


def _residual(
    b: _Builder, name: str, x: str, h: str, cin: int, cout: int, stride: int, relu_id: str
) -> str:
    """Add the shortcut (a 1×1 conv + BN ``downsample`` when the shape changes) and a ReLU."""
    if stride != 1 or cin != cout:
        x = b.conv(f"{name}_downsample_0", x, cout, 1, stride, bias=False)
        x = b.bn(f"{name}_downsample_1", x)
    return b.relu(relu_id, b.node(f"{name}_add", "add", [h, x]))


def _basic_block(b: _Builder, name: str, x: str, cin: int, planes: int, stride: int) -> str:
    h = b.conv(f"{name}_conv1", x, planes, 3, stride, 1, bias=False)
    h = b.relu(f"{name}_relu", b.bn(f"{name}_bn1", h))
    h = b.bn(f"{name}_bn2", b.conv(f"{name}_conv2", h, planes, 3, 1, 1, bias=False))
    return _residual(b, name, x, h, cin, planes, stride, f"{name}_relu_1")


def _bottleneck(b: _Builder, name: str, x: str, cin: int, planes: int, stride: int) -> str:
    h = b.conv(f"{name}_conv1", x, planes, 1, bias=False)
    h = b.relu(f"{name}_relu", b.bn(f"{name}_bn1", h))
    h = b.conv(f"{name}_conv2", h, planes, 3, stride, 1, bias=False)
    h = b.relu(f"{name}_relu_1", b.bn(f"{name}_bn2", h))
    h = b.bn(f"{name}_bn3", b.conv(f"{name}_conv3", h, planes * 4, 1, bias=False))
    return _residual(b, name, x, h, cin, planes * 4, stride, f"{name}_relu_2")


def _resnet(name: str, block: Callable, expansion: int, layers: tuple[int, ...]) -> GraphModel:
    b = _Builder(name)
    h = _resnet_stem(b)
    cin = 64
    for i, count in enumerate(layers):
        planes = 64 << i
        for j in range(count):
            stride = 2 if i > 0 and j == 0 else 1
            h = block(b, f"layer{i + 1}_{j}", h, cin, planes, stride)
            cin = planes * expansion
    return _resnet_head(b, h)


def resnet18() -> GraphModel:
    """torchvision's ResNet-18 at 3×224×224 (basic blocks [2, 2, 2, 2]).

    The adaptive average pool is a global average pool.

    Returns
    -------
    GraphModel
        11,689,512 parameters.
    """
    return _resnet("ResNet-18", _basic_block, 1, (2, 2, 2, 2))


def resnet50() -> GraphModel:
    """torchvision's ResNet-50 (v1.5: stride on the 3×3 conv) at 3×224×224.

    Bottleneck blocks [3, 4, 6, 3]; the adaptive average pool is a global average pool.

    Returns
    -------
    GraphModel
        25,557,032 parameters; ``layer4_2_relu_2`` is 2048×7×7.
    """
    return _resnet("ResNet-50", _bottleneck, 4, (3, 4, 6, 3))


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
