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
from typing import Any, Callable

from .errors import ParamError

Shape = tuple
RF = tuple  # ((size_h, jump_h, start_h), (size_w, jump_w, start_w))

INPUT_RF: RF = ((1, 1, 0), (1, 1, 0))


class Problem(Exception):
    """Raised by an ``infer`` function: the text follows the node's label in a message."""


@dataclass(frozen=True)
class ParamSpec:
    """One parameter of a node type."""

    name: str
    kind: str  # "int", "pair", "padding", "bool", "float", "optional_pair"
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    required: bool = False
    doc: str = ""


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
    ps = [ParamSpec("out_channels", "int", None, 1, 1 << 20, required=True,
                    doc="number of filters = output channels")]
    if with_kernel:
        ps.append(ParamSpec("kernel_size", "pair", None, 1, 4096, required=True))
    ps.append(ParamSpec("stride", "pair", 1, 1, 4096))
    if with_kernel:
        ps.append(ParamSpec("padding", "padding", 0, 0, 4096))
        ps.append(ParamSpec("dilation", "pair", 1, 1, 4096))
    ps.append(ParamSpec("groups", "int", 1, 1, 1 << 20))
    ps.append(ParamSpec("bias", "bool", True))
    return tuple(ps)


def _pool_params() -> tuple[ParamSpec, ...]:
    return (
        ParamSpec("kernel_size", "pair", None, 1, 4096, required=True),
        ParamSpec("stride", "optional_pair", None, 1, 4096, doc="defaults to kernel_size"),
        ParamSpec("padding", "pair", 0, 0, 4096),
        ParamSpec("ceil_mode", "bool", False),
    )


NODE_TYPES: dict[str, NodeType] = {t.name: t for t in (
    NodeType("input", "Input", "Input", (
        ParamSpec("channels", "int", 3, 1, 1 << 20),
        ParamSpec("height", "int", 224, 1, 1 << 16),
        ParamSpec("width", "int", 224, 1, 1 << 16),
    ), 0, 0, "the image entering the network (batch 1)"),
    NodeType("conv", "Conv k×k", "Convolution", _conv_params(True), 1, 1, "2-D convolution"),
    NodeType("conv1x1", "1×1 Conv", "Convolution", _conv_params(False), 1, 1,
             "2-D convolution with a 1×1 kernel: mixes channels, keeps H×W"),
    NodeType("maxpool", "Max Pool", "Pooling", _pool_params(), 1, 1, "max pooling"),
    NodeType("avgpool", "Avg Pool", "Pooling", _pool_params(), 1, 1, "average pooling"),
    NodeType("global_avgpool", "Global Avg Pool", "Pooling", (), 1, 1,
             "average over H×W, keeps channels (output C×1×1)"),
    NodeType("concat", "Concat", "Merge", (), 2, None, "concatenate along channels, in port order"),
    NodeType("add", "Add", "Merge", (), 2, None, "element-wise sum of equal shapes"),
    NodeType("relu", "ReLU", "Other", (), 1, 1, "max(x, 0)"),
    NodeType("batchnorm", "BatchNorm", "Other", (
        ParamSpec("eps", "float", 1e-5, 0.0, 1.0),
        ParamSpec("momentum", "float", 0.1, 0.0, 1.0),
        ParamSpec("affine", "bool", True),
    ), 1, 1, "batch normalisation over channels"),
    NodeType("flatten", "Flatten", "Other", (), 1, 1, "C×H×W → features"),
    NodeType("linear", "Linear", "Other", (
        ParamSpec("out_features", "int", None, 1, 1 << 24, required=True),
        ParamSpec("bias", "bool", True),
    ), 1, 1, "fully connected layer on features"),
    NodeType("dropout", "Dropout", "Other", (
        ParamSpec("p", "float", 0.5, 0.0, 1.0),
    ), 1, 1, "zeroes inputs at random while training; identity in eval"),
)}

CATEGORIES: tuple[str, ...] = ("Input", "Convolution", "Pooling", "Merge", "Other")


# --------------------------------------------------------------------------- params
def _where(node: str | None) -> str:
    return f"node '{node}'" if node is not None else "node"


def _check_int(value: Any, spec: ParamSpec, node: str | None, what: str = "") -> int:
    name = spec.name + what
    if isinstance(value, bool) or not isinstance(value, int):
        raise ParamError(f"{_where(node)}: '{name}' must be an integer, got {value!r}",
                         node, spec.name)
    if spec.minimum is not None and value < spec.minimum:
        raise ParamError(f"{_where(node)}: '{name}' must be at least {int(spec.minimum)}, "
                         f"got {value}", node, spec.name)
    if spec.maximum is not None and value > spec.maximum:
        raise ParamError(f"{_where(node)}: '{name}' must be at most {int(spec.maximum)}, "
                         f"got {value}", node, spec.name)
    return value


def _check_pair(value: Any, spec: ParamSpec, node: str | None) -> int | list[int]:
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise ParamError(f"{_where(node)}: '{spec.name}' must be an integer or [h, w], "
                             f"got {list(value)!r}", node, spec.name)
        return [_check_int(value[0], spec, node, "[0]"), _check_int(value[1], spec, node, "[1]")]
    return _check_int(value, spec, node)


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
        raise ParamError(f"{_where(node)}: {type_name} has no parameter '{name}' "
                         f"(known: {known})", node, name)
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
            raise ParamError(f"{_where(node)}: 'padding' must be an integer, [h, w] or "
                             f"\"same\", got {value!r}", node, name)
        return _check_pair(value, spec, node)
    if kind == "bool":
        if not isinstance(value, bool):
            raise ParamError(f"{_where(node)}: '{name}' must be true or false, got {value!r}",
                             node, name)
        return value
    if kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ParamError(f"{_where(node)}: '{name}' must be a number, got {value!r}",
                             node, name)
        if spec.minimum is not None and value < spec.minimum or \
                spec.maximum is not None and value > spec.maximum:
            raise ParamError(f"{_where(node)}: '{name}' must be between {spec.minimum:g} and "
                             f"{spec.maximum:g}, got {value}", node, name)
        return float(value)
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
        raise ParamError(f"{_where(node)}: unknown node type {type_name!r} (known: {known})",
                         node, "type")
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
        raise ParamError(f"{_where(node)}: padding \"same\" needs stride 1 (as in torch); "
                         f"set padding to a number or stride to 1", node, "padding")
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
    return ()


# --------------------------------------------------------------------------- inference
# Single-input types: INFER_ONE[type](compiled, input shape, input id) and
# RECEPTIVE_ONE[type](compiled, input rf, input shape). Merges (concat, add):
# INFER_MERGE[type](compiled, shapes, ids) and RECEPTIVE_MERGE[type](compiled, rfs, shapes).
# An infer function returns (shape, weights, biases, other_params, macs) or raises Problem.

def _need_spatial(s: tuple, src: str, what: str) -> None:
    raise Problem(f"needs a C×H×W input but '{src}' gives {fmt_shape(s)} features; "
                  f"{what} cannot follow flatten or linear")


def _too_big(keff: int, span: int, axis: str) -> Problem:
    return Problem(f"kernel {keff} is larger than its padded input {span} along {axis}; "
                   f"lower kernel_size or dilation, or add padding")


def _infer_conv(c: tuple, s: tuple, src: str) -> tuple:
    if len(s) != 3:
        _need_spatial(s, src, "a convolution")
    cin, h, w = s
    out_c, kh, kw, sh, sw, (pt, pb, pl, pr), dh, dw, g, bias = c
    if g != 1:
        if cin % g:
            raise Problem(f"input channels {cin} are not divisible by groups {g}; "
                          f"make groups divide {cin}")
        if out_c % g:
            raise Problem(f"out_channels {out_c} are not divisible by groups {g}; "
                          f"make groups divide {out_c}")
    span = h + pt + pb
    keff = dh * (kh - 1) + 1
    if keff > span:
        raise _too_big(keff, span, "H")
    oh = (span - keff) // sh + 1
    span = w + pl + pr
    keff = dw * (kw - 1) + 1
    if keff > span:
        raise _too_big(keff, span, "W")
    ow = (span - keff) // sw + 1
    weights = out_c * (cin // g) * kh * kw
    return (out_c, oh, ow), weights, out_c if bias else 0, 0, weights * oh * ow


def _pool_out(size: int, k: int, s: int, p: int, ceil: bool, axis: str) -> int:
    if p * 2 > k:
        raise Problem(f"padding {p} is more than half the kernel {k} along {axis} (torch "
                      f"refuses it); lower padding")
    span = size + 2 * p
    if ceil:
        # torch: ceil((span - k) / s) + 1, minus the last window if it starts in the
        # right padding or beyond; one window may then hang over the padded input.
        out = (span - k + s - 1) // s + 1
        if out > 1 and (out - 1) * s >= size + p:
            out -= 1
    else:
        out = (span - k) // s + 1
    if out < 1:
        raise Problem(f"kernel {k} is larger than its padded input {span} along {axis}; "
                      f"lower kernel_size or add padding")
    return out


def _infer_pool(c: tuple, s: tuple, src: str) -> tuple:
    if len(s) != 3:
        _need_spatial(s, src, "pooling")
    cin, h, w = s
    kh, kw, sh, sw, ph, pw, ceil = c
    return (cin, _pool_out(h, kh, sh, ph, ceil, "H"), _pool_out(w, kw, sw, pw, ceil, "W")), 0, 0, 0, 0


def _infer_gap(c: tuple, s: tuple, src: str) -> tuple:
    if len(s) != 3:
        _need_spatial(s, src, "global pooling")
    return (s[0], 1, 1), 0, 0, 0, 0


def _infer_same(c: tuple, s: tuple, src: str) -> tuple:
    return s, 0, 0, 0, 0


def _infer_bn(c: tuple, s: tuple, src: str) -> tuple:
    if len(s) != 3:
        _need_spatial(s, src, "BatchNorm2d")
    return s, 0, 0, (2 * s[0] if c[0] else 0), 0


def _infer_flatten(c: tuple, s: tuple, src: str) -> tuple:
    if len(s) == 3:
        return (s[0] * s[1] * s[2],), 0, 0, 0, 0
    return s, 0, 0, 0, 0


def _infer_linear(c: tuple, s: tuple, src: str) -> tuple:
    if len(s) != 1:
        raise Problem(f"needs features but '{src}' gives a spatial {fmt_shape(s)} tensor; "
                      f"put a flatten (or global avg pool + flatten) before it")
    out_f, bias = c
    weights = out_f * s[0]
    return (out_f,), weights, out_f if bias else 0, 0, weights


def _infer_concat(c: tuple, shapes: list, srcs: list) -> tuple:
    first = shapes[0]
    if len(first) != 3:
        raise Problem(f"needs C×H×W inputs but '{srcs[0]}' gives {fmt_shape(first)} features")
    ch = 0
    for s, src in zip(shapes, srcs):
        if len(s) != 3:
            raise Problem(f"needs C×H×W inputs but '{src}' gives {fmt_shape(s)} features")
        if s[1] != first[1] or s[2] != first[2]:
            raise Problem(f"needs equal H×W: {first[1]}×{first[2]} from '{srcs[0]}' but "
                          f"{s[1]}×{s[2]} from '{src}'")
        ch += s[0]
    return (ch, first[1], first[2]), 0, 0, 0, 0


def _infer_add(c: tuple, shapes: list, srcs: list) -> tuple:
    first = shapes[0]
    for s, src in zip(shapes, srcs):
        if s != first:
            raise Problem(f"needs inputs of equal shape: {fmt_shape(first)} from '{srcs[0]}' "
                          f"but {fmt_shape(s)} from '{src}'")
    return first, 0, 0, 0, 0


INFER_ONE: dict[str, Callable] = {
    "conv": _infer_conv, "conv1x1": _infer_conv,
    "maxpool": _infer_pool, "avgpool": _infer_pool, "global_avgpool": _infer_gap,
    "relu": _infer_same, "dropout": _infer_same, "batchnorm": _infer_bn,
    "flatten": _infer_flatten, "linear": _infer_linear,
}
INFER_MERGE: dict[str, Callable] = {"concat": _infer_concat, "add": _infer_add}


# --------------------------------------------------------------------------- receptive field
def _rf_conv(c: tuple, rf: RF, s: tuple) -> RF:
    (size_h, jh, st_h), (size_w, jw, st_w) = rf
    _, kh, kw, sh, sw, pads, dh, dw, _, _ = c
    return ((size_h + dh * (kh - 1) * jh, jh * sh, st_h - pads[0] * jh),
            (size_w + dw * (kw - 1) * jw, jw * sw, st_w - pads[2] * jw))


def _rf_pool(c: tuple, rf: RF, s: tuple) -> RF:
    (size_h, jh, st_h), (size_w, jw, st_w) = rf
    kh, kw, sh, sw, ph, pw, _ = c
    return ((size_h + (kh - 1) * jh, jh * sh, st_h - ph * jh),
            (size_w + (kw - 1) * jw, jw * sw, st_w - pw * jw))


def _rf_whole(c: tuple, rf: RF, s: tuple) -> RF:
    """The window covering every input position (global pooling; flatten's features together).

    One flattened feature sees one position only, but features have no pixel grid: the
    window stands for all of them, which is exactly what a following linear layer sees.
    """
    if len(s) != 3:
        return rf
    (sh_, jh, st_h), (sw_, jw, st_w) = rf
    return ((sh_ + (s[1] - 1) * jh, jh * s[1], st_h), (sw_ + (s[2] - 1) * jw, jw * s[2], st_w))


def _rf_same(c: tuple, rf: RF, s: tuple) -> RF:
    return rf


def _rf_merge(c: tuple, rfs: list, shapes: list) -> RF:
    """Smallest window of the coarsest jump that covers every path at every output pixel.

    With equal jumps this is the union of the paths' windows. Where jumps differ, path
    ``p``'s window of pixel ``i`` starts at ``start_p + i*jump_p``, which drifts by
    ``i*(jump_p - J)`` against ``start + i*J``; the drift is extreme at the first or last pixel.
    """
    first = rfs[0]
    (size_h, jh, lo_h), (size_w, jw, lo_w) = first
    hi_h = lo_h + size_h
    hi_w = lo_w + size_w
    for r in rfs:
        if r is first:
            continue
        (sh_, jh_, th), (sw_, jw_, tw) = r
        if jh_ != jh or jw_ != jw:
            return _rf_merge_drift(rfs, shapes[0])
        if th < lo_h:
            lo_h = th
        if th + sh_ > hi_h:
            hi_h = th + sh_
        if tw < lo_w:
            lo_w = tw
        if tw + sw_ > hi_w:
            hi_w = tw + sw_
    return ((hi_h - lo_h, jh, lo_h), (hi_w - lo_w, jw, lo_w))


def _rf_merge_drift(rfs: list, s: tuple) -> RF:
    """:func:`_rf_merge` for paths of unequal jumps."""
    axes = []
    for a in (0, 1):
        last = s[a + 1] - 1 if len(s) == 3 else 0
        jump = max(r[a][1] for r in rfs)
        start = end = None
        for size_p, jump_p, start_p in (r[a] for r in rfs):
            drift = last * (jump_p - jump)
            lo = start_p + min(0, drift)
            hi = start_p + size_p + max(0, drift)
            if start is None or lo < start:
                start = lo
            if end is None or hi > end:
                end = hi
        axes.append((end - start, jump, start))
    return (axes[0], axes[1])


RECEPTIVE_ONE: dict[str, Callable] = {
    "conv": _rf_conv, "conv1x1": _rf_conv, "maxpool": _rf_pool, "avgpool": _rf_pool,
    "global_avgpool": _rf_whole, "flatten": _rf_whole, "linear": _rf_same,
    "relu": _rf_same, "dropout": _rf_same, "batchnorm": _rf_same,
}
RECEPTIVE_MERGE: dict[str, Callable] = {"concat": _rf_merge, "add": _rf_merge}


# --------------------------------------------------------------------------- text
def fmt_shape(shape: tuple | None) -> str:
    """``(64, 28, 28)`` → ``64×28×28``; ``(1000,)`` → ``1000``."""
    if shape is None:
        return "?"
    return "×".join(str(d) for d in shape)


def _pair_text(v: Any) -> str:
    h, w = pair(v)
    return f"{h}" if h == w else f"{h},{w}"


def summary_text(type_name: str, p: dict) -> str:
    """Key parameters in one short line, e.g. ``3×3 · 128 · s1 p1``."""
    if type_name == "conv":
        kh, kw = pair(p["kernel_size"])
        pad = "same" if p["padding"] == "same" else _pair_text(p["padding"])
        text = f"{kh}×{kw} · {p['out_channels']} · s{_pair_text(p['stride'])} p{pad}"
        if pair(p["dilation"]) != (1, 1):
            text += f" d{_pair_text(p['dilation'])}"
        if p["groups"] != 1:
            text += f" g{p['groups']}"
        return text
    if type_name == "conv1x1":
        text = f"1×1 · {p['out_channels']}"
        if pair(p["stride"]) != (1, 1):
            text += f" · s{_pair_text(p['stride'])}"
        if p["groups"] != 1:
            text += f" g{p['groups']}"
        return text
    if type_name in ("maxpool", "avgpool"):
        kh, kw = pair(p["kernel_size"])
        s = p["stride"] if p["stride"] is not None else p["kernel_size"]
        text = f"{kh}×{kw} · s{_pair_text(s)} p{_pair_text(p['padding'])}"
        return text + (" ceil" if p["ceil_mode"] else "")
    if type_name == "input":
        return f"{p['channels']}×{p['height']}×{p['width']}"
    if type_name == "linear":
        return f"→ {p['out_features']}"
    if type_name == "dropout":
        return f"p={p['p']:g}"
    if type_name == "batchnorm":
        return f"eps={p['eps']:g}"
    return ""
