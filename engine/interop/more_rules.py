"""Mapping rules of the node types added for timm's families, in module and functional form.

Each table maps a ``torch.nn`` class, a function or a ``Tensor`` method to a rule giving
``(node type, params)`` (module rules take the module, the others the fx node). A rule
raises :class:`Unsupported` with the operation in words when the call has no node type
as written. :mod:`engine.interop.rules` merges these tables into its own.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import fx, nn

from engine.interop.fx_args import call_arg, int_or_pair


class Unsupported(Exception):
    """The operation (as in the message) has no node type as written."""


def _const(node: fx.Node, i: int, name: str, default, what: str):
    v = call_arg(node, i, name, default)
    if isinstance(v, fx.Node):
        raise Unsupported(f"{what} with {name} computed from a tensor")
    return v


# --------------------------------------------------------------------------- activations
def _gelu(approximate: str, what: str) -> tuple[str, dict]:
    if approximate not in ("none", "tanh"):
        raise Unsupported(f"{what} with approximate={approximate!r}")
    return "gelu", {"approximate": approximate}


def _softmax(dim, what: str) -> tuple[str, dict]:
    # dim 1 (or -3 on C×H×W) is over channels; -1 is accepted for a feature vector and
    # checked against the input's shape after the analysis (see SOFTMAX_LAST).
    if dim not in (1, -3, -1):
        raise Unsupported(f"softmax over dim {dim} (the Softmax node is over channels, dim 1)")
    return "softmax", {}


# --------------------------------------------------------------------------- resizing
def _upsample(size, scale, mode, align, recompute, what: str) -> tuple[str, dict]:
    if mode not in ("nearest", "bilinear"):
        raise Unsupported(f"{what} with mode '{mode}' (the Upsample node: nearest, bilinear)")
    if size is None and scale is None:
        raise Unsupported(f"{what} without size or scale_factor")
    if isinstance(scale, (tuple, list)):
        if len(set(float(v) for v in scale)) != 1:
            raise Unsupported(f"{what} with different scale factors for H and W")
        scale = scale[0]
    if scale is not None and recompute and float(scale) != int(scale):
        raise Unsupported(f"{what} with recompute_scale_factor and a fractional scale")
    p = {
        "size": None if size is None else int_or_pair(size),
        "scale_factor": None if scale is None or size is not None else float(scale),
        "mode": mode,
        "align_corners": bool(align) if mode == "bilinear" else False,
    }
    return "upsample", p


def _fn_interpolate(n: fx.Node):
    what = "F.interpolate"
    a = [
        _const(n, i, nm, d, what)
        for i, nm, d in (
            (1, "size", None),
            (2, "scale_factor", None),
            (3, "mode", "nearest"),
            (4, "align_corners", None),
            (5, "recompute_scale_factor", None),
        )
    ]
    if _const(n, 6, "antialias", False, what):
        raise Unsupported(f"{what} with antialias")
    return _upsample(*a, what)


def _conv_transpose(m: nn.ConvTranspose2d) -> tuple[str, dict]:
    if m.padding_mode != "zeros":
        raise Unsupported(f"nn.ConvTranspose2d with padding_mode='{m.padding_mode}'")
    return "conv_transpose", {
        "out_channels": m.out_channels,
        "kernel_size": int_or_pair(m.kernel_size),
        "stride": int_or_pair(m.stride),
        "padding": int_or_pair(m.padding),
        "output_padding": int_or_pair(m.output_padding),
        "groups": m.groups,
        "bias": m.bias is not None,
        "dilation": int_or_pair(m.dilation),
    }


def _fn_shuffle(n: fx.Node):
    return "channel_shuffle", {"groups": int(_const(n, 1, "groups", None, "channel_shuffle"))}


# --------------------------------------------------------------------------- padding
def _pad(pads, mode: str, value, what: str) -> tuple[str, dict]:
    if mode not in ("constant", "reflect", "replicate"):
        raise Unsupported(f"{what} with mode '{mode}'")
    pads = [int(v) for v in pads]
    if len(pads) == 2:
        pads += [0, 0]
    if len(pads) != 4:
        raise Unsupported(f"{what} of other dimensions than H and W ({len(pads)} values)")
    if min(pads) < 0:
        raise Unsupported(f"{what} with negative padding (cropping)")
    value = 0.0 if value is None else float(value)
    if mode == "constant" and not math.isfinite(value):
        raise Unsupported(f"{what} with the value {value} (the Pad node fills with a number)")
    left, right, top, bottom = pads
    p = {"left": left, "right": right, "top": top, "bottom": bottom, "mode": mode}
    p["value"] = value if mode == "constant" else 0.0
    return "pad", p


def _fn_pad(n: fx.Node):
    what = "F.pad"
    pads = _const(n, 1, "pad", None, what)
    if not isinstance(pads, (tuple, list)):
        raise Unsupported(f"{what} without a list of paddings")
    return _pad(
        pads, _const(n, 2, "mode", "constant", what), _const(n, 3, "value", 0.0, what), what
    )


def _pad_module(m) -> tuple[str, dict]:
    mode = {
        nn.ZeroPad2d: "constant",
        nn.ConstantPad2d: "constant",
        nn.ReflectionPad2d: "reflect",
        nn.ReplicationPad2d: "replicate",
    }[type(m)]
    return _pad(m.padding, mode, getattr(m, "value", 0.0), f"nn.{type(m).__name__}")


def _clamp(lo, hi, what: str) -> tuple[str, dict]:
    if lo is None and hi is None:
        raise Unsupported(f"{what} without bounds")
    return "clamp", {
        "min": None if lo is None else float(lo),
        "max": None if hi is None else float(hi),
    }


def _fn_clamp(n: fx.Node):
    what = "clamp"
    return _clamp(_const(n, 1, "min", None, what), _const(n, 2, "max", None, what), what)


def _fn_hardtanh(n: fx.Node):
    what = "F.hardtanh"
    return _clamp(_const(n, 1, "min_val", -1.0, what), _const(n, 2, "max_val", 1.0, what), what)


MODULES: dict = {
    nn.ZeroPad2d: _pad_module,
    nn.ConstantPad2d: _pad_module,
    nn.ReflectionPad2d: _pad_module,
    nn.ReplicationPad2d: _pad_module,
    nn.Hardtanh: lambda m: _clamp(m.min_val, m.max_val, "nn.Hardtanh"),
    nn.Upsample: lambda m: _upsample(
        m.size, m.scale_factor, m.mode, m.align_corners, m.recompute_scale_factor, "nn.Upsample"
    ),
    nn.UpsamplingNearest2d: lambda m: _upsample(
        m.size, m.scale_factor, "nearest", None, None, "nn.UpsamplingNearest2d"
    ),
    nn.UpsamplingBilinear2d: lambda m: _upsample(
        m.size, m.scale_factor, "bilinear", True, None, "nn.UpsamplingBilinear2d"
    ),
    nn.ConvTranspose2d: _conv_transpose,
    nn.PReLU: lambda m: ("prelu", {"num_parameters": int(m.num_parameters), "init": float(m.init)}),
    nn.ChannelShuffle: lambda m: ("channel_shuffle", {"groups": int(m.groups)}),
    nn.GELU: lambda m: _gelu(m.approximate, "nn.GELU"),
    nn.LeakyReLU: lambda m: ("leaky_relu", {"negative_slope": float(m.negative_slope)}),
    nn.ELU: lambda m: ("elu", {"alpha": float(m.alpha)}),
    nn.Mish: lambda m: ("mish", {}),
    nn.Tanh: lambda m: ("tanh", {}),
    nn.Softmax: lambda m: _softmax(m.dim, "nn.Softmax"),
}


def _fn_gelu(n: fx.Node):
    return _gelu(_const(n, 1, "approximate", "none", "F.gelu"), "F.gelu")


def _fn_leaky(n: fx.Node):
    slope = _const(n, 1, "negative_slope", 0.01, "F.leaky_relu")
    return "leaky_relu", {"negative_slope": float(slope)}


def _fn_elu(n: fx.Node):
    return "elu", {"alpha": float(_const(n, 1, "alpha", 1.0, "F.elu"))}


def _fn_softmax(n: fx.Node):
    dim = _const(n, 1, "dim", None, "softmax")
    if dim is None:
        raise Unsupported("softmax without dim")
    return _softmax(dim, "softmax")


def _fn_hardsigmoid(n: fx.Node):
    return "hardsigmoid", {}


def _simple(t: str):
    return lambda n: (t, {})


FUNCTIONS: dict = {
    F.gelu: _fn_gelu,
    F.leaky_relu: _fn_leaky,
    F.elu: _fn_elu,
    F.mish: _simple("mish"),
    torch.tanh: _simple("tanh"),
    F.tanh: _simple("tanh"),
    F.softmax: _fn_softmax,
    torch.softmax: _fn_softmax,
    F.interpolate: _fn_interpolate,
    F.pad: _fn_pad,
    torch.clamp: _fn_clamp,
    torch.clip: _fn_clamp,
    F.hardtanh: _fn_hardtanh,
    torch.channel_shuffle: _fn_shuffle,
    F.channel_shuffle: _fn_shuffle,
}
METHODS: dict = {
    "tanh": _simple("tanh"),
    "softmax": _fn_softmax,
    "sigmoid_": _simple("sigmoid"),
    "tanh_": _simple("tanh"),
    "clamp": _fn_clamp,
    "clamp_": _fn_clamp,
    "clip": _fn_clamp,
}


def softmax_on_last(n: fx.Node) -> bool:
    """Whether a softmax node's dim is -1 (valid only on a feature vector)."""
    if n.op == "call_module":
        return False
    return call_arg(n, 1, "dim", None) == -1
