"""Per-type rules: output shape, parameter count, MACs and receptive field.

Single-input types: ``INFER_ONE[type](compiled, input shape, input id)`` and
``RECEPTIVE_ONE[type](compiled, input rf, input shape)``. Merges (concat, add):
``INFER_MERGE[type](compiled, shapes, ids)`` and ``RECEPTIVE_MERGE[type](compiled, rfs, shapes)``.
An infer function returns ``(shape, weights, biases, other_params, macs)`` or raises
:class:`~engine.nodes.specs.Problem`.
"""

from __future__ import annotations

from collections.abc import Callable

from engine.nodes.resample_rf import rf_conv_transpose, rf_pad, rf_upsample, upsample_size
from engine.nodes.specs import RF, Problem
from engine.nodes.text import fmt_shape

# Single-input types: INFER_ONE[type](compiled, input shape, input id) and
# RECEPTIVE_ONE[type](compiled, input rf, input shape). Merges (concat, add):
# INFER_MERGE[type](compiled, shapes, ids) and RECEPTIVE_MERGE[type](compiled, rfs, shapes).
# An infer function returns (shape, weights, biases, other_params, macs) or raises Problem.


def _need_spatial(s: tuple, src: str, what: str) -> None:
    raise Problem(
        f"needs a C×H×W input but '{src}' gives {fmt_shape(s)} features; "
        f"{what} cannot follow flatten or linear"
    )


def _too_big(keff: int, span: int, axis: str) -> Problem:
    return Problem(
        f"kernel {keff} is larger than its padded input {span} along {axis}; "
        f"lower kernel_size or dilation, or add padding"
    )


def _infer_conv(c: tuple, s: tuple, src: str) -> tuple:
    if len(s) != 3:
        _need_spatial(s, src, "a convolution")
    cin, h, w = s
    out_c, kh, kw, sh, sw, (pt, pb, pl, pr), dh, dw, g, bias = c
    if g != 1:
        if cin % g:
            raise Problem(
                f"input channels {cin} are not divisible by groups {g}; make groups divide {cin}"
            )
        if out_c % g:
            raise Problem(
                f"out_channels {out_c} are not divisible by groups {g}; make groups divide {out_c}"
            )
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
        raise Problem(
            f"padding {p} is more than half the kernel {k} along {axis} (torch "
            f"refuses it); lower padding"
        )
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
        raise Problem(
            f"kernel {k} is larger than its padded input {span} along {axis}; "
            f"lower kernel_size or add padding"
        )
    return out


def _infer_pool(c: tuple, s: tuple, src: str) -> tuple:
    if len(s) != 3:
        _need_spatial(s, src, "pooling")
    cin, h, w = s
    kh, kw, sh, sw, ph, pw, ceil = c
    return (
        (cin, _pool_out(h, kh, sh, ph, ceil, "H"), _pool_out(w, kw, sw, pw, ceil, "W")),
        0,
        0,
        0,
        0,
    )


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
        raise Problem(
            f"needs features but '{src}' gives a spatial {fmt_shape(s)} tensor; "
            f"put a flatten (or global avg pool + flatten) before it"
        )
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
            raise Problem(
                f"needs equal H×W: {first[1]}×{first[2]} from '{srcs[0]}' but "
                f"{s[1]}×{s[2]} from '{src}'"
            )
        ch += s[0]
    return (ch, first[1], first[2]), 0, 0, 0, 0


def _infer_add(c: tuple, shapes: list, srcs: list) -> tuple:
    first = shapes[0]
    for s, src in zip(shapes, srcs):
        if s != first:
            raise Problem(
                f"needs inputs of equal shape: {fmt_shape(first)} from '{srcs[0]}' "
                f"but {fmt_shape(s)} from '{src}'"
            )
    return first, 0, 0, 0, 0


def _infer_adaptive(c: tuple, s: tuple, src: str) -> tuple:
    if len(s) != 3:
        _need_spatial(s, src, "adaptive pooling")
    return (s[0], c[0], c[1]), 0, 0, 0, 0


def _infer_mul(c: tuple, shapes: list, srcs: list) -> tuple:
    """Element-wise product; a size-1 axis broadcasts over the other inputs' size."""
    first = shapes[0]
    out = list(first)
    for s, src in zip(shapes, srcs):
        if len(s) != len(first):
            raise Problem(
                f"needs inputs of the same kind: {fmt_shape(first)} from '{srcs[0]}' "
                f"but {fmt_shape(s)} from '{src}'"
            )
        for i, d in enumerate(s):
            if d != out[i] and d != 1 and out[i] != 1:
                raise Problem(
                    f"cannot broadcast {fmt_shape(s)} from '{src}' with "
                    f"{fmt_shape(tuple(out))}: each size must be equal or 1 "
                    f"(e.g. C×1×1 scales C×H×W)"
                )
            out[i] = max(out[i], d)
    return tuple(out), 0, 0, 0, 0


def _infer_conv_t(c: tuple, s: tuple, src: str) -> tuple:
    """ConvTranspose2d: out = (in − 1)·stride − 2·padding + dilation·(k − 1) + output_padding + 1.

    Every input value meets every weight of its group once: MACs = C_in · (C_out / g) ·
    kh · kw · H_in · W_in.
    """
    if len(s) != 3:
        _need_spatial(s, src, "a transposed convolution")
    cin, h, w = s
    out_c, kh, kw, sh, sw, ph, pw, oph, opw, dh, dw, g, bias = c
    for n, what in ((cin, "input channels"), (out_c, "out_channels")):
        if n % g:
            raise Problem(f"{what} {n} are not divisible by groups {g}; make groups divide {n}")
    oh = (h - 1) * sh - 2 * ph + dh * (kh - 1) + oph + 1
    ow = (w - 1) * sw - 2 * pw + dw * (kw - 1) + opw + 1
    if oh < 1 or ow < 1:
        raise Problem(
            f"would output {out_c}×{oh}×{ow}: padding {ph},{pw} removes more than the "
            f"transposed convolution makes; lower padding"
        )
    weights = cin * (out_c // g) * kh * kw
    return (out_c, oh, ow), weights, out_c if bias else 0, 0, weights * h * w


def _infer_upsample(c: tuple, s: tuple, src: str) -> tuple:
    if len(s) != 3:
        _need_spatial(s, src, "upsampling")
    oh, ow = upsample_size(c, s[1], s[2])
    if oh < 1 or ow < 1:
        raise Problem(
            f"would output {s[0]}×{oh}×{ow}: scale_factor {c[1]:g} shrinks {s[1]}×{s[2]} "
            f"to nothing; raise scale_factor"
        )
    return (s[0], oh, ow), 0, 0, 0, 0


def _infer_ln2d(c: tuple, s: tuple, src: str) -> tuple:
    if len(s) != 3:
        _need_spatial(s, src, "LayerNorm over channels")
    return s, 0, 0, (2 * s[0] if c[0] else 0), 0


def _infer_grn(c: tuple, s: tuple, src: str) -> tuple:
    if len(s) != 3:
        _need_spatial(s, src, "global response normalisation")
    return s, 0, 0, 2 * s[0], 0


def _infer_prelu(c: tuple, s: tuple, src: str) -> tuple:
    n = c[0]
    if n != 1 and n != s[0]:
        what = "channels" if len(s) == 3 else "features"
        raise Problem(
            f"num_parameters {n} must be 1 or the {s[0]} {what} of '{src}'; set it to 1 or {s[0]}"
        )
    return s, 0, 0, n, 0


def _infer_slice(c: tuple, s: tuple, src: str) -> tuple:
    start, stop = c
    if stop > s[0]:
        what = "channels" if len(s) == 3 else "features"
        raise Problem(
            f"stop {stop} is beyond the {s[0]} {what} of '{src}'; lower stop to at most {s[0]}"
        )
    return (stop - start, *s[1:]), 0, 0, 0, 0


def _infer_shuffle(c: tuple, s: tuple, src: str) -> tuple:
    if len(s) != 3:
        _need_spatial(s, src, "channel shuffle")
    if s[0] % c[0]:
        raise Problem(
            f"input channels {s[0]} are not divisible by groups {c[0]}; make groups divide {s[0]}"
        )
    return s, 0, 0, 0, 0


def _infer_pad(c: tuple, s: tuple, src: str) -> tuple:
    if len(s) != 3:
        _need_spatial(s, src, "padding")
    left, right, top, bottom, mode = c
    if mode == "reflect":
        for pads, n, axis in (((top, bottom), s[1], "H"), ((left, right), s[2], "W")):
            if max(pads) >= n:
                raise Problem(
                    f"reflect padding {max(pads)} along {axis} needs more than {max(pads)} "
                    f"input pixels but '{src}' gives {n}; lower the padding"
                )
    return (s[0], s[1] + top + bottom, s[2] + left + right), 0, 0, 0, 0


INFER_ONE: dict[str, Callable] = {
    "conv": _infer_conv,
    "conv1x1": _infer_conv,
    "maxpool": _infer_pool,
    "avgpool": _infer_pool,
    "global_avgpool": _infer_gap,
    "relu": _infer_same,
    "dropout": _infer_same,
    "relu6": _infer_same,
    "hardswish": _infer_same,
    "hardsigmoid": _infer_same,
    "silu": _infer_same,
    "sigmoid": _infer_same,
    "identity": _infer_same,
    "gelu": _infer_same,
    "leaky_relu": _infer_same,
    "elu": _infer_same,
    "mish": _infer_same,
    "tanh": _infer_same,
    "softmax": _infer_same,
    "clamp": _infer_same,
    "prelu": _infer_prelu,
    "conv_transpose": _infer_conv_t,
    "upsample": _infer_upsample,
    "layernorm2d": _infer_ln2d,
    "grn": _infer_grn,
    "channel_slice": _infer_slice,
    "channel_shuffle": _infer_shuffle,
    "scale_shift": _infer_same,
    "pad": _infer_pad,
    "adaptive_avgpool": _infer_adaptive,
    "batchnorm": _infer_bn,
    "flatten": _infer_flatten,
    "linear": _infer_linear,
}
INFER_MERGE: dict[str, Callable] = {
    "concat": _infer_concat,
    "add": _infer_add,
    "mul": _infer_mul,
}


# --------------------------------------------------------------------------- receptive field
def _rf_conv(c: tuple, rf: RF, s: tuple) -> RF:
    (size_h, jh, st_h), (size_w, jw, st_w) = rf
    _, kh, kw, sh, sw, pads, dh, dw, _, _ = c
    return (
        (size_h + dh * (kh - 1) * jh, jh * sh, st_h - pads[0] * jh),
        (size_w + dw * (kw - 1) * jw, jw * sw, st_w - pads[2] * jw),
    )


def _rf_pool(c: tuple, rf: RF, s: tuple) -> RF:
    (size_h, jh, st_h), (size_w, jw, st_w) = rf
    kh, kw, sh, sw, ph, pw, _ = c
    return (
        (size_h + (kh - 1) * jh, jh * sh, st_h - ph * jh),
        (size_w + (kw - 1) * jw, jw * sw, st_w - pw * jw),
    )


def _rf_whole(c: tuple, rf: RF, s: tuple) -> RF:
    """The window covering every input position (global pooling; flatten's features together).

    One flattened feature sees one position only, but features have no pixel grid: the
    window stands for all of them, which is exactly what a following linear layer sees.
    """
    if len(s) != 3:
        return rf
    (sh_, jh, st_h), (sw_, jw, st_w) = rf
    return ((sh_ + (s[1] - 1) * jh, jh * s[1], st_h), (sw_ + (s[2] - 1) * jw, jw * s[2], st_w))


def _adaptive_axis(size: int, out: int) -> tuple[int, int, int]:
    """``(window, jump, offset)`` of adaptive pooling along one axis, in input pixels.

    Output ``i`` averages ``[floor(i*size/out), ceil((i+1)*size/out))``. When ``out``
    divides ``size`` that is a pool of kernel = stride = ``size/out``; otherwise the
    windows are irregular and this is the smallest regular window that covers each.
    """
    if size % out == 0:
        k = size // out
        return k, k, 0
    jump = max(1, size // out)
    lo = hi = None
    for i in range(out):
        a = (i * size) // out - i * jump
        b = -((-(i + 1) * size) // out) - i * jump
        lo = a if lo is None or a < lo else lo
        hi = b if hi is None or b > hi else hi
    return hi - lo, jump, lo


def _rf_adaptive(c: tuple, rf: RF, s: tuple) -> RF:
    axes = []
    for (size_in, j, st), n, o in zip(rf, s[1:], c):
        k, jump, off = _adaptive_axis(n, o)
        axes.append((size_in + (k - 1) * j, j * jump, st + off * j))
    return (axes[0], axes[1])


def _rf_mul(c: tuple, rfs: list, shapes: list) -> RF:
    """:func:`_rf_merge` where a broadcast axis (size 1 against more) has jump 0.

    Every output pixel sees the same window of a broadcast C×1×1 input.
    """
    big = max(range(len(shapes)), key=lambda i: shapes[i][1:] if len(shapes[i]) == 3 else ())
    out = shapes[big]
    fixed = []
    for r, s in zip(rfs, shapes):
        if len(s) == 3:
            r = tuple(
                (a[0], 0, a[2]) if s[i + 1] == 1 and out[i + 1] > 1 else a for i, a in enumerate(r)
            )
        fixed.append(r)
    order = [big] + [i for i in range(len(shapes)) if i != big]
    return _rf_merge(c, [fixed[i] for i in order], [shapes[i] for i in order])


def _rf_global(c: tuple, rf: RF, s: tuple) -> RF:
    """Every output pixel depends on every input pixel (a norm over H×W): jump 0, the
    window covering the whole input map at every pixel."""
    (sh_, jh, st_h), (sw_, jw, st_w) = rf
    return ((sh_ + (s[1] - 1) * jh, 0, st_h), (sw_ + (s[2] - 1) * jw, 0, st_w))


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
    "conv": _rf_conv,
    "conv1x1": _rf_conv,
    "maxpool": _rf_pool,
    "avgpool": _rf_pool,
    "global_avgpool": _rf_whole,
    "flatten": _rf_whole,
    "linear": _rf_same,
    "relu": _rf_same,
    "dropout": _rf_same,
    "batchnorm": _rf_same,
    "relu6": _rf_same,
    "hardswish": _rf_same,
    "hardsigmoid": _rf_same,
    "silu": _rf_same,
    "sigmoid": _rf_same,
    "identity": _rf_same,
    "gelu": _rf_same,
    "leaky_relu": _rf_same,
    "elu": _rf_same,
    "mish": _rf_same,
    "tanh": _rf_same,
    "softmax": _rf_same,  # over channels: each pixel's own window
    "clamp": _rf_same,
    "prelu": _rf_same,
    "conv_transpose": rf_conv_transpose,
    "upsample": rf_upsample,
    "layernorm2d": _rf_same,  # over channels: each pixel's own window
    "grn": _rf_global,
    "channel_slice": _rf_same,
    "channel_shuffle": _rf_same,
    "scale_shift": _rf_same,
    "pad": rf_pad,
    "adaptive_avgpool": _rf_adaptive,
}
RECEPTIVE_MERGE: dict[str, Callable] = {"concat": _rf_merge, "add": _rf_merge, "mul": _rf_mul}
