"""The label a node shows when the canvas is zoomed out (about 20 % to 60 %).

Below the zoom at which the full node text turns too small to read, a node shows one or
two short lines drawn at a constant on-screen size (9–10 px): what the node is
(``3×3 conv``, ``max 3×3``, ``concat``, shorter when narrow) and, where there is room, its output shape.
Every line is elided to the node's on-screen width and the lines are centred in the part
of the node below a thin category strip, so nothing leaves the node.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QStaticText

from engine.nodes import pair

LABEL_FROM = 0.19  # zoomed out further: coloured blocks only
LABEL_PX = (10, 9)  # font pixel sizes: the larger from WIDE_PX on-screen node width
WIDE_PX = 66.0
STRIP_PX = 2.0  # the category strip at the node's top, in screen pixels
PAD_PX = 3.0  # free space left and right of a line, in screen pixels
_ELIDE_RIGHT = Qt.TextElideMode.ElideRight
_PLAIN = Qt.TextFormat.PlainText

_NAMES = {
    "conv1x1": ("1×1 conv", "1×1"),
    "global_avgpool": ("global avg", "GAP"),
    "concat": ("concat", "cat"),
    "add": ("add",),
    "relu": ("ReLU",),
    "batchnorm": ("BN",),
    "flatten": ("flatten",),
    "linear": ("linear", "fc"),
    "dropout": ("dropout", "drop"),
    "relu6": ("ReLU6",),
    "hardswish": ("h-swish", "hsw"),
    "hardsigmoid": ("h-sigmoid", "hsig"),
    "silu": ("SiLU",),
    "sigmoid": ("sigmoid", "sig"),
    "identity": ("identity", "id"),
    "gelu": ("GELU",),
    "leaky_relu": ("LeakyReLU", "lrelu"),
    "elu": ("ELU",),
    "mish": ("Mish",),
    "tanh": ("tanh",),
    "softmax": ("softmax", "smax"),
    "conv_transpose": ("conv T", "convT"),
    "upsample": ("upsample", "up"),
    "layernorm2d": ("LN",),
    "channel_slice": ("slice",),
    "channel_shuffle": ("shuffle", "shuf"),
    "scale_shift": ("scale", "×c"),
    "pad": ("pad",),
    "grn": ("GRN",),
    "clamp": ("clamp",),
    "prelu": ("PReLU",),
    "mul": ("mul", "×"),
    "adaptive_avgpool": ("adapt avg", "AAP"),
    "input": ("input",),
}


def short_labels(type_name: str, params: dict) -> tuple[str, ...]:
    """What a node is in a few characters, longest first: ``("3×3 conv", "3×3")``."""
    if type_name == "conv" and "kernel_size" in params:
        kh, kw = pair(params["kernel_size"])
        return (f"{kh}×{kw} conv", f"{kh}×{kw}")
    if type_name in ("maxpool", "avgpool") and "kernel_size" in params:
        kh, kw = pair(params["kernel_size"])
        return (f"{type_name[:3]} {kh}×{kw}", type_name[:3])
    return _NAMES.get(type_name, (type_name,))


def short_shapes(shape: tuple | None) -> tuple[str, ...]:
    """An output shape, longest first: ``("480×28×28", "480×28²", "480")``."""
    if not shape:
        return ()
    full = "×".join(str(d) for d in shape)
    if len(shape) == 3 and shape[1] == shape[2]:
        return (full, f"{shape[0]}×{shape[1]}²", str(shape[0]))
    return (full, str(shape[0])) if len(shape) > 1 else (full,)


def _fit(fm, texts: tuple[str, ...], width: float) -> str:
    """The first of ``texts`` that fits ``width``, else the last one elided."""
    for text in texts:
        if fm.horizontalAdvance(text) <= width:
            return text
    return fm.elidedText(texts[-1], _ELIDE_RIGHT, width)


class ZoomedLabel:
    """The laid-out lines for one on-screen node size (screen-pixel coordinates)."""

    __slots__ = ("font", "lines", "rects", "statics", "strip")

    def __init__(self, font, lines: list[str], rects: list[QRectF], strip: float) -> None:
        self.font = font
        self.lines = lines
        self.rects = rects
        self.strip = strip
        self.statics = []
        for line in lines:
            st = QStaticText(line)
            st.setTextFormat(_PLAIN)
            self.statics.append(st)


def layout_label(
    theme,
    labels: tuple[str, ...],
    states: tuple[str, ...],
    width: float,
    height: float,
    state_first: bool = False,
) -> ZoomedLabel | None:
    """Lay a node's label and state out in a ``width``×``height`` px node.

    ``labels`` and ``states`` (output shape, ``"error"``…) are alternatives, longest first;
    each line shows the longest that fits the width. Two lines when they fit one above the
    other, else one: label and state joined when that fits, else the state if
    ``state_first`` (an error), else the label. ``None`` when no line fits at all.
    """
    avail_w = width - 2 * PAD_PX
    if avail_w < 12:
        return None
    sizes = LABEL_PX if width >= WIDE_PX else LABEL_PX[1:]
    for px in sizes:
        font, fm = theme.label_font(px)
        line_h = fm.height()
        strip = min(STRIP_PX, height - line_h)
        if strip >= 0:
            break
    else:
        return None
    rows = int((height - strip) // line_h)
    if rows >= 2 and states:
        lines = [_fit(fm, labels, avail_w), _fit(fm, states, avail_w)]
    elif states and fm.horizontalAdvance(f"{labels[0]} {states[0]}") <= avail_w:
        lines = [f"{labels[0]} {states[0]}"]
    else:
        lines = [_fit(fm, states if state_first and states else labels, avail_w)]
    top = strip + (height - strip - len(lines) * line_h) / 2
    rects = []
    for i, line in enumerate(lines):
        adv = fm.horizontalAdvance(line)
        rects.append(QRectF((width - adv) / 2, top + i * line_h, adv, line_h))
    return ZoomedLabel(font, lines, rects, strip)
