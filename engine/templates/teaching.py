"""The teaching blocks of the lesson: Inception 3a (naive, reduced, GoogLeNet's) and ResNet blocks."""

from __future__ import annotations

from engine.core.graph import GraphModel
from engine.templates.builder import _Builder


def inception3a_naive(bias: bool = False) -> GraphModel:
    """GoogLeNet's 3a block without 1×1 reductions (the lesson's "naive" version).

    Input 192×28×28; branches 1×1 conv 64, 3×3 conv 128 (padding 1), 5×5 conv 32
    (padding 2), each followed by a ReLU, and a 3×3 max pool (stride 1, padding 1)
    passed through unchanged; concatenated to 416×28×28.

    Parameters
    ----------
    bias : bool
        Whether the convolutions have biases (the lesson counts weights only).

    Returns
    -------
    GraphModel
        387,072 convolution weights.
    """
    b = _Builder("Inception 3a (naive)")
    x = b.input(192, 28, 28)
    b1 = b.relu("branch1_relu", b.conv("branch1_1x1", x, 64, 1, bias=bias))
    b2 = b.relu("branch2_relu", b.conv("branch2_3x3", x, 128, 3, padding=1, bias=bias))
    b3 = b.relu("branch3_relu", b.conv("branch3_5x5", x, 32, 5, padding=2, bias=bias))
    b4 = b.pool("branch4_pool", x, 3, 1, 1)
    b.node("concat", "concat", [b1, b2, b3, b4])
    return b.done()


def _inception_reduced(b: _Builder, proj: bool, bias: bool) -> None:
    x = b.input(192, 28, 28)
    b1 = b.relu("branch1_relu", b.conv("branch1_1x1", x, 64, 1, bias=bias))
    r2 = b.relu("branch2_reduce_relu", b.conv("branch2_reduce", x, 96, 1, bias=bias))
    b2 = b.relu("branch2_relu", b.conv("branch2_3x3", r2, 128, 3, padding=1, bias=bias))
    r3 = b.relu("branch3_reduce_relu", b.conv("branch3_reduce", x, 16, 1, bias=bias))
    b3 = b.relu("branch3_relu", b.conv("branch3_5x5", r3, 32, 5, padding=2, bias=bias))
    b4 = b.pool("branch4_pool", x, 3, 1, 1)
    if proj:
        b4 = b.relu("branch4_relu", b.conv("branch4_proj", b4, 32, 1, bias=bias))
    b.node("concat", "concat", [b1, b2, b3, b4])


def inception3a_reduced(bias: bool = False) -> GraphModel:
    """GoogLeNet's 3a block with 1×1 reductions before the 3×3 and 5×5 convolutions.

    The lesson's main example and the editor's start graph: input 192×28×28; 1×1 conv
    64; 1×1 conv 96 → 3×3 conv 128; 1×1 conv 16 → 5×5 conv 32 (each conv followed by a
    ReLU); 3×3 max pool (stride 1, padding 1) passed through; concatenated to 416×28×28.

    Parameters
    ----------
    bias : bool
        Whether the convolutions have biases (the lesson counts weights only).

    Returns
    -------
    GraphModel
        157,184 convolution weights.
    """
    b = _Builder("Inception 3a (1×1 reductions)")
    _inception_reduced(b, proj=False, bias=bias)
    return b.done()


def inception3a_googlenet(bias: bool = False) -> GraphModel:
    """GoogLeNet's 3a block as in the paper: reductions plus a 1×1 pool projection to 32.

    Parameters
    ----------
    bias : bool
        Whether the convolutions have biases.

    Returns
    -------
    GraphModel
        Output 256×28×28; 163,328 convolution weights.
    """
    b = _Builder("Inception 3a (GoogLeNet)")
    _inception_reduced(b, proj=True, bias=bias)
    return b.done()


def _resnet_basic(channels: int, bias: bool) -> GraphModel:
    b = _Builder(f"ResNet basic block ({channels} channels)")
    x = b.input(channels, 56, 56)
    h = b.relu("relu1", b.conv("conv1", x, channels, 3, padding=1, bias=bias))
    h = b.conv("conv2", h, channels, 3, padding=1, bias=bias)
    b.relu("relu2", b.node("add", "add", [h, x]))
    return b.done()


def resnet_basic_64(bias: bool = False) -> GraphModel:
    """ResNet's basic block on 64×56×56: 3×3 conv 64, ReLU, 3×3 conv 64, add identity, ReLU.

    Parameters
    ----------
    bias : bool
        Whether the convolutions have biases.

    Returns
    -------
    GraphModel
        73,728 convolution weights.
    """
    return _resnet_basic(64, bias)


def resnet_basic_256(bias: bool = False) -> GraphModel:
    """The basic block on 256×56×56 (to compare with the bottleneck at equal width).

    Parameters
    ----------
    bias : bool
        Whether the convolutions have biases.

    Returns
    -------
    GraphModel
        1,179,648 convolution weights.
    """
    return _resnet_basic(256, bias)


def resnet_bottleneck(bias: bool = False) -> GraphModel:
    """ResNet's bottleneck block on 256×56×56: 1×1 conv 64, 3×3 conv 64, 1×1 conv 256, add, ReLU.

    Each inner conv is followed by a ReLU; the identity is added before the last ReLU.

    Parameters
    ----------
    bias : bool
        Whether the convolutions have biases.

    Returns
    -------
    GraphModel
        69,632 convolution weights.
    """
    b = _Builder("ResNet bottleneck block")
    x = b.input(256, 56, 56)
    h = b.relu("relu1", b.conv("conv1", x, 64, 1, bias=bias))
    h = b.relu("relu2", b.conv("conv2", h, 64, 3, padding=1, bias=bias))
    h = b.conv("conv3", h, 256, 1, bias=bias)
    b.relu("relu3", b.node("add", "add", [h, x]))
    return b.done()
