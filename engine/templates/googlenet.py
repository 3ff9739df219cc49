"""GoogLeNet (Inception v1) as in torchvision, without the auxiliary heads."""

from __future__ import annotations

from engine.blocks.hierarchy import add_instance
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
    stem = {"kernel_size": 7, "stride": 2, "padding": 3}
    h = add_instance(b.m, "basic_conv", "conv1", h, 3, {"out_channels": 64, **stem})
    h = b.pool("maxpool1", h, 3, 2, ceil_mode=True)
    h = add_instance(b.m, "basic_conv", "conv2", h, 64, {"out_channels": 64})
    conv3 = {"out_channels": 192, "kernel_size": 3, "padding": 1}
    h = add_instance(b.m, "basic_conv", "conv3", h, 64, conv3)
    h = b.pool("maxpool2", h, 3, 2, ceil_mode=True)
    cin = 192
    for spec in _GOOGLENET_BLOCKS:
        name = spec[0]
        if len(spec) == 2:
            h = b.pool(name, h, spec[1], 2, ceil_mode=True)
            continue
        _, c1, c3r, c3, c5r, c5, pp = spec
        values = {"ch1x1": c1, "ch3x3red": c3r, "ch3x3": c3, "ch5x5red": c5r, "ch5x5": c5,
                  "pool_proj": pp}  # fmt: skip
        h = add_instance(b.m, "inception", name, h, cin, values)
        cin = c1 + c3 + c5 + pp
    h = b.node("avgpool", "global_avgpool", h)
    h = b.node("flatten", "flatten", h)
    h = b.node("dropout", "dropout", h, p=0.2)
    b.node("fc", "linear", h, out_features=1000)
    return b.done()
