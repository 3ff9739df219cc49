"""Short texts for nodes: shapes (``64×28×28``) and one-line parameter summaries."""

from __future__ import annotations

from typing import Any

from engine.nodes.params import pair


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
        text += " ceil" if p["ceil_mode"] else ""
        if type_name == "avgpool" and not p.get("count_include_pad", True):
            text += " excl-pad"
        if type_name == "avgpool" and p.get("divisor_override") is not None:
            text += f" ÷{p['divisor_override']}"
        return text
    if type_name == "input":
        return f"{p['channels']}×{p['height']}×{p['width']}"
    if type_name == "linear":
        return f"→ {p['out_features']}"
    if type_name == "dropout":
        return f"p={p['p']:g}"
    if type_name == "batchnorm":
        return f"eps={p['eps']:g}"
    if type_name == "gelu":
        return "tanh approx." if p["approximate"] == "tanh" else ""
    if type_name == "leaky_relu":
        return f"slope {p['negative_slope']:g}"
    if type_name == "elu":
        return f"α={p['alpha']:g}"
    if type_name == "hardsigmoid":
        if p["alpha"] == 1 / 6 and p["beta"] == 0.5:
            return ""
        return f"α={p['alpha']:.4g} β={p['beta']:.4g}"
    if type_name == "softmax":
        return "over channels"
    if type_name == "prelu":
        return "per channel" if p["num_parameters"] > 1 else "shared slope"
    if type_name == "clamp":
        lo = "−∞" if p["min"] is None else f"{p['min']:g}"
        hi = "∞" if p["max"] is None else f"{p['max']:g}"
        return f"[{lo}, {hi}]"
    if type_name == "conv_transpose":
        kh, kw = pair(p["kernel_size"])
        text = f"{kh}×{kw} · {p['out_channels']} · s{_pair_text(p['stride'])}"
        if pair(p["padding"]) != (0, 0):
            text += f" p{_pair_text(p['padding'])}"
        if pair(p["output_padding"]) != (0, 0):
            text += f" op{_pair_text(p['output_padding'])}"
        if pair(p["dilation"]) != (1, 1):
            text += f" d{_pair_text(p['dilation'])}"
        if p["groups"] != 1:
            text += f" g{p['groups']}"
        return text
    if type_name == "upsample":
        if p["size"] is not None:
            h, w = pair(p["size"])
            text = f"→ {h}×{w}"
        else:
            text = f"×{p['scale_factor']:g}"
        if p["mode"] == "bilinear":
            text += " bilinear" + (" aligned" if p["align_corners"] else "")
        return text
    if type_name == "layernorm2d":
        return f"eps={p['eps']:g}"
    if type_name == "channel_slice":
        return f"[{p['start']}:{p['stop']}]"
    if type_name == "channel_shuffle":
        return f"{p['groups']} groups"
    if type_name == "pad":
        sides = (p["left"], p["right"], p["top"], p["bottom"])
        text = f"l{sides[0]} r{sides[1]} t{sides[2]} b{sides[3]}"
        if p["mode"] != "constant":
            text += f" {p['mode']}"
        elif p["value"] != 0.0:
            text += f" ={p['value']:g}"
        return text
    if type_name == "scale_shift":
        parts = []
        if p["scale"] != 1.0:
            parts.append(f"×{p['scale']:g}")
        if p["shift"] != 0.0:
            parts.append(f"{p['shift']:+g}")
        return " ".join(parts) or "×1"
    if type_name == "adaptive_avgpool":
        h, w = pair(p["output_size"])
        return f"→ {h}×{w}"
    return ""
