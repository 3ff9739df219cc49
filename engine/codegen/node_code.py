"""Code text of the node types added after the first printers: one table for both writers.

For each type here, :func:`module_ctor` gives the ``nn`` constructor (or ``None`` when the
node is an expression in ``forward``) and :func:`forward_text` the right-hand side in
``forward``. Parameter values are checked literals or ``{"expr": text}`` from a block type
(re-written from its checked tree), so no user text reaches the code. Arguments at torch's
default are left out. No torch import here.
"""

from __future__ import annotations

import ast

from engine.blocks.expr import to_code
from engine.nodes import pair

# Always an ``nn`` submodule (named by its target, e.g. ``layer1.0.act``).
_MODULES = {
    "gelu",
    "leaky_relu",
    "elu",
    "mish",
    "tanh",
    "softmax",
    "conv_transpose",
    "upsample",
    "layernorm2d",
    "grn",
    "prelu",
}
# A submodule when its parameters are torch's defaults, an expression otherwise.
_SOMETIMES = {"hardsigmoid"}
# Always an expression in ``forward``.
_EXPRESSIONS = {"channel_slice", "channel_shuffle", "scale_shift", "pad", "clamp"}

TYPES = frozenset(_MODULES | _SOMETIMES | _EXPRESSIONS)
#: Types that are ``nn`` submodules with their default parameters.
MODULES = frozenset(_MODULES | _SOMETIMES)


#: Classes the generated code defines before its own, for layers torch has no module for:
#: ``{type: (class name, lines)}``. The names are reserved (``naming.CODE_NAMES``).
HELPERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "grn": (
        "GlobalResponseNorm",
        (
            "class GlobalResponseNorm(nn.Module):",
            '    """Global response normalisation of ConvNeXt V2, channels first (N x C x H x W)."""',
            "",
            "    def __init__(self, channels, eps=1e-06):",
            "        super().__init__()",
            "        self.eps = eps",
            "        self.weight = nn.Parameter(torch.zeros(channels))",
            "        self.bias = nn.Parameter(torch.zeros(channels))",
            "",
            "    def forward(self, x):",
            "        g = x.norm(p=2, dim=(2, 3), keepdim=True)  # each channel's L2 norm over H x W",
            "        n = g / (g.mean(dim=1, keepdim=True) + self.eps)  # relative to the mean",
            "        w, b = self.weight.view(1, -1, 1, 1), self.bias.view(1, -1, 1, 1)",
            "        return x + torch.addcmul(b, w, x * n)",
        ),
    ),
}


def helper_lines(types) -> list[str]:
    """The helper classes the node types ``types`` need, each followed by two blank lines."""
    out: list[str] = []
    for t, (_, lines) in HELPERS.items():
        if t in types:
            out += [*lines, "", ""]
    return out


def val(value) -> str:
    """A parameter value (a literal, or ``{"expr": …}``) as code."""
    if isinstance(value, dict):
        return to_code(ast.parse(value["expr"], mode="eval").body)
    if isinstance(value, (list, tuple)):
        h, w = pair(value)
        return str(h) if h == w else f"({h}, {w})"
    if isinstance(value, float):
        return repr(value)
    return repr(value)


def _atom(value) -> str:
    """:func:`val`, parenthesised when it is an expression (so it binds as one factor)."""
    text = val(value)
    return f"({text})" if isinstance(value, dict) else text


def _is(value, default) -> bool:
    """Whether a literal equals ``default`` (expressions never do)."""
    if isinstance(value, dict):
        return False
    return value == default


def is_module(ntype: str, p: dict) -> bool:
    """Whether a node of ``ntype`` with params ``p`` is an ``nn`` submodule."""
    if ntype in _MODULES:
        return True
    if ntype == "hardsigmoid":
        return _is(p.get("alpha", 1 / 6), 1 / 6) and _is(p.get("beta", 0.5), 0.5)
    return False


def plain_call(ntype: str, p: dict) -> bool:
    """Whether forward calls the node's submodule on its input as it is (``self.m(x)``)."""
    return ntype != "layernorm2d" and is_module(ntype, p)


def _kw(p: dict, name: str, default) -> list[str]:
    v = p.get(name, default)
    return [] if _is(v, default) else [f"{name}={val(v)}"]


def module_ctor(ntype: str, p: dict, in_ch: str) -> str | None:
    """The ``nn`` constructor of a node, or ``None`` if it is an expression in forward.

    Parameters
    ----------
    ntype : str
        A type of :data:`TYPES`.
    p : dict
        Its parameters (defaults filled in).
    in_ch : str
        The input channels as code (a number, or a name in a block class).
    """
    if not is_module(ntype, p):
        return None
    if ntype == "gelu":
        approx = p.get("approximate", "none")
        return "nn.GELU()" if _is(approx, "none") else f"nn.GELU(approximate={val(approx)})"
    if ntype == "leaky_relu":
        return f"nn.LeakyReLU({', '.join(_kw(p, 'negative_slope', 0.01))})"
    if ntype == "elu":
        return f"nn.ELU({', '.join(_kw(p, 'alpha', 1.0))})"
    if ntype == "mish":
        return "nn.Mish()"
    if ntype == "tanh":
        return "nn.Tanh()"
    if ntype == "softmax":
        return "nn.Softmax(dim=1)"
    if ntype == "hardsigmoid":
        return "nn.Hardsigmoid()"
    if ntype == "conv_transpose":
        args = [in_ch, val(p["out_channels"]), f"kernel_size={val(p['kernel_size'])}"]
        for name, default in (("stride", 1), ("padding", 0), ("output_padding", 0)):
            args += _kw_pair(p, name, default)
        args += _kw(p, "groups", 1) + _kw(p, "bias", True) + _kw_pair(p, "dilation", 1)
        return f"nn.ConvTranspose2d({', '.join(args)})"
    if ntype == "upsample":
        size = p.get("size")  # used when set (scale_factor is then ignored)
        args = [f"scale_factor={val(p['scale_factor'])}" if size is None else f"size={_size(size)}"]
        mode = p.get("mode", "nearest")
        if not _is(mode, "nearest"):
            args.append(f"mode={val(mode)}")
            # always given for bilinear: torch's None means False, said explicitly here
            args.append(f"align_corners={val(p.get('align_corners', False))}")
        return f"nn.Upsample({', '.join(args)})"
    if ntype == "prelu":
        args = _kw(p, "num_parameters", 1) + _kw(p, "init", 0.25)
        return f"nn.PReLU({', '.join(args)})"
    if ntype == "grn":
        return f"GlobalResponseNorm({', '.join([in_ch] + _kw(p, 'eps', 1e-6))})"
    if ntype == "layernorm2d":
        # nn.LayerNorm over the last axis; forward moves channels there and back.
        args = [in_ch] + _kw(p, "eps", 1e-5) + _kw(p, "elementwise_affine", True)
        return f"nn.LayerNorm({', '.join(args)})"
    raise AssertionError(ntype)  # pragma: no cover


def _kw_pair(p: dict, name: str, default: int) -> list[str]:
    v = p.get(name, default)
    if not isinstance(v, dict) and pair(v) == (default, default):
        return []
    return [f"{name}={val(v)}"]


def _size(v) -> str:
    """An output size as a tuple (``(h, w)``), as nn.Upsample takes it."""
    if isinstance(v, dict):
        return val(v)
    h, w = pair(v)
    return f"({h}, {w})"


def forward_text(ntype: str, p: dict, ins: list[str], call: str) -> str:
    """The right-hand side computing the node in ``forward``.

    Parameters
    ----------
    ntype : str
        A type of :data:`TYPES`.
    p : dict
        Its parameters.
    ins : list of str
        The input variables, in port order.
    call : str
        The submodule as code (``self.act``), used when the node is a module.
    """
    x = ins[0]
    if ntype == "layernorm2d":
        return f"{call}({x}.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)"
    if is_module(ntype, p):
        return f"{call}({x})"
    if ntype == "channel_slice":
        start = p.get("start", 0)
        return f"{x}[:, {'' if _is(start, 0) else val(start)}:{val(p['stop'])}]"
    if ntype == "channel_shuffle":
        # ShuffleNet's view → transpose → view, written so that any batch size works.
        return f"{x}.unflatten(1, ({val(p['groups'])}, -1)).transpose(1, 2).flatten(1, 2)"
    if ntype == "scale_shift":
        scale, shift = p.get("scale", 1.0), p.get("shift", 0.0)
        text = x if _is(scale, 1.0) else f"{x} * {_atom(scale)}"
        if not _is(shift, 0.0):
            text = f"{text} + {_atom(shift)}"
        return text
    if ntype == "clamp":
        lo, hi = p.get("min"), p.get("max")
        if lo is not None and hi is not None:
            return f"{x}.clamp({val(lo)}, {val(hi)})"
        return f"{x}.clamp(min={val(lo)})" if lo is not None else f"{x}.clamp(max={val(hi)})"
    if ntype == "pad":
        sides = ", ".join(val(p.get(k, 0)) for k in ("left", "right", "top", "bottom"))
        extra = "" if _is(p.get("mode", "constant"), "constant") else f", mode={val(p['mode'])}"
        if not _is(p.get("value", 0.0), 0.0):
            extra += f", value={val(p['value'])}"
        return f"nn.functional.pad({x}, ({sides}){extra})"
    if ntype == "hardsigmoid":
        # clamp(alpha*x + beta, 0, 1): torch's Hardsigmoid has alpha 1/6 and beta 1/2 fixed.
        return f"({_atom(p['alpha'])} * {x} + {_atom(p['beta'])}).clamp(0.0, 1.0)"
    raise AssertionError(ntype)  # pragma: no cover
