"""Node types: their parameters, and how each computes shape, cost and receptive field.

Parameters are named as in ``torch.nn`` and default as in torch. Every int-or-pair
parameter accepts an int or ``[h, w]``. :func:`normalize_params` checks a user's
dictionary and fills defaults; :func:`compile_params` turns the checked dictionary into
the small tuple the analysis works on, so that the hot loop does no parsing.

Shapes are tuples: ``(C, H, W)`` for spatial tensors, ``(F,)`` after flatten/linear
(batch 1 is implied). A receptive field is ``((size_h, jump_h, start_h), (size_w,
jump_w, start_w))`` in input pixels: output pixel ``i`` along an axis sees input pixels
``[start + i*jump, start + i*jump + size)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from engine.core.errors import ParamError

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
            "softmax",
            "Softmax",
            "Activation",
            (),
            1,
            1,
            "exp(x) / sum of exp over channels (dim 1): per pixel, or over a feature vector",
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


# --------------------------------------------------------------------------- params
def _where(node: str | None) -> str:
    return f"node '{node}'" if node is not None else "node"


def _check_int(value: Any, spec: ParamSpec, node: str | None, what: str = "") -> int:
    name = spec.name + what
    if isinstance(value, bool) or not isinstance(value, int):
        raise ParamError(
            f"{_where(node)}: '{name}' must be an integer, got {value!r}", node, spec.name
        )
    if spec.minimum is not None and value < spec.minimum:
        raise ParamError(
            f"{_where(node)}: '{name}' must be at least {int(spec.minimum)}, got {value}",
            node,
            spec.name,
        )
    if spec.maximum is not None and value > spec.maximum:
        raise ParamError(
            f"{_where(node)}: '{name}' must be at most {int(spec.maximum)}, got {value}",
            node,
            spec.name,
        )
    return value


def _check_pair(value: Any, spec: ParamSpec, node: str | None) -> int | list[int]:
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise ParamError(
                f"{_where(node)}: '{spec.name}' must be an integer or [h, w], got {list(value)!r}",
                node,
                spec.name,
            )
        return [_check_int(value[0], spec, node, "[0]"), _check_int(value[1], spec, node, "[1]")]
    return _check_int(value, spec, node)


def _check_float(value: Any, spec: ParamSpec, node: str | None) -> float:
    name = spec.name
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**53:
        raise ParamError(
            f"{_where(node)}: '{name}' must be between {spec.minimum:g} and "
            f"{spec.maximum:g}, got a {len(str(abs(value)))}-digit integer",
            node,
            name,
        )
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ParamError(f"{_where(node)}: '{name}' must be a number, got {value!r}", node, name)
    if (
        spec.minimum is not None
        and value < spec.minimum
        or spec.maximum is not None
        and value > spec.maximum
    ):
        raise ParamError(
            f"{_where(node)}: '{name}' must be between {spec.minimum:g} and "
            f"{spec.maximum:g}, got {value}",
            node,
            name,
        )
    return float(value)


def check_param(type_name: str, name: str, value: Any, node: str | None = None) -> Any:
    """Check one parameter value and return it in canonical form.

    Parameters
    ----------
    type_name : str
        The node type.
    name : str
        The parameter name.
    value : Any
        The value as the user gave it (JSON-like).
    node : str, optional
        The node id, used in messages.

    Returns
    -------
    Any
        The value, with tuples turned into lists and ``[n, n]`` kept as given.

    Raises
    ------
    ParamError
        If the parameter is unknown, ill-typed or out of range.
    """
    ntype = NODE_TYPES[type_name]
    spec = ntype.param_index.get(name)
    if spec is None:
        known = ", ".join(ntype.param_index) or "none"
        raise ParamError(
            f"{_where(node)}: {type_name} has no parameter '{name}' (known: {known})", node, name
        )
    kind = spec.kind
    if kind == "int":
        return _check_int(value, spec, node)
    if kind == "pair":
        return _check_pair(value, spec, node)
    if kind == "optional_pair":
        return None if value is None else _check_pair(value, spec, node)
    if kind == "padding":
        if value == "same":
            return "same"
        if isinstance(value, str):
            raise ParamError(
                f"{_where(node)}: 'padding' must be an integer, [h, w] or \"same\", got {value!r}",
                node,
                name,
            )
        return _check_pair(value, spec, node)
    if kind == "bool":
        if not isinstance(value, bool):
            raise ParamError(
                f"{_where(node)}: '{name}' must be true or false, got {value!r}", node, name
            )
        return value
    if kind == "optional_int":
        return None if value is None else _check_int(value, spec, node)
    if kind == "float":
        return _check_float(value, spec, node)
    if kind == "optional_float":
        return None if value is None else _check_float(value, spec, node)
    if kind == "choice":
        if not isinstance(value, str) or value not in spec.choices:
            options = ", ".join(repr(c) for c in spec.choices)
            raise ParamError(
                f"{_where(node)}: '{name}' must be one of {options}, got {value!r}", node, name
            )
        return value
    raise AssertionError(kind)  # pragma: no cover


def normalize_params(type_name: str, params: dict | None, node: str | None = None) -> dict:
    """Check a parameter dictionary and fill in torch's defaults.

    Parameters
    ----------
    type_name : str
        A key of :data:`NODE_TYPES`.
    params : dict or None
        The user's parameters.
    node : str, optional
        The node id, used in messages.

    Returns
    -------
    dict
        Every parameter of the type, in declaration order.

    Raises
    ------
    ParamError
        On unknown types, unknown, missing, ill-typed or out-of-range parameters.
    """
    ntype = NODE_TYPES.get(type_name)
    if ntype is None:
        known = ", ".join(NODE_TYPES)
        raise ParamError(
            f"{_where(node)}: unknown node type {type_name!r} (known: {known})", node, "type"
        )
    params = dict(params or {})
    for name in params:
        if name not in ntype.param_index:
            check_param(type_name, name, params[name], node)  # raises the unknown message
    out: dict[str, Any] = {}
    for spec in ntype.params:
        if spec.name in params:
            out[spec.name] = check_param(type_name, spec.name, params[spec.name], node)
        elif spec.required:
            raise ParamError(f"{_where(node)}: {type_name} needs '{spec.name}'", node, spec.name)
        else:
            out[spec.name] = spec.default
    if type_name == "conv" and out["padding"] == "same" and pair(out["stride"]) != (1, 1):
        raise ParamError(
            f'{_where(node)}: padding "same" needs stride 1 (as in torch); '
            f"set padding to a number or stride to 1",
            node,
            "padding",
        )
    return out


def pair(value: Any) -> tuple[int, int]:
    """Turn an int or ``[h, w]`` into a ``(h, w)`` tuple."""
    if isinstance(value, (list, tuple)):
        return int(value[0]), int(value[1])
    return int(value), int(value)


def compile_params(type_name: str, p: dict) -> tuple:
    """Turn checked parameters into the flat tuple the analysis functions take."""
    if type_name == "conv" or type_name == "conv1x1":
        if type_name == "conv":
            kh, kw = pair(p["kernel_size"])
            dh, dw = pair(p["dilation"])
            if p["padding"] == "same":
                th, tw = dh * (kh - 1), dw * (kw - 1)
                pads = (th // 2, th - th // 2, tw // 2, tw - tw // 2)
            else:
                ph, pw = pair(p["padding"])
                pads = (ph, ph, pw, pw)
        else:
            kh = kw = dh = dw = 1
            pads = (0, 0, 0, 0)
        sh, sw = pair(p["stride"])
        return (p["out_channels"], kh, kw, sh, sw, pads, dh, dw, p["groups"], bool(p["bias"]))
    if type_name in ("maxpool", "avgpool"):
        kh, kw = pair(p["kernel_size"])
        sh, sw = pair(p["stride"]) if p["stride"] is not None else (kh, kw)
        ph, pw = pair(p["padding"])
        return (kh, kw, sh, sw, ph, pw, bool(p["ceil_mode"]))
    if type_name == "input":
        return (p["channels"], p["height"], p["width"])
    if type_name == "linear":
        return (p["out_features"], bool(p["bias"]))
    if type_name == "batchnorm":
        return (bool(p["affine"]),)
    if type_name == "adaptive_avgpool":
        return pair(p["output_size"])
    return ()
