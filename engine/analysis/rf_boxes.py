"""Receptive-field boxes on the original image: pure geometry (no torch, no image data).

A feature pixel's receptive field (the analysis' ``(size, jump, start)`` per axis, per
channel through concatenations, slices and shuffles) is a rectangle of network-input
pixels; :class:`Preprocess` says how the original image became the input, so
:func:`input_to_original` maps the rectangle back to the original pixels it covers.
:func:`rf_box` does both for one activation and returns a :class:`Box`. The feature run
(:mod:`engine.runtime.features`), the command line and the image view use these.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from engine.analysis.analyzer import Analysis
from engine.core.errors import FeatureError

__all__ = ["Box", "Preprocess", "channel_rf", "input_to_original", "rf_box"]


@dataclass(frozen=True)
class Preprocess:
    """How the original image became the network input.

    ``mode`` is ``"resize"`` or ``"crop"`` (centre crop after scaling the short side).
    A network-input pixel ``(y, x)`` covers the original image's pixels
    ``[offset_y + y*scale_y, offset_y + (y+1)*scale_y)`` (likewise x).
    """

    mode: str
    normalize: str  # "imagenet" or "unit"
    original_size: tuple[int, int]  # (h, w) of the loaded image
    input_size: tuple[int, int]  # (H, W) fed to the network
    channels: int
    scale: tuple[float, float]  # original pixels per input pixel (y, x)
    offset: tuple[float, float]  # original pixel of input pixel (0, 0)'s top-left corner


@dataclass(frozen=True)
class Box:
    """A receptive-field box in the original image's pixels, clipped to the image.

    ``x0, y0`` inclusive, ``x1, y1`` exclusive. ``node``, ``channel``, ``y``, ``x`` name the
    activation it belongs to and ``value`` its value.
    """

    node: str
    channel: int
    y: int
    x: int
    value: float
    x0: int
    y0: int
    x1: int
    y1: int


def input_to_original(
    pre: Preprocess, y0: float, x0: float, y1: float, x1: float
) -> tuple[int, int, int, int]:
    """Map an input-pixel rectangle ``[y0, y1) × [x0, x1)`` to original pixels, clipped.

    Returns ``(x0, y0, x1, y1)`` in whole original pixels: every original pixel that the
    rectangle touches (floor of the start, ceil of the end), clipped to the image.
    """
    h, w = pre.original_size
    sy, sx = pre.scale
    oy, ox = pre.offset
    eps = 1e-9  # keep exact multiples exact despite float rounding
    oy0 = math.floor(oy + y0 * sy + eps)
    ox0 = math.floor(ox + x0 * sx + eps)
    oy1 = math.ceil(oy + y1 * sy - eps)
    ox1 = math.ceil(ox + x1 * sx - eps)
    return (min(max(ox0, 0), w), min(max(oy0, 0), h), min(max(ox1, 0), w), min(max(oy1, 0), h))


# keep each channel where it is and the receptive field
_CHANNELWISE = frozenset(
    {"relu", "batchnorm", "dropout", "identity", "relu6", "hardswish", "hardsigmoid", "silu",
     "sigmoid", "gelu", "leaky_relu", "elu", "mish", "tanh", "scale_shift"}
)  # fmt: skip


def channel_rf(analysis: Analysis, node: str, channel: int) -> tuple:
    """The receptive field of one channel of ``node``.

    A concatenation's channels each come from one of its inputs, so a channel's field is
    that input's field, not the union the analysis gives the whole node (for Inception's
    concat, a channel of the 1×1 branch sees 1×1 of the block's input, not 5×5). Walks
    back through channel-wise nodes (activations, BatchNorm, Dropout), channel slices and
    shuffles (which move a channel without changing its field) and concatenations; any
    other node's field is the analysis' field.
    """
    graph = analysis.graph
    rf = analysis.nodes[node].rf
    n, c = node, channel
    while True:
        t = graph.nodes[n]["type"]
        ins = analysis.inputs.get(n, [])
        if t in _CHANNELWISE and len(ins) == 1:
            n = ins[0]
        elif t == "channel_slice" and len(ins) == 1:
            c += graph.nodes[n]["params"]["start"]
            n = ins[0]
        elif t == "channel_shuffle" and len(ins) == 1:
            groups = graph.nodes[n]["params"]["groups"]
            per_group = analysis.nodes[ins[0]].shape[0] // groups
            c = (c % groups) * per_group + c // groups  # output i·G + g ← input g·(C/G) + i
            n = ins[0]
        elif t == "concat":
            for src in ins:
                width = analysis.nodes[src].shape[0]
                if c < width:
                    n = src
                    break
                c -= width
            else:
                return rf  # channel out of range: keep the node's field
            rf = analysis.nodes[n].rf
        else:
            return rf


def rf_box(
    analysis: Analysis,
    node: str,
    y: int,
    x: int,
    preprocess: Preprocess,
    channel: int = 0,
    value: float = 0.0,
) -> Box:
    """The receptive field of feature pixel ``(y, x)`` of ``node`` on the original image.

    Parameters
    ----------
    analysis : Analysis
        The graph's analysis (its receptive fields ``(size, jump, start)`` per axis).
    node : str
        The node whose map holds the pixel.
    y, x : int
        The feature pixel (``0, 0`` for a vector output, whose field is the whole input).
    preprocess : Preprocess
        How the original image became the input.
    channel : int
        The channel (a concatenation's channel has its own input's field, see
        :func:`channel_rf`); stored in the box.
    value : float
        The activation, stored in the box.

    Returns
    -------
    Box
        Input pixels ``[start + i*jump, start + i*jump + size)`` per axis, clipped to the
        network input, then mapped to every original pixel they cover, clipped to the image.
    """
    if node not in analysis.nodes:
        raise FeatureError(f"there is no node '{node}'", node)
    r = analysis.nodes[node]
    if r.rf is None:
        raise FeatureError(f"node '{node}' has no receptive field (it has no output)", node)
    (size_h, jump_h, start_h), (size_w, jump_w, start_w) = channel_rf(analysis, node, channel)
    in_h, in_w = preprocess.input_size
    iy0 = min(max(start_h + y * jump_h, 0), in_h)
    iy1 = min(max(start_h + y * jump_h + size_h, 0), in_h)
    ix0 = min(max(start_w + x * jump_w, 0), in_w)
    ix1 = min(max(start_w + x * jump_w + size_w, 0), in_w)
    x0, y0, x1, y1 = input_to_original(preprocess, iy0, ix0, iy1, ix1)
    return Box(
        node=node,
        channel=int(channel),
        y=int(y),
        x=int(x),
        value=float(value),
        x0=x0,
        y0=y0,
        x1=x1,
        y1=y1,
    )
