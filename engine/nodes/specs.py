"""Node types: their parameters, and how each computes shape, cost and receptive field.

Parameters are named as in ``torch.nn`` and default as in torch. Every int-or-pair
parameter accepts an int or ``[h, w]``. :mod:`engine.nodes.params` checks a user's
dictionary and fills defaults (``normalize_params``) and turns the checked dictionary into
the small tuple the analysis works on (``compile_params``), so that the hot loop does no
parsing.

Shapes are tuples: ``(C, H, W)`` for spatial tensors, ``(F,)`` after flatten/linear
(batch 1 is implied). A receptive field is ``((size_h, jump_h, start_h), (size_w,
jump_w, start_w))`` in input pixels: output pixel ``i`` along an axis sees input pixels
``[start + i*jump, start + i*jump + size)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Shape = tuple
RF = tuple  # ((size_h, jump_h, start_h), (size_w, jump_w, start_w))

INPUT_RF: RF = ((1, 1, 0), (1, 1, 0))


class Problem(Exception):
    """Raised by an ``infer`` function: the text follows the node's label in a message."""


@dataclass(frozen=True)
class ParamSpec:
    """One parameter of a node type."""

    name: str
    kind: str  # "int", "pair", "padding", "bool", "float", "optional_pair",
    # "optional_int", "optional_float" (None allowed), "choice" (one of ``choices``)
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    required: bool = False
    doc: str = ""
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class NodeType:
    """A kind of node: its parameters, how many inputs it takes, and its palette group."""

    name: str
    label: str
    category: str
    params: tuple[ParamSpec, ...]
    min_inputs: int
    max_inputs: int | None  # None: unbounded (ordered inputs)
    doc: str = ""
    param_index: dict[str, ParamSpec] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "param_index", {p.name: p for p in self.params})

    @property
    def multi_input(self) -> bool:
        """Whether the node takes an ordered list of inputs (concat, add)."""
        return self.max_inputs is None


def _conv_params(with_kernel: bool) -> tuple[ParamSpec, ...]:
    ps = [
        ParamSpec(
            "out_channels",
            "int",
            None,
            1,
            1 << 20,
            required=True,
            doc="number of filters = output channels",
        )
    ]
    if with_kernel:
        ps.append(ParamSpec("kernel_size", "pair", None, 1, 4096, required=True))
    ps.append(ParamSpec("stride", "pair", 1, 1, 4096))
    if with_kernel:
        ps.append(ParamSpec("padding", "padding", 0, 0, 4096))
        ps.append(ParamSpec("dilation", "pair", 1, 1, 4096))
    ps.append(ParamSpec("groups", "int", 1, 1, 1 << 20))
    ps.append(ParamSpec("bias", "bool", True))
    return tuple(ps)


def _pool_params(avg: bool = False) -> tuple[ParamSpec, ...]:
    ps = (
        ParamSpec("kernel_size", "pair", None, 1, 4096, required=True),
        ParamSpec("stride", "optional_pair", None, 1, 4096, doc="defaults to kernel_size"),
        ParamSpec("padding", "pair", 0, 0, 4096),
        ParamSpec("ceil_mode", "bool", False),
    )
    if not avg:
        return ps
    return ps + (
        ParamSpec(
            "count_include_pad",
            "bool",
            True,
            doc="divide by the whole window, zero padding included (torch's default)",
        ),
        ParamSpec(
            "divisor_override",
            "optional_int",
            None,
            1,
            1 << 24,
            doc="divide every window's sum by this number instead of its size",
        ),
    )


NODE_TYPES: dict[str, NodeType] = {
    t.name: t
    for t in (
        NodeType(
            "input",
            "Input",
            "Input",
            (
                ParamSpec("channels", "int", 3, 1, 1 << 20),
                ParamSpec("height", "int", 224, 1, 1 << 16),
                ParamSpec("width", "int", 224, 1, 1 << 16),
            ),
            0,
            0,
            "the image entering the network (batch 1)",
        ),
        NodeType("conv", "Conv k×k", "Convolution", _conv_params(True), 1, 1, "2-D convolution"),
        NodeType(
            "conv1x1",
            "1×1 Conv",
            "Convolution",
            _conv_params(False),
            1,
            1,
            "2-D convolution with a 1×1 kernel: mixes channels, keeps H×W",
        ),
        NodeType("maxpool", "Max Pool", "Pooling", _pool_params(), 1, 1, "max pooling"),
        NodeType("avgpool", "Avg Pool", "Pooling", _pool_params(True), 1, 1, "average pooling"),
        NodeType(
            "global_avgpool",
            "Global Avg Pool",
            "Pooling",
            (),
            1,
            1,
            "average over H×W, keeps channels (output C×1×1)",
        ),
        NodeType(
            "adaptive_avgpool",
            "Adaptive Avg Pool",
            "Pooling",
            (
                ParamSpec(
                    "output_size",
                    "pair",
                    None,
                    1,
                    4096,
                    required=True,
                    doc="output H×W; windows of about input/output pixels",
                ),
            ),
            1,
            1,
            "average pooling to a fixed output size (1×1 is Global Avg Pool)",
        ),
        NodeType(
            "concat", "Concat", "Merge", (), 2, None, "concatenate along channels, in port order"
        ),
        NodeType("add", "Add", "Merge", (), 2, None, "element-wise sum of equal shapes"),
        NodeType(
            "mul",
            "Multiply",
            "Merge",
            (),
            2,
            None,
            "element-wise product; a C×1×1 input scales every pixel (squeeze-and-excitation)",
        ),
        NodeType("relu", "ReLU", "Activation", (), 1, 1, "max(x, 0)"),
        NodeType(
            "batchnorm",
            "BatchNorm",
            "Other",
            (
                ParamSpec("eps", "float", 1e-5, 0.0, 1.0),
                ParamSpec("momentum", "float", 0.1, 0.0, 1.0),
                ParamSpec("affine", "bool", True),
            ),
            1,
            1,
            "batch normalisation over channels",
        ),
        NodeType("flatten", "Flatten", "Other", (), 1, 1, "C×H×W → features"),
        NodeType(
            "linear",
            "Linear",
            "Other",
            (
                ParamSpec("out_features", "int", None, 1, 1 << 24, required=True),
                ParamSpec("bias", "bool", True),
            ),
            1,
            1,
            "fully connected layer on features",
        ),
        NodeType("relu6", "ReLU6", "Activation", (), 1, 1, "min(max(x, 0), 6)"),
        NodeType("hardswish", "Hardswish", "Activation", (), 1, 1, "x · relu6(x + 3) / 6"),
        NodeType(
            "hardsigmoid",
            "Hardsigmoid",
            "Activation",
            (
                ParamSpec("alpha", "float", 1 / 6, -1e3, 1e3, doc="slope (torch 1/6, ONNX 0.2)"),
                ParamSpec("beta", "float", 0.5, -1e3, 1e3, doc="offset"),
            ),
            1,
            1,
            "clamp(alpha·x + beta, 0, 1); torch's alpha 1/6, beta 0.5 is relu6(x + 3) / 6",
        ),
        NodeType("silu", "SiLU", "Activation", (), 1, 1, "x · sigmoid(x) (swish)"),
        NodeType("sigmoid", "Sigmoid", "Activation", (), 1, 1, "1 / (1 + exp(-x))"),
        NodeType(
            "gelu",
            "GELU",
            "Activation",
            (
                ParamSpec(
                    "approximate",
                    "choice",
                    "none",
                    choices=("none", "tanh"),
                    doc="none: x·Φ(x) exactly; tanh: the tanh approximation",
                ),
            ),
            1,
            1,
            "x · Φ(x), Φ the standard normal distribution function",
        ),
        NodeType(
            "leaky_relu",
            "LeakyReLU",
            "Activation",
            (ParamSpec("negative_slope", "float", 0.01, -1e3, 1e3, doc="slope below zero"),),
            1,
            1,
            "x if x ≥ 0 else negative_slope · x",
        ),
        NodeType(
            "elu",
            "ELU",
            "Activation",
            (ParamSpec("alpha", "float", 1.0, -1e3, 1e3, doc="value approached for x → −∞"),),
            1,
            1,
            "x if x > 0 else alpha · (exp(x) − 1)",
        ),
        NodeType("mish", "Mish", "Activation", (), 1, 1, "x · tanh(softplus(x))"),
        NodeType("tanh", "Tanh", "Activation", (), 1, 1, "tanh(x)"),
        NodeType(
            "prelu",
            "PReLU",
            "Activation",
            (
                ParamSpec(
                    "num_parameters",
                    "int",
                    1,
                    1,
                    1 << 20,
                    doc="learned slopes: 1 (shared) or one per input channel",
                ),
                ParamSpec("init", "float", 0.25, -1e3, 1e3, doc="the slopes' starting value"),
            ),
            1,
            1,
            "x if x ≥ 0 else a·x with a learned slope a (per channel or shared)",
        ),
        NodeType(
            "clamp",
            "Clamp",
            "Activation",
            (
                ParamSpec("min", "optional_float", None, -1e9, 1e9, doc="lower bound; unset: none"),
                ParamSpec("max", "optional_float", None, -1e9, 1e9, doc="upper bound; unset: none"),
            ),
            1,
            1,
            "min(max(x, min), max): ONNX Clip, nn.Hardtanh (ReLU6 is 0…6)",
        ),
        NodeType(
            "softmax",
            "Softmax",
            "Activation",
            (),
            1,
            1,
            "exp(x) / sum of exp over channels (dim 1): per pixel, or over a feature vector",
        ),
        NodeType(
            "conv_transpose",
            "Transposed Conv",
            "Convolution",
            (
                ParamSpec(
                    "out_channels",
                    "int",
                    None,
                    1,
                    1 << 20,
                    required=True,
                    doc="output channels",
                ),
                ParamSpec("kernel_size", "pair", None, 1, 4096, required=True),
                ParamSpec("stride", "pair", 1, 1, 4096, doc="the upsampling factor"),
                ParamSpec("padding", "pair", 0, 0, 4096, doc="removed from each border"),
                ParamSpec(
                    "output_padding",
                    "pair",
                    0,
                    0,
                    4096,
                    doc="added to one side of the output; less than stride or dilation",
                ),
                ParamSpec("groups", "int", 1, 1, 1 << 20),
                ParamSpec("bias", "bool", True),
                ParamSpec("dilation", "pair", 1, 1, 4096),
            ),
            1,
            1,
            "transposed 2-D convolution (learned upsampling): each input pixel adds a "
            "kernel-sized patch to the output, stride pixels apart",
        ),
        NodeType(
            "upsample",
            "Upsample",
            "Pooling",
            (
                ParamSpec(
                    "size", "optional_pair", None, 1, 1 << 16, doc="output H×W; used when set"
                ),
                ParamSpec(
                    "scale_factor",
                    "optional_float",
                    None,
                    1e-3,
                    1e3,
                    doc="output = floor(input × scale_factor), when size is unset",
                ),
                ParamSpec("mode", "choice", "nearest", choices=("nearest", "bilinear")),
                ParamSpec(
                    "align_corners",
                    "bool",
                    False,
                    doc="bilinear only: corner pixels' centres align (torch's align_corners)",
                ),
            ),
            1,
            1,
            "resize H×W by a scale factor or to a size (nearest or bilinear)",
        ),
        NodeType(
            "layernorm2d",
            "LayerNorm2d",
            "Other",
            (
                ParamSpec("eps", "float", 1e-5, 0.0, 1.0),
                ParamSpec(
                    "elementwise_affine", "bool", True, doc="learned weight and bias of size C"
                ),
            ),
            1,
            1,
            "layer normalisation over the channels at every pixel (ConvNeXt's LayerNorm2d)",
        ),
        NodeType(
            "grn",
            "GRN (ConvNeXt)",
            "Other",
            (ParamSpec("eps", "float", 1e-6, 0.0, 1.0),),
            1,
            1,
            "ConvNeXt V2's GRN: x + bias + weight·x·g/mean_C(g), g the L2 norm of each channel "
            "over H×W; weight and bias of size C",
        ),
        NodeType(
            "channel_slice",
            "Channel Slice",
            "Other",
            (
                ParamSpec("start", "int", 0, 0, 1 << 20, doc="first channel kept"),
                ParamSpec(
                    "stop", "int", None, 1, 1 << 20, required=True, doc="first channel dropped"
                ),
            ),
            1,
            1,
            "channels [start, stop) of its input, x[:, start:stop] (split, chunk)",
        ),
        NodeType(
            "channel_shuffle",
            "Channel Shuffle",
            "Other",
            (ParamSpec("groups", "int", None, 1, 1 << 20, required=True),),
            1,
            1,
            "interleave the channels of groups (ShuffleNet): channel g·k + i → i·G + g",
        ),
        NodeType(
            "scale_shift",
            "Scale & Shift",
            "Other",
            (
                ParamSpec("scale", "float", 1.0, -1e9, 1e9, doc="constant factor"),
                ParamSpec("shift", "float", 0.0, -1e9, 1e9, doc="constant added after scaling"),
            ),
            1,
            1,
            "x · scale + shift with constant numbers (x * c, x + c)",
        ),
        NodeType(
            "pad",
            "Pad",
            "Other",
            (
                ParamSpec("left", "int", 0, 0, 4096),
                ParamSpec("right", "int", 0, 0, 4096),
                ParamSpec("top", "int", 0, 0, 4096),
                ParamSpec("bottom", "int", 0, 0, 4096),
                ParamSpec(
                    "mode",
                    "choice",
                    "constant",
                    choices=("constant", "reflect", "replicate"),
                    doc="constant: fill with value; reflect: mirror; replicate: repeat the edge",
                ),
                ParamSpec("value", "float", 0.0, -1e9, 1e9, doc="the fill of mode constant"),
            ),
            1,
            1,
            'pad H×W on each side, unevenly if needed (TensorFlow\'s "same", ONNX Pad)',
        ),
        NodeType(
            "identity",
            "Identity",
            "Other",
            (),
            1,
            1,
            "passes its input on (nn.Identity; stochastic depth at inference)",
        ),
        NodeType(
            "dropout",
            "Dropout",
            "Other",
            (ParamSpec("p", "float", 0.5, 0.0, 1.0),),
            1,
            1,
            "zeroes inputs at random while training; identity in eval",
        ),
    )
}

CATEGORIES: tuple[str, ...] = ("Input", "Convolution", "Pooling", "Merge", "Activation", "Other")
