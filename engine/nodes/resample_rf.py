"""Receptive fields of layers that read an irregular set of input pixels per output pixel:
transposed convolution, upsampling, and padding that copies border pixels.

Each computes, per axis, the range of input pixels every output pixel reads and keeps the
smallest regular window ``(size, jump, start)`` covering all of them (:func:`_fit`).
"""

from __future__ import annotations

import math
import struct
from fractions import Fraction

from engine.nodes.specs import RF


def upsample_size(c: tuple, h: int, w: int) -> tuple[int, int]:
    """Output H×W of an upsampling: its size, or floor(input · scale_factor)."""
    size, scale = c[0], c[1]
    if size is not None:
        return size
    # torch: the output size is floor(input · scale_factor), in double precision
    return int(h * scale), int(w * scale)


def _fit(spans, axis_rf: tuple, ratio: Fraction) -> tuple:
    """The smallest regular window covering irregular ones (upsampling, transposed conv).

    ``spans[o]`` is the range ``(a, b)`` of layer-input pixels output ``o`` reads (``None``
    if it reads none); ``axis_rf`` the input's ``(size, jump, start)``; ``ratio`` the
    input pixels per output pixel. Input pixel ``i`` sees image pixels
    ``[start + i·jump, start + i·jump + size)``, so output ``o`` sees
    ``[start + a·jump, start + b·jump + size)``. The jump is ``jump · ratio`` when that is
    a whole number (e.g. a ×2 upsampling of a stride-32 map: jump 16), else its floor (at
    least 1): windows are in whole pixels, so finer steps cannot be written and the
    window then grows to cover the drift. Start and size are the extremes over outputs.
    """
    size, jump, start = axis_rf
    new_jump = 0 if jump == 0 else max(1, int(jump * ratio))  # jump 0: one window for all
    lo = hi = None
    for o, span in enumerate(spans):
        if span is None:
            continue
        a, b = span
        first = start + a * jump - o * new_jump
        last = start + b * jump + size - o * new_jump
        lo = first if lo is None or first < lo else lo
        hi = last if hi is None or last > hi else hi
    if lo is None:  # no output reads an input pixel (bias only)
        return (0, new_jump, start)
    return (hi - lo, new_jump, lo)


def rf_conv_transpose(c: tuple, rf: RF, s: tuple) -> RF:
    """Output ``o`` gets input ``i`` through tap ``k`` when ``i·stride − padding + k·dilation = o``.

    So it reads inputs ``ceil((o + p − d·(k − 1)) / s) … floor((o + p) / s)`` (within the
    input); the jump is the input's divided by the stride (see :func:`_fit`).
    """
    out_c, kh, kw, sh, sw, ph, pw, oph, opw, dh, dw, _, _ = c
    axes = []
    for axis_rf, n, k, st, p, op, d in (
        (rf[0], s[1], kh, sh, ph, oph, dh),
        (rf[1], s[2], kw, sw, pw, opw, dw),
    ):
        n_out = (n - 1) * st - 2 * p + d * (k - 1) + op + 1
        spans = []
        for o in range(n_out):
            a = max(0, -((-(o + p - d * (k - 1))) // st))
            b = min(n - 1, (o + p) // st)
            # with dilation, only taps that land on a whole input index count
            taps = [i for i in range(a, b + 1) if (o + p - i * st) % d == 0]
            spans.append((taps[0], taps[-1]) if taps else None)
        axes.append(_fit(spans, axis_rf, Fraction(1, st)))
    return (axes[0], axes[1])


def _f32(x: float) -> float:
    """``x`` rounded to single precision."""
    return struct.unpack("f", struct.pack("f", x))[0]


def _source_index(o: int, n_in: int, n_out: int, c: tuple) -> tuple[int, int]:
    """The input pixels output ``o`` of an upsampling reads, as torch computes them.

    torch computes the source position in the tensor's precision; both the double and the
    single-precision results are taken, so the range holds for float64 and float32 maps.
    """
    size, scale, mode, align = c
    if mode == "bilinear" and align:
        s64 = (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
        s32 = _f32(_f32(n_in - 1) / (n_out - 1)) if n_out > 1 else 0.0
        srcs = (o * s64, _f32(o * s32))
    else:
        if size is None:
            s64, s32 = 1 / scale, _f32(1 / scale)
        else:
            s64, s32 = n_in / n_out, _f32(n_in / n_out)
        if mode == "nearest":
            srcs = (o * s64, _f32(o * s32))
        else:
            srcs = ((o + 0.5) * s64 - 0.5, _f32(_f32(_f32(o + 0.5) * s32) - 0.5))
    firsts = [min(max(math.floor(v), 0), n_in - 1) for v in srcs]
    last = max(firsts)
    if mode == "bilinear":
        last = min(last + 1, n_in - 1)  # the right neighbour
    return min(firsts), last


def rf_upsample(c: tuple, rf: RF, s: tuple) -> RF:
    """Nearest reads one input pixel per output, bilinear two neighbours (see :func:`_fit`)."""
    oh, ow = upsample_size(c, s[1], s[2])
    axes = []
    for axis_rf, n_in, n_out in ((rf[0], s[1], oh), (rf[1], s[2], ow)):
        spans = [_source_index(o, n_in, n_out, c) for o in range(n_out)]
        if c[0] is None:  # torch steps 1 / scale_factor input pixels per output pixel
            ratio = 1 / Fraction(c[1]).limit_denominator(1 << 20)
        else:
            ratio = Fraction(n_in, n_out)
        axes.append(_fit(spans, axis_rf, ratio))
    return (axes[0], axes[1])


def _pad_source(o: int, before: int, n: int, mode: str) -> tuple[int, int] | None:
    """The input pixel output ``o`` of a padding copies (``None``: a constant fill)."""
    i = o - before
    if 0 <= i < n:
        return i, i
    if mode == "constant":
        return None
    if mode == "replicate":
        i = 0 if i < 0 else n - 1
    else:  # reflect, without repeating the edge pixel
        i = -i if i < 0 else 2 * (n - 1) - i
    return i, i


def rf_pad(c: tuple, rf: RF, s: tuple) -> RF:
    """Output ``o`` copies input ``o − top``; reflect and replicate copy border pixels into
    the padding, so their window grows to cover those (see :func:`_fit`)."""
    left, right, top, bottom, mode = c
    if mode == "constant":
        (size_h, jh, st_h), (size_w, jw, st_w) = rf
        return ((size_h, jh, st_h - top * jh), (size_w, jw, st_w - left * jw))
    axes = []
    for axis_rf, n, before, after in ((rf[0], s[1], top, bottom), (rf[1], s[2], left, right)):
        spans = [_pad_source(o, before, n, mode) for o in range(n + before + after)]
        axes.append(_fit(spans, axis_rf, Fraction(1)))
    return (axes[0], axes[1])
