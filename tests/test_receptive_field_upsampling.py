"""Receptive fields of the upsampling types (upsample, transposed conv) against gradients.

The rule (``engine.nodes.resample_rf``): output ``o`` reads a range of input pixels; the
field's jump is the input's jump times input pixels per output pixel when that is whole,
and the window is the smallest regular one covering every output's exact window. Here the
exact windows are measured with gradients (``tests/helpers_torch.py``): each must lie in
the analysed window, and where the jump is whole the analysed window is attained.
"""

from __future__ import annotations

import pytest
from helpers_torch import gradient_extents

from engine import GraphModel, analyze


def chain(*layers, size: int = 32) -> GraphModel:
    """``input (1×size×size) → layers…``, ids l0, l1, …"""
    m = GraphModel()
    m.add_node("input", {"channels": 1, "height": size, "width": size}, "x")
    src = "x"
    for i, (t, p) in enumerate(layers):
        m.add_node(t, p, f"l{i}")
        m.connect(src, f"l{i}")
        src = f"l{i}"
    return m


def check(m: GraphModel, node: str, tight: bool) -> None:
    """Every output row's measured window lies in the analysed one; ``tight``: it is attained."""
    a = analyze(m)
    (size, jump, start), _ = a[node].rf
    n_out, w_out = a[node].shape[1:]
    n_in = m.params("x")["height"]
    extents = gradient_extents(m, [(node, (o, w_out // 2)) for o in range(n_out)], "x")
    lows, highs = [], []
    for o, ext in enumerate(extents):
        if ext is None:
            continue
        (top, bottom), _ = ext
        lo, hi = start + o * jump, start + o * jump + size  # [lo, hi)
        assert max(lo, 0) <= top and bottom < min(hi, n_in), (o, ext, a[node].rf)
        if lo >= 0 and hi <= n_in:  # not clipped by the image border
            lows.append(top - o * jump)
            highs.append(bottom + 1 - o * jump)
    if tight:
        assert lows and min(lows) == start and max(highs) == start + size, a[node].rf


def test_nearest_upsampling_of_a_stride_4_map_has_jump_2():
    """×2 nearest after a 4×4 pool: jump 2, window 4 + 2 (two outputs share one input)."""
    m = chain(("avgpool", {"kernel_size": 4}), ("upsample", {"scale_factor": 2.0}))
    assert analyze(m)["l1"].rf[0] == (6, 2, -2)
    check(m, "l1", tight=True)


def test_transposed_conv_decoder_step_is_exact():
    """k4 s2 p1 after a 4×4 pool: jump 2 and the window the gradients attain."""
    m = chain(
        ("avgpool", {"kernel_size": 4}),
        ("conv_transpose", {"out_channels": 1, "kernel_size": 4, "stride": 2, "padding": 1}),
    )
    assert analyze(m)["l1"].rf[0][1] == 2
    check(m, "l1", tight=True)


@pytest.mark.parametrize(
    "layer",
    [
        ("conv_transpose", {"out_channels": 1, "kernel_size": 3, "stride": 2, "dilation": 2,
                            "padding": 1, "output_padding": 1}),
        ("conv_transpose", {"out_channels": 1, "kernel_size": 3, "stride": 3}),
        ("upsample", {"scale_factor": 2.0, "mode": "bilinear"}),
        ("upsample", {"scale_factor": 1.5, "mode": "bilinear", "align_corners": True}),
        ("upsample", {"size": 20}),
        ("upsample", {"scale_factor": 0.5, "mode": "bilinear"}),
    ],
)  # fmt: skip
def test_windows_cover_every_output(layer):
    """Finer-than-a-pixel steps: the regular window still covers every output's pixels."""
    m = chain(("conv", {"out_channels": 1, "kernel_size": 3, "padding": 1}), layer, size=12)
    check(m, "l1", tight=False)


def test_downsampling_by_half_is_a_stride_2_pick():
    """×0.5 nearest reads every second pixel: jump 2, one pixel wide."""
    m = chain(("upsample", {"scale_factor": 0.5}), size=16)
    assert analyze(m)["l0"].rf == ((1, 2, 0), (1, 2, 0))
    check(m, "l0", tight=True)


@pytest.mark.parametrize(
    ("params", "tight"),
    [
        ({"left": 1, "right": 2, "top": 2, "bottom": 1}, True),
        # the widest windows are at the border, clipped: only coverage is measurable
        ({"left": 1, "right": 2, "top": 2, "bottom": 1, "mode": "reflect"}, False),
        ({"left": 3, "right": 0, "top": 0, "bottom": 3, "mode": "replicate"}, False),
    ],
)
def test_padding_windows(params, tight):
    """Constant padding shifts the window; reflect and replicate cover the copied borders."""
    m = chain(("avgpool", {"kernel_size": 2}), ("pad", params), size=16)
    check(m, "l1", tight=tight)


def test_reflect_padding_window_covers_the_mirrored_pixel():
    """Reflect pad 2 on top: output row 0 copies input row 2, so its window reaches it."""
    m = chain(("pad", {"top": 2, "mode": "reflect"}), size=8)
    (size, jump, start), _ = analyze(m)["l0"].rf
    assert start <= 2 < start + size and jump == 1
