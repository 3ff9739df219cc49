"""The one per-node-type table of ``nn`` constructors, with literal or expression fields.

Both printings use it (the readable export, :mod:`engine.codegen.emit_blocks`, and the
flat one, :mod:`engine.codegen.emit`): a field is a checked literal, or
``{"expr": text}`` from a block type (re-written from its checked tree), so no user text
reaches the code. Fields at torch's default are left out. No torch import.
"""

from __future__ import annotations

import ast

from engine.blocks.expr import to_code
from engine.codegen import node_code
from engine.nodes import pair

_SIMPLE = {"relu": "nn.ReLU()", "relu6": "nn.ReLU6()", "hardswish": "nn.Hardswish()",
           "hardsigmoid": "nn.Hardsigmoid()", "silu": "nn.SiLU()", "sigmoid": "nn.Sigmoid()",
           "identity": "nn.Identity()", "global_avgpool": "nn.AdaptiveAvgPool2d(1)"}  # fmt: skip
FUNCS = {"concat", "add", "mul", "flatten"}


def _same_pads(p: dict) -> tuple[int, int, int, int] | None:
    """``(left, right, top, bottom)`` of an uneven ``"same"`` padding, ``None`` if even."""
    kh, kw = pair(p["kernel_size"])
    dh, dw = pair(p["dilation"])
    th, tw = dh * (kh - 1), dw * (kw - 1)
    if th % 2 == 0 and tw % 2 == 0:
        return None
    return tw // 2, tw - tw // 2, th // 2, th - th // 2


def value_text(value) -> str:
    """A parameter value (a literal, or ``{"expr": …}``) as code."""
    if isinstance(value, dict):
        return to_code(ast.parse(value["expr"], mode="eval").body)
    if isinstance(value, (list, tuple)):
        h, w = pair(value)
        return str(h) if h == w else f"({h}, {w})"
    if isinstance(value, float):
        return repr(value)
    return repr(value)


def _is(value, default) -> bool:
    """Whether a literal value equals ``default`` (expressions never do)."""
    if isinstance(value, dict):
        return False
    if isinstance(value, (list, tuple)) and not isinstance(default, (list, tuple)):
        return pair(value) == pair(default)
    return value == default


def layer_ctor(ntype: str, p: dict, in_ch: str) -> str | None:
    """The ``nn`` constructor of a node type, with literal or expression fields.

    ``None`` for a node that is an expression in ``forward`` (see
    :func:`engine.codegen.node_code.forward_text`).
    """
    if ntype in node_code.TYPES:
        return node_code.module_ctor(ntype, p, in_ch)
    if ntype in ("conv", "conv1x1"):
        args = [in_ch, value_text(p["out_channels"])]
        args.append(
            f"kernel_size={value_text(p['kernel_size'])}" if ntype == "conv" else "kernel_size=1"
        )
        if not _is(p.get("stride", 1), 1):
            args.append(f"stride={value_text(p['stride'])}")
        if ntype == "conv":
            pad = p.get("padding", 0)
            if pad == "same":
                if _same_pads(p) is None:
                    args.append("padding='same'")
            elif not _is(pad, 0):
                args.append(f"padding={value_text(pad)}")
            if not _is(p.get("dilation", 1), 1):
                args.append(f"dilation={value_text(p['dilation'])}")
        if not _is(p.get("groups", 1), 1):
            args.append(f"groups={value_text(p['groups'])}")
        if not _is(p.get("bias", True), True):
            args.append("bias=False" if p["bias"] is False else f"bias={value_text(p['bias'])}")
        return f"nn.Conv2d({', '.join(args)})"
    if ntype == "batchnorm":
        args = [in_ch]
        if not _is(p.get("eps", 1e-5), 1e-5):
            args.append(f"eps={value_text(p['eps'])}")
        if not _is(p.get("momentum", 0.1), 0.1):
            args.append(f"momentum={value_text(p['momentum'])}")
        if not _is(p.get("affine", True), True):
            args.append("affine=False")
        return f"nn.BatchNorm2d({', '.join(args)})"
    if ntype in ("maxpool", "avgpool"):
        args = [f"kernel_size={value_text(p['kernel_size'])}"]
        if p.get("stride") is not None:
            args.append(f"stride={value_text(p['stride'])}")
        if not _is(p.get("padding", 0), 0):
            args.append(f"padding={value_text(p['padding'])}")
        if not _is(p.get("ceil_mode", False), False):
            args.append("ceil_mode=True")
        if ntype == "avgpool" and not _is(p.get("count_include_pad", True), True):
            args.append(f"count_include_pad={value_text(p['count_include_pad'])}")
        if ntype == "avgpool" and p.get("divisor_override") is not None:
            args.append(f"divisor_override={value_text(p['divisor_override'])}")
        return f"nn.{'MaxPool2d' if ntype == 'maxpool' else 'AvgPool2d'}({', '.join(args)})"
    if ntype == "linear":
        bias = "" if _is(p.get("bias", True), True) else ", bias=False"
        return f"nn.Linear({in_ch}, {value_text(p['out_features'])}{bias})"
    if ntype == "dropout":
        return f"nn.Dropout(p={value_text(p.get('p', 0.5))})"
    if ntype == "adaptive_avgpool":
        h, w = pair(p["output_size"])
        return f"nn.AdaptiveAvgPool2d(({h}, {w}))"
    return _SIMPLE[ntype]


def op_of(ntype: str) -> str:
    return {"concat": "cat", "add": "add", "mul": "mul", "flatten": "flatten"}.get(ntype, "call")
