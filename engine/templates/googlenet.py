"""GoogLeNet (Inception v1) as in torchvision, without the auxiliary heads."""

from __future__ import annotations

from engine.core.graph import GraphModel
from engine.templates.builder import _Builder

_GOOGLENET_BLOCKS = (  # name, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj
    ("inception3a", 64, 96, 128, 16, 32, 32),
    ("inception3b", 128, 128, 192, 32, 96, 64),
    ("maxpool3", 3),
    ("inception4a", 192, 96, 208, 16, 48, 64),
    ("inception4b", 160, 112, 224, 24, 64, 64),
    ("inception4c", 128, 128, 256, 24, 64, 64),
    ("inception4d", 112, 144, 288, 32, 64, 64),
    ("inception4e", 256, 160, 320, 32, 128, 128),
    ("maxpool4", 2),
    ("inception5a", 256, 160, 320, 32, 128, 128),
    ("inception5b", 384, 192, 384, 48, 128, 128),
)


def _basic_conv(
    b: _Builder, name: str, src: str, out: int, k: int, stride: int = 1, padding: int = 0
) -> str:
    """torchvision's ``BasicConv2d``: conv without bias, BatchNorm (eps 0.001), ReLU."""
    h = b.conv(f"{name}_conv", src, out, k, stride, padding, bias=False)
    h = b.bn(f"{name}_bn", h, eps=0.001)
    return b.relu(f"{name}_relu", h)


def googlenet() -> GraphModel:
    """torchvision's GoogLeNet (Inception v1) at 3×224×224, without the auxiliary heads.

    As in torchvision: ``BasicConv2d`` (conv without bias, BatchNorm eps 0.001, ReLU)
    everywhere, the "5×5" branch uses a 3×3 kernel, pools use ``ceil_mode``, dropout
    0.2 before the classifier. The adaptive average pool is a global average pool.

    Returns
    -------
    GraphModel
        6,624,904 parameters; ``inception5b_concat`` is 1024×7×7, ``fc`` gives 1000.
    """
    b = _Builder("GoogLeNet")
    h = b.input(3, 224, 224)
    h = _basic_conv(b, "conv1", h, 64, 7, 2, 3)
    h = b.pool("maxpool1", h, 3, 2, ceil_mode=True)
    h = _basic_conv(b, "conv2", h, 64, 1)
    h = _basic_conv(b, "conv3", h, 192, 3, padding=1)
    h = b.pool("maxpool2", h, 3, 2, ceil_mode=True)
    for spec in _GOOGLENET_BLOCKS:
        name = spec[0]
        if len(spec) == 2:
            h = b.pool(name, h, spec[1], 2, ceil_mode=True)
            continue
        _, c1, c3r, c3, c5r, c5, pp = spec
        b1 = _basic_conv(b, f"{name}_branch1", h, c1, 1)
        b2 = _basic_conv(b, f"{name}_branch2_0", h, c3r, 1)
        b2 = _basic_conv(b, f"{name}_branch2_1", b2, c3, 3, padding=1)
        b3 = _basic_conv(b, f"{name}_branch3_0", h, c5r, 1)
        b3 = _basic_conv(b, f"{name}_branch3_1", b3, c5, 3, padding=1)
        b4 = b.pool(f"{name}_branch4_0", h, 3, 1, 1, ceil_mode=True)
        b4 = _basic_conv(b, f"{name}_branch4_1", b4, pp, 1)
        h = b.node(f"{name}_concat", "concat", [b1, b2, b3, b4])
    h = b.node("avgpool", "global_avgpool", h)
    h = b.node("flatten", "flatten", h)
    h = b.node("dropout", "dropout", h, p=0.2)
    b.node("fc", "linear", h, out_features=1000)
    return b.done()
