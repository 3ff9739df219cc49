"""Ready-made graphs: the teaching blocks of the lesson and whole classic networks.

Every builder returns a :class:`~engine.graph.GraphModel` with positions from
:func:`engine.layout.layered_layout`, so a file saved from a template keeps its layout.
:data:`TEMPLATES` lists them for the editor's Templates menu.

Whole networks follow torchvision's module paths for their node ids, with ``.`` turned
into ``_`` (``layer1.0.conv1`` → ``layer1_0_conv1``). Functional operations that have
no module there get ids derived from their block: the residual sum ``layer1_0_add``,
the second and third use of a block's ReLU ``layer1_0_relu_1`` / ``layer1_0_relu_2``,
the ReLU inside GoogLeNet's ``BasicConv2d`` ``conv1_relu``, the concatenation of an
Inception block ``inception3a_concat``, and ``flatten``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .graph import GraphModel
from .layout import layered_layout


@dataclass(frozen=True)
class Template:
    """One entry of the Templates menu."""

    key: str
    title: str
    category: str  # "Teaching" or "Networks"
    builder: Callable[[], GraphModel]
    description: str


class _Builder:
    """Small helper adding typed nodes to a model; each method returns the new id."""

    def __init__(self, name: str) -> None:
        self.m = GraphModel(name)

    def node(self, nid: str, type_name: str, src: str | list[str] | None = None, **params) -> str:
        self.m.add_node(type_name, params, nid)
        for s in ([src] if isinstance(src, str) else (src or [])):
            self.m.connect(s, nid)
        return nid

    def input(self, c: int, h: int, w: int, nid: str = "input") -> str:
        return self.node(nid, "input", None, channels=c, height=h, width=w)

    def conv(self, nid: str, src: str, out: int, k: int, stride: int = 1, padding: int = 0,
             bias: bool = True) -> str:
        if k == 1 and padding == 0:
            return self.node(nid, "conv1x1", src, out_channels=out, stride=stride, bias=bias)
        return self.node(nid, "conv", src, out_channels=out, kernel_size=k, stride=stride,
                         padding=padding, bias=bias)

    def relu(self, nid: str, src: str) -> str:
        return self.node(nid, "relu", src)

    def bn(self, nid: str, src: str, eps: float = 1e-5) -> str:
        return self.node(nid, "batchnorm", src, eps=eps)

    def pool(self, nid: str, src: str, k: int, stride: int | None = None, padding: int = 0,
             ceil_mode: bool = False, kind: str = "maxpool") -> str:
        return self.node(nid, kind, src, kernel_size=k, stride=stride, padding=padding,
                         ceil_mode=ceil_mode)

    def done(self) -> GraphModel:
        self.m.set_positions(layered_layout(self.m))
        return self.m


# --------------------------------------------------------------------------- teaching
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


# --------------------------------------------------------------------------- GoogLeNet
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


def _basic_conv(b: _Builder, name: str, src: str, out: int, k: int, stride: int = 1,
                padding: int = 0) -> str:
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


# --------------------------------------------------------------------------- ResNet
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


def _residual(b: _Builder, name: str, x: str, h: str, cin: int, cout: int, stride: int,
              relu_id: str) -> str:
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


# --------------------------------------------------------------------------- VGG
_VGG16 = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
          512, 512, 512, "M")


def vgg16() -> GraphModel:
    """torchvision's VGG-16 (no batch norm) at 3×224×224.

    torchvision's ``AdaptiveAvgPool2d((7, 7))`` between ``features`` and
    ``classifier`` is the identity on the 512×7×7 map a 224×224 input gives, so it is
    left out: ``flatten`` follows ``features_30`` directly.

    Returns
    -------
    GraphModel
        138,357,544 parameters.
    """
    b = _Builder("VGG-16")
    h = b.input(3, 224, 224)
    i = 0
    for v in _VGG16:
        if v == "M":
            h = b.pool(f"features_{i}", h, 2, 2)
            i += 1
        else:
            h = b.conv(f"features_{i}", h, v, 3, padding=1)
            h = b.relu(f"features_{i + 1}", h)
            i += 2
    h = b.node("flatten", "flatten", h)
    h = b.relu("classifier_1", b.node("classifier_0", "linear", h, out_features=4096))
    h = b.node("classifier_2", "dropout", h, p=0.5)
    h = b.relu("classifier_4", b.node("classifier_3", "linear", h, out_features=4096))
    h = b.node("classifier_5", "dropout", h, p=0.5)
    b.node("classifier_6", "linear", h, out_features=1000)
    return b.done()


# --------------------------------------------------------------------------- registry
TEMPLATES: dict[str, Template] = {t.key: t for t in (
    Template("inception3a_reduced", "Inception 3a (1×1 reductions)", "Teaching",
             inception3a_reduced, "1×1 convs shrink channels before 3×3 and 5×5: 157,184 weights"),
    Template("inception3a_naive", "Inception 3a (naive)", "Teaching", inception3a_naive,
             "3a without 1×1 reductions: 387,072 weights"),
    Template("inception3a_googlenet", "Inception 3a (GoogLeNet)", "Teaching",
             inception3a_googlenet, "3a with the 1×1 pool projection, 256 channels out"),
    Template("resnet_basic_64", "ResNet basic block (64)", "Teaching", resnet_basic_64,
             "two 3×3 convs and an identity shortcut on 64 channels: 73,728 weights"),
    Template("resnet_basic_256", "ResNet basic block (256)", "Teaching", resnet_basic_256,
             "the basic block on 256 channels: 1,179,648 weights"),
    Template("resnet_bottleneck", "ResNet bottleneck block", "Teaching", resnet_bottleneck,
             "1×1 down to 64, 3×3, 1×1 back up to 256: 69,632 weights"),
    Template("googlenet", "GoogLeNet", "Networks", googlenet,
             "Inception v1 as in torchvision, without auxiliary heads: 6.6 M parameters"),
    Template("resnet18", "ResNet-18", "Networks", resnet18,
             "basic blocks [2, 2, 2, 2] as in torchvision: 11.7 M parameters"),
    Template("resnet50", "ResNet-50", "Networks", resnet50,
             "bottleneck blocks [3, 4, 6, 3] as in torchvision: 25.6 M parameters"),
    Template("vgg16", "VGG-16", "Networks", vgg16,
             "thirteen 3×3 convs and three linear layers: 138 M parameters"),
)}

DEFAULT_TEMPLATE = "inception3a_reduced"


def build(key: str) -> GraphModel:
    """Build the template ``key`` of :data:`TEMPLATES`.

    Raises
    ------
    KeyError
        With the known keys, if ``key`` is not one.
    """
    try:
        template = TEMPLATES[key]
    except KeyError:
        raise KeyError(f"unknown template {key!r} (known: {', '.join(TEMPLATES)})") from None
    return template.builder()
