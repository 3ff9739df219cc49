"""The node types added for timm and ONNX models against torch.nn / torch.nn.functional.

Each test builds a small design, runs :func:`engine.runtime.build.build_module` and checks
its output against torch's own layer or function applied to the same input (and the same
weights, copied in), besides the analysis' shape and counts.
"""

from __future__ import annotations

import pytest
import torch
from random_graphs import MORE_OPS, OPS, seeded_graph
from test_build_oracle import assert_matches_oracle
from torch import nn
from torch.nn import functional as F  # noqa: N812 - torch's usual name

from engine import GraphModel, ParamError, analyze
from engine.codegen.emit import export_code
from engine.codegen.emit_blocks import export_blocks
from engine.core.errors import FormatError
from engine.core.fileformat import dumps, loads
from engine.runtime.build import build_module

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def one_node(type_name: str, params: dict, c: int = 4, h: int = 6, w: int = 5) -> GraphModel:
    """``input (c×h×w) → n``."""
    m = GraphModel("one")
    m.add_node("input", {"channels": c, "height": h, "width": w}, "x")
    m.add_node(type_name, params, "n")
    m.connect("x", "n")
    return m


def run(m: GraphModel, x: torch.Tensor) -> torch.Tensor:
    """The built model's output for ``x``."""
    with torch.inference_mode():
        return build_module(m)(x)


def x_of(c: int = 4, h: int = 6, w: int = 5, seed: int = 0) -> torch.Tensor:
    """A seeded input with negative and positive values."""
    return torch.randn(2, c, h, w, generator=torch.Generator().manual_seed(seed)) * 3


@pytest.mark.parametrize(
    ("type_name", "params", "reference"),
    [
        ("gelu", {}, lambda x: F.gelu(x)),
        ("gelu", {"approximate": "tanh"}, lambda x: F.gelu(x, approximate="tanh")),
        ("leaky_relu", {}, lambda x: F.leaky_relu(x, 0.01)),
        ("leaky_relu", {"negative_slope": 0.2}, lambda x: F.leaky_relu(x, 0.2)),
        ("elu", {}, lambda x: F.elu(x)),
        ("elu", {"alpha": 0.5}, lambda x: F.elu(x, 0.5)),
        ("mish", {}, lambda x: F.mish(x)),
        ("tanh", {}, lambda x: torch.tanh(x)),
        ("softmax", {}, lambda x: F.softmax(x, dim=1)),
        ("hardsigmoid", {}, lambda x: F.hardsigmoid(x)),
        ("hardsigmoid", {"alpha": 0.2, "beta": 0.5}, lambda x: (0.2 * x + 0.5).clamp(0, 1)),
    ],
)
def test_activation_equals_torch(type_name, params, reference):
    """Each activation (and its parameters) gives torch's values, shape and zero params."""
    m = one_node(type_name, params)
    a = analyze(m)
    assert a["n"].shape == (4, 6, 5)
    assert a.totals.params == 0 and a.totals.macs == 0
    assert a["n"].rf == ((1, 1, 0), (1, 1, 0))
    x = x_of()
    torch.testing.assert_close(run(m, x), reference(x), rtol=0, atol=0)


def test_softmax_on_a_classifier_output_sums_to_one():
    """Softmax after linear is over the features (dim 1), as F.softmax(logits, 1)."""
    m = GraphModel("cls")
    m.add_node("input", {"channels": 3, "height": 4, "width": 4}, "x")
    for nid, t, p in (("f", "flatten", {}), ("fc", "linear", {"out_features": 7}),
                      ("sm", "softmax", {})):  # fmt: skip
        m.add_node(t, p, nid)
    m.connect("x", "f")
    m.connect("f", "fc")
    m.connect("fc", "sm")
    assert analyze(m)["sm"].shape == (7,)
    model = build_module(m, capture=True)
    with torch.inference_mode():
        out = model(x_of(3, 4, 4))
    torch.testing.assert_close(out["sm"], F.softmax(out["fc"], dim=1), rtol=0, atol=0)
    torch.testing.assert_close(out["sm"].sum(1), torch.ones(2))


def test_hardsigmoid_onnx_alpha_differs_from_torch():
    """alpha 0.2 (ONNX, PaddlePaddle) is not torch's 1/6: at x = 2 it gives 0.9, not 5/6."""
    x = torch.full((1, 1, 1, 1), 2.0)
    got = run(one_node("hardsigmoid", {"alpha": 0.2}, 1, 1, 1), x)
    torch_default = run(one_node("hardsigmoid", {}, 1, 1, 1), x)
    assert got.item() == pytest.approx(0.9)
    assert torch_default.item() == pytest.approx(5 / 6)


def test_hardsigmoid_code_is_the_module_or_a_clear_expression():
    """Default alpha/beta export nn.Hardsigmoid(); others the clamp expression, no module."""
    assert "self.n = nn.Hardsigmoid()" in export_code(one_node("hardsigmoid", {}))
    code = export_code(one_node("hardsigmoid", {"alpha": 0.2, "beta": 0.5}))
    assert "n = (0.2 * x + 0.5).clamp(0.0, 1.0)" in code
    assert "self.n =" not in code


def test_hardsigmoid_readable_export_writes_the_expression():
    """The readable (blocks) export writes the same expression for a non-default alpha."""
    code = export_blocks(one_node("hardsigmoid", {"alpha": 0.2, "beta": 0.5}))
    assert "(0.2 * x + 0.5).clamp(0.0, 1.0)" in code


@pytest.mark.parametrize(
    ("type_name", "params", "ctor"),
    [
        ("gelu", {"approximate": "tanh"}, "nn.GELU(approximate='tanh')"),
        ("gelu", {}, "nn.GELU()"),
        ("leaky_relu", {"negative_slope": 0.2}, "nn.LeakyReLU(negative_slope=0.2)"),
        ("elu", {"alpha": 0.5}, "nn.ELU(alpha=0.5)"),
        ("mish", {}, "nn.Mish()"),
        ("tanh", {}, "nn.Tanh()"),
        ("softmax", {}, "nn.Softmax(dim=1)"),
    ],
)
def test_activation_code_names_the_torch_module(type_name, params, ctor):
    """The flat and the readable export construct the activation as torch's module."""
    m = one_node(type_name, params)
    assert f"self.n = {ctor}" in export_code(m)
    assert ctor in export_blocks(m)


def test_gelu_refuses_an_unknown_approximation():
    """approximate must be "none" or "tanh"; the message lists both."""
    with pytest.raises(ParamError, match="'approximate' must be one of 'none', 'tanh'"):
        one_node("gelu", {"approximate": "erf"})


@pytest.mark.parametrize(
    "params",
    [
        {"kernel_size": 3, "stride": 2, "padding": 1, "count_include_pad": False},
        {"kernel_size": 3, "padding": 1, "divisor_override": 4},
        {
            "kernel_size": [2, 3],
            "stride": 1,
            "padding": [1, 1],
            "ceil_mode": True,
            "count_include_pad": False,
            "divisor_override": 2,
        },  # fmt: skip
    ],
)
def test_avgpool_options_equal_torch(params):
    """count_include_pad and divisor_override give F.avg_pool2d's values and shape."""
    m = one_node("avgpool", params)
    x = x_of()
    ref = F.avg_pool2d(
        x,
        params["kernel_size"],
        params.get("stride"),
        params.get("padding", 0),
        params.get("ceil_mode", False),
        params.get("count_include_pad", True),
        params.get("divisor_override"),
    )
    out = run(m, x)
    assert analyze(m)["n"].shape == tuple(ref.shape[1:])
    torch.testing.assert_close(out, ref, rtol=0, atol=0)


def test_avgpool_without_padding_count_changes_border_values():
    """The check has teeth: count_include_pad=False differs from torch's default at borders."""
    x = x_of()
    a = run(one_node("avgpool", {"kernel_size": 3, "padding": 1, "stride": 1}), x)
    b = run(
        one_node(
            "avgpool", {"kernel_size": 3, "padding": 1, "stride": 1, "count_include_pad": False}
        ),  # fmt: skip
        x,
    )
    assert not torch.allclose(a[..., 0, 0], b[..., 0, 0])
    torch.testing.assert_close(a[..., 1:-1, 1:-1], b[..., 1:-1, 1:-1])


def test_avgpool_options_in_code():
    """The export writes the options only when they differ from torch's defaults."""
    code = export_code(one_node("avgpool", {"kernel_size": 2}))
    assert "nn.AvgPool2d(kernel_size=2)" in code
    m = one_node("avgpool", {"kernel_size": 2, "count_include_pad": False, "divisor_override": 3})
    ctor = "nn.AvgPool2d(kernel_size=2, count_include_pad=False, divisor_override=3)"
    assert ctor in export_code(m)
    assert ctor in export_blocks(m)


def test_avgpool_divisor_override_must_be_positive():
    """divisor_override 0 is refused (torch divides by zero), null is torch's default."""
    with pytest.raises(ParamError, match="'divisor_override' must be at least 1"):
        one_node("avgpool", {"kernel_size": 2, "divisor_override": 0})
    assert one_node("avgpool", {"kernel_size": 2, "divisor_override": None})


def test_activation_chain_matches_the_oracle():
    """A chain of every new activation: the built module equals the torch.nn oracle node by node."""
    m = GraphModel("acts")
    m.add_node("input", {"channels": 3, "height": 5, "width": 5}, "x")
    src = "x"
    chain = [("conv", {"out_channels": 4, "kernel_size": 3, "padding": 1}),
             ("gelu", {"approximate": "tanh"}), ("leaky_relu", {"negative_slope": 0.1}),
             ("elu", {"alpha": 0.7}), ("mish", {}), ("tanh", {}),
             ("hardsigmoid", {"alpha": 0.2}), ("avgpool", {"kernel_size": 3, "padding": 1,
              "count_include_pad": False}), ("softmax", {})]  # fmt: skip
    for i, (t, p) in enumerate(chain):
        m.add_node(t, p, f"n{i}")
        m.connect(src, f"n{i}")
        src = f"n{i}"
    assert_matches_oracle(m)


def test_torch_module_forms_agree():
    """torch's module forms equal the functional forms used as references here."""
    x = x_of()
    torch.testing.assert_close(nn.Softmax(dim=1)(x), F.softmax(x, 1))
    torch.testing.assert_close(nn.Hardsigmoid()(x), (x / 6 + 0.5).clamp(0, 1))


def test_new_params_survive_save_and_load():
    """Choices, null optional ints and 1/6 floats load back exactly from the JSON file."""
    m = GraphModel("saved")
    m.add_node("input", {"channels": 2, "height": 4, "width": 4}, "x")
    m.add_node("gelu", {"approximate": "tanh"}, "g")
    m.add_node("avgpool", {"kernel_size": 2, "count_include_pad": False}, "p")
    m.add_node("hardsigmoid", {}, "h")
    for a, b in (("x", "g"), ("g", "p"), ("p", "h")):
        m.connect(a, b)
    back = loads(dumps(m))
    assert back.params("g")["approximate"] == "tanh"
    assert back.params("p")["divisor_override"] is None
    assert back.params("p")["count_include_pad"] is False
    assert back.params("h")["alpha"] == 1 / 6
    assert dumps(back) == dumps(m)


def test_a_bad_choice_in_a_file_names_the_node():
    """A file with approximate "fast" is refused with the node and the allowed values."""
    text = dumps(one_node("gelu", {})).replace('"none"', '"fast"')
    with pytest.raises(FormatError, match="node 'n'.*'approximate' must be one of"):
        loads(text)


# --------------------------------------------------------------------------- batch 2
def chain(*layers, c: int = 4, h: int = 6, w: int = 5) -> GraphModel:
    """``input → layers…`` with ids l0, l1, …; each layer is ``(type, params)``."""
    m = GraphModel("chain")
    m.add_node("input", {"channels": c, "height": h, "width": w}, "x")
    src = "x"
    for i, (t, p) in enumerate(layers):
        m.add_node(t, p, f"l{i}")
        m.connect(src, f"l{i}")
        src = f"l{i}"
    return m


def readable_parity(m: GraphModel, x: torch.Tensor) -> None:
    """The readable export, with the live weights converted, gives the live output exactly."""
    live = build_module(m, seed=0)
    namespace: dict = {"__name__": "exported"}
    exec(compile(export_blocks(m), "<exported>", "exec"), namespace)  # noqa: S102 - our export
    cls = [v for k, v in namespace.items() if isinstance(v, type) and k[0].isupper()][-1]
    model = cls().eval()
    model.load_state_dict(live.state_dict(), strict=True)
    with torch.inference_mode():
        torch.testing.assert_close(model(x), live(x), rtol=0, atol=0)


@pytest.mark.parametrize(
    "params",
    [
        {"out_channels": 6, "kernel_size": 4, "stride": 2, "padding": 1},
        {"out_channels": 4, "kernel_size": 3, "stride": 2, "padding": 1, "output_padding": 1},
        {
            "out_channels": 6,
            "kernel_size": [3, 2],
            "stride": [1, 3],
            "groups": 2,
            "dilation": 2,
            "bias": False,
        },  # fmt: skip
    ],
)
def test_conv_transpose_equals_torch(params):
    """Shape, weights, biases, MACs and values equal F.conv_transpose2d with the same weights."""
    m = one_node("conv_transpose", params)
    model = build_module(m, seed=3)
    layer = model.n
    assert isinstance(layer, nn.ConvTranspose2d)
    x = x_of()
    ref = F.conv_transpose2d(
        x,
        layer.weight,
        layer.bias,
        stride=params.get("stride", 1),
        padding=params.get("padding", 0),
        output_padding=params.get("output_padding", 0),
        groups=params.get("groups", 1),
        dilation=params.get("dilation", 1),
    )
    with torch.inference_mode():
        out = model(x)
    torch.testing.assert_close(out, ref, rtol=0, atol=0)
    r = analyze(m)["n"]
    assert r.shape == tuple(ref.shape[1:])
    assert r.weights == layer.weight.numel()
    assert r.biases == (layer.bias.numel() if layer.bias is not None else 0)
    # every input value (4·6·5) meets every weight of its group once
    assert r.macs == 4 * 6 * 5 * layer.weight.numel() // 4


def test_conv_transpose_doubles_a_segmentation_map():
    """k4 s2 p1, the usual decoder step, doubles H×W: 64×7×7 → 32×14×14 with 32,768 weights."""
    r = analyze(one_node("conv_transpose", {"out_channels": 32, "kernel_size": 4, "stride": 2,
                                             "padding": 1}, 64, 7, 7))["n"]  # fmt: skip
    assert r.shape == (32, 14, 14)
    assert (r.weights, r.biases, r.macs) == (64 * 32 * 16, 32, 64 * 32 * 16 * 49)


def test_conv_transpose_output_padding_must_be_below_stride_or_dilation():
    """output_padding 2 with stride 2 is refused before building, as torch refuses it."""
    with pytest.raises(ParamError, match="'output_padding' 2 along H must be less than stride 2"):
        one_node("conv_transpose", {"out_channels": 2, "kernel_size": 3, "stride": 2,
                                    "output_padding": 2})  # fmt: skip


def test_conv_transpose_code():
    """The export writes nn.ConvTranspose2d with in channels inferred, defaults left out."""
    m = one_node("conv_transpose", {"out_channels": 8, "kernel_size": 4, "stride": 2,
                                    "padding": 1, "bias": False})  # fmt: skip
    ctor = "nn.ConvTranspose2d(4, 8, kernel_size=4, stride=2, padding=1, bias=False)"
    assert f"self.n = {ctor}" in export_code(m)
    assert ctor in export_blocks(m)


@pytest.mark.parametrize(
    ("params", "ref"),
    [
        ({"scale_factor": 2.0}, dict(scale_factor=2.0, mode="nearest")),
        ({"scale_factor": 1.5}, dict(scale_factor=1.5, mode="nearest")),
        ({"size": [9, 4]}, dict(size=(9, 4), mode="nearest")),
        ({"scale_factor": 2.0, "mode": "bilinear"},
         dict(scale_factor=2.0, mode="bilinear", align_corners=False)),
        ({"scale_factor": 3.0, "mode": "bilinear", "align_corners": True},
         dict(scale_factor=3.0, mode="bilinear", align_corners=True)),
        ({"size": 11, "mode": "bilinear"}, dict(size=11, mode="bilinear", align_corners=False)),
    ],
)  # fmt: skip
def test_upsample_equals_interpolate(params, ref):
    """Each mode, scale factor or size gives F.interpolate's shape and values."""
    m = one_node("upsample", params)
    x = x_of()
    want = F.interpolate(x, **ref)
    assert analyze(m)["n"].shape == tuple(want.shape[1:])
    torch.testing.assert_close(run(m, x), want, rtol=0, atol=0)


def test_upsample_needs_size_or_scale():
    """Neither size nor scale_factor is refused, naming both."""
    with pytest.raises(ParamError, match="upsample needs 'scale_factor' or 'size'"):
        one_node("upsample", {})


def test_upsample_size_wins_over_scale():
    """With both set, size is used (shape, values, code): switching one at a time works."""
    m = one_node("upsample", {"size": [7, 3], "scale_factor": 2.0})
    assert analyze(m)["n"].shape == (4, 7, 3)
    x = x_of()
    torch.testing.assert_close(run(m, x), F.interpolate(x, size=(7, 3)), rtol=0, atol=0)
    assert "nn.Upsample(size=(7, 3))" in export_code(m)
    assert "nn.Upsample(size=(7, 3))" in export_blocks(m)


def test_upsample_align_corners_needs_bilinear():
    """align_corners with nearest is refused (torch refuses it too)."""
    with pytest.raises(ParamError, match="'align_corners' needs mode \"bilinear\""):
        one_node("upsample", {"scale_factor": 2.0, "align_corners": True})


def test_upsample_code():
    """nn.Upsample with the scale or the size; bilinear states align_corners."""
    assert "self.n = nn.Upsample(scale_factor=2.0)" in export_code(
        one_node("upsample", {"scale_factor": 2.0})
    )
    code = export_code(one_node("upsample", {"size": [8, 6], "mode": "bilinear"}))
    assert "nn.Upsample(size=(8, 6), mode='bilinear', align_corners=False)" in code


@pytest.mark.parametrize("affine", [True, False])
def test_layernorm2d_equals_layer_norm_over_channels(affine):
    """Normalising each pixel over C equals F.layer_norm on channels-last, with its weights."""
    m = one_node("layernorm2d", {"eps": 1e-6, "elementwise_affine": affine})
    model = build_module(m, seed=1)
    if affine:
        assert sorted(model.state_dict()) == ["n.bias", "n.weight"]
        with torch.no_grad():
            model.n.weight.normal_()
            model.n.bias.normal_()
    x = x_of()
    w = model.n.weight if affine else None
    b = model.n.bias if affine else None
    want = F.layer_norm(x.permute(0, 2, 3, 1), (4,), w, b, 1e-6).permute(0, 3, 1, 2)
    with torch.inference_mode():
        torch.testing.assert_close(model(x), want, rtol=1e-6, atol=1e-6)
    assert analyze(m)["n"].other == (8 if affine else 0)


def test_layernorm2d_code_permutes_around_nn_layernorm():
    """Its code is nn.LayerNorm(C) applied channels-last: the weights are weight and bias."""
    m = one_node("layernorm2d", {"eps": 1e-6})
    code = export_code(m)
    assert "self.n = nn.LayerNorm(4, eps=1e-06)" in code
    assert "n = self.n(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)" in code
    assert "self.n(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)" in export_blocks(m)


def test_channel_slices_split_and_concat_back_to_the_input():
    """Three slices ([0:1], [1:3], [3:4]) equal torch.split(x, [1, 2, 1], 1); concat rebuilds x."""
    m = GraphModel("split")
    m.add_node("input", {"channels": 4, "height": 3, "width": 3}, "x")
    m.add_node("concat", {}, "cat")
    for i, (a, b) in enumerate(((0, 1), (1, 3), (3, 4))):
        m.add_node("channel_slice", {"start": a, "stop": b}, f"s{i}")
        m.connect("x", f"s{i}")
        m.connect(f"s{i}", "cat")
    a = analyze(m)
    assert [a[f"s{i}"].shape for i in range(3)] == [(1, 3, 3), (2, 3, 3), (1, 3, 3)]
    x = x_of(4, 3, 3)
    with torch.inference_mode():
        out = build_module(m, capture=True)(x)
    for i, part in enumerate(torch.split(x, [1, 2, 1], 1)):
        torch.testing.assert_close(out[f"s{i}"], part, rtol=0, atol=0)
    torch.testing.assert_close(out["cat"], x, rtol=0, atol=0)
    assert "s1 = x[:, 1:3]" in export_code(m) and "x[:, :1]" in export_code(m)


def test_channel_slice_beyond_the_channels_is_an_error():
    """stop 6 of 4 channels is refused (torch would silently return fewer channels)."""
    a = analyze(one_node("channel_slice", {"start": 2, "stop": 6}))
    assert a["n"].error == "channel_slice 'n' stop 6 is beyond the 4 channels of 'x'; " \
        "lower stop to at most 4"  # fmt: skip
    with pytest.raises(ParamError, match="'start' 3 must be less than 'stop' 3"):
        one_node("channel_slice", {"start": 3, "stop": 3})


def test_channel_slice_of_features():
    """A slice of a feature vector keeps features [start, stop)."""
    m = chain(("flatten", {}), ("channel_slice", {"start": 5, "stop": 20}), c=2, h=3, w=4)
    assert analyze(m)["l1"].shape == (15,)
    x = x_of(2, 3, 4)
    torch.testing.assert_close(run(m, x), x.flatten(1)[:, 5:20], rtol=0, atol=0)


@pytest.mark.parametrize("groups", [1, 2, 3, 6])
def test_channel_shuffle_equals_torch(groups):
    """The export's view-transpose-view equals nn.ChannelShuffle and ShuffleNet's own code."""
    m = one_node("channel_shuffle", {"groups": groups}, 6)
    x = x_of(6)
    out = run(m, x)
    torch.testing.assert_close(out, nn.ChannelShuffle(groups)(x), rtol=0, atol=0)
    n, c, h, w = x.shape
    shufflenet = x.view(n, groups, c // groups, h, w).transpose(1, 2).contiguous().view(n, c, h, w)
    torch.testing.assert_close(out, shufflenet, rtol=0, atol=0)


def test_channel_shuffle_needs_divisible_channels():
    """4 groups of 6 channels is an error naming both numbers."""
    a = analyze(one_node("channel_shuffle", {"groups": 4}, 6))
    assert "input channels 6 are not divisible by groups 4" in a["n"].error


@pytest.mark.parametrize(
    ("params", "text", "ref"),
    [
        ({"scale": 0.5}, "n = x * 0.5", lambda x: x * 0.5),
        ({"shift": -1.25}, "n = x + -1.25", lambda x: x + -1.25),
        ({"scale": 2.0, "shift": 3.0}, "n = x * 2.0 + 3.0", lambda x: x * 2.0 + 3.0),
    ],
)
def test_scale_shift_equals_torch(params, text, ref):
    """x * scale + shift with constants: values, code and no parameters."""
    m = one_node("scale_shift", params)
    x = x_of()
    torch.testing.assert_close(run(m, x), ref(x), rtol=0, atol=0)
    assert text in export_code(m)
    assert analyze(m).totals.params == 0


def test_batch2_chain_matches_the_oracle():
    """A decoder-like chain of every batch-2 type equals the torch.nn oracle node by node."""
    m = chain(
        ("conv", {"out_channels": 6, "kernel_size": 3, "stride": 2, "padding": 1}),
        ("layernorm2d", {"eps": 1e-6}),
        ("channel_shuffle", {"groups": 3}),
        ("channel_slice", {"start": 1, "stop": 5}),
        ("conv_transpose", {"out_channels": 4, "kernel_size": 4, "stride": 2, "padding": 1}),
        ("upsample", {"scale_factor": 2.0, "mode": "bilinear"}),
        ("scale_shift", {"scale": 0.5, "shift": 1.0}),
        c=3, h=8, w=6,
    )  # fmt: skip
    assert_matches_oracle(m)


def test_batch2_readable_export_has_parity():
    """The readable export of the same chain, with converted weights, gives the live output."""
    m = chain(
        ("conv_transpose", {"out_channels": 6, "kernel_size": 2, "stride": 2}),
        ("layernorm2d", {}),
        ("channel_shuffle", {"groups": 2}),
        ("channel_slice", {"start": 2, "stop": 6}),
        ("upsample", {"size": [13, 9]}),
        ("scale_shift", {"shift": 0.5}),
        ("hardsigmoid", {"alpha": 0.2}),
        c=3, h=5, w=4,
    )  # fmt: skip
    readable_parity(m, x_of(3, 5, 4))


# --------------------------------------------------------------------------- pad
@pytest.mark.parametrize(
    "params",
    [
        {"left": 0, "right": 1, "top": 0, "bottom": 1},  # TensorFlow's "same", stride 2
        {"left": 2, "right": 1, "top": 3, "bottom": 0, "value": -1.5},
        {"left": 1, "right": 2, "top": 2, "bottom": 1, "mode": "reflect"},
        {"left": 3, "right": 0, "top": 1, "bottom": 4, "mode": "replicate"},
    ],
)
def test_pad_equals_f_pad(params):
    """Uneven, filled, reflected and replicated padding equal F.pad, shape included."""
    m = one_node("pad", params)
    x = x_of()
    sides = tuple(params.get(k, 0) for k in ("left", "right", "top", "bottom"))
    mode = params.get("mode", "constant")
    want = F.pad(x, sides, mode=mode, **({"value": params.get("value", 0.0)}
                                         if mode == "constant" else {}))  # fmt: skip
    assert analyze(m)["n"].shape == tuple(want.shape[1:])
    torch.testing.assert_close(run(m, x), want, rtol=0, atol=0)


def test_pad_then_conv_is_tensorflow_same_with_stride_2():
    """Pad 0/1 then a 3×3 stride-2 conv: TF "same" (out = ceil(H/2)); RF starts at 0."""
    m = chain(("pad", {"right": 1, "bottom": 1}),
              ("conv", {"out_channels": 2, "kernel_size": 3, "stride": 2}), c=3, h=8, w=8)  # fmt: skip
    a = analyze(m)
    assert a["l1"].shape == (2, 4, 4)
    assert a["l1"].rf == ((3, 2, 0), (3, 2, 0))
    assert "l0 = nn.functional.pad(x, (0, 1, 0, 1))" in export_code(m)
    assert_matches_oracle(m)


def test_pad_value_needs_constant_mode():
    """A fill value with reflect padding is refused (torch ignores or refuses it)."""
    with pytest.raises(ParamError, match="'value' is the fill of mode \"constant\" only"):
        one_node("pad", {"left": 1, "mode": "reflect", "value": 1.0})


def test_reflect_pad_wider_than_the_input_is_an_error():
    """Reflect padding 6 of a 6-pixel axis is an analysis error, as torch fails on it."""
    a = analyze(one_node("pad", {"top": 6, "mode": "reflect"}))
    assert "reflect padding 6 along H needs more than 6 input pixels" in a["n"].error


def test_channel_field_follows_shuffles_and_slices():
    """A channel's field is its branch's after shuffle and slice move it (torch's permutation)."""
    from engine.analysis.rf_boxes import channel_rf

    m = GraphModel("mix")
    m.add_node("input", {"channels": 3, "height": 9, "width": 9}, "x")
    m.add_node("conv1x1", {"out_channels": 4}, "b1")
    m.add_node("conv", {"out_channels": 4, "kernel_size": 5, "padding": 2}, "b5")
    m.add_node("concat", {}, "cat")
    m.add_node("channel_shuffle", {"groups": 2}, "shuf")
    m.add_node("channel_slice", {"start": 2, "stop": 6}, "sl")
    m.add_node("gelu", {}, "g")
    for a, b in (("x", "b1"), ("x", "b5"), ("b1", "cat"), ("b5", "cat"), ("cat", "shuf"),
                 ("shuf", "sl"), ("sl", "g")):  # fmt: skip
        m.connect(a, b)
    a = analyze(m)
    source = nn.ChannelShuffle(2)(torch.arange(8.0).view(1, 8, 1, 1)).flatten()
    for k in range(4):
        from_b1 = source[k + 2].item() < 4  # concat channels 0–3 come from the 1×1 branch
        assert channel_rf(a, "g", k)[0][0] == (1 if from_b1 else 5), k


# --------------------------------------------------------------------------- GRN
def grn_reference(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, eps: float) -> torch.Tensor:
    """ConvNeXt V2's GRN as its paper writes it (channels first)."""
    gx = torch.sqrt((x * x).sum(dim=(2, 3), keepdim=True))
    nx = gx / (gx.mean(dim=1, keepdim=True) + eps)
    return w.view(1, -1, 1, 1) * (x * nx) + b.view(1, -1, 1, 1) + x


def test_grn_equals_the_paper_formula():
    """GRN with random weight and bias gives the paper's values; it starts as the identity."""
    m = one_node("grn", {"eps": 1e-6})
    model = build_module(m, seed=0)
    assert sorted(model.state_dict()) == ["n.bias", "n.weight"]
    x = x_of()
    with torch.inference_mode():
        torch.testing.assert_close(model(x), x, rtol=0, atol=0)  # zero weight and bias
    with torch.no_grad():
        model.n.weight.normal_()
        model.n.bias.normal_()
    want = grn_reference(x, model.n.weight, model.n.bias, 1e-6)
    with torch.inference_mode():
        torch.testing.assert_close(model(x), want, rtol=1e-5, atol=1e-6)
    r = analyze(m)["n"]
    assert (r.shape, r.weights, r.biases, r.other, r.macs) == ((4, 6, 5), 0, 0, 8, 0)


def test_grn_field_is_the_whole_map_at_every_pixel():
    """Each output pixel depends on every input pixel (the norm over H×W): jump 0."""
    m = chain(("conv", {"out_channels": 2, "kernel_size": 3, "padding": 1}), ("grn", {}),
              ("conv", {"out_channels": 2, "kernel_size": 3, "padding": 1}))  # fmt: skip
    a = analyze(m)
    assert a["l1"].rf == ((8, 0, -1), (7, 0, -1))
    assert a["l2"].rf == ((8, 0, -1), (7, 0, -1))


def test_grn_code_defines_its_class_once():
    """Both exports define GlobalResponseNorm once; a design of that name gets another."""
    m = chain(("grn", {}), ("grn", {"eps": 1e-5}))
    m.name = "GlobalResponseNorm"
    for code in (export_code(m), export_blocks(m)):
        assert code.count("class GlobalResponseNorm(nn.Module):") == 1
        assert "GlobalResponseNorm(4, eps=1e-05)" in code
        assert "class GlobalResponseNormNet(nn.Module):" in code
    readable_parity(m, x_of())


def test_grn_chain_matches_the_oracle():
    """conv → GRN → LayerNorm over channels (ConvNeXt V2) equals the oracle node by node."""
    m = chain(("conv", {"out_channels": 4, "kernel_size": 3, "padding": 1}), ("grn", {}),
              ("layernorm2d", {"eps": 1e-6}))  # fmt: skip
    assert_matches_oracle(m)


# --------------------------------------------------------------------------- clamp
@pytest.mark.parametrize(
    ("params", "text", "ref"),
    [
        ({"min": -1.0, "max": 1.0}, "n = x.clamp(-1.0, 1.0)", lambda x: F.hardtanh(x)),
        ({"min": 0.5}, "n = x.clamp(min=0.5)", lambda x: torch.clamp(x, min=0.5)),
        ({"max": -0.25}, "n = x.clamp(max=-0.25)", lambda x: torch.clamp(x, max=-0.25)),
    ],
)
def test_clamp_equals_torch(params, text, ref):
    """Both bounds, only min, only max: torch's values, the clamp expression in the code."""
    m = one_node("clamp", params)
    x = x_of()
    torch.testing.assert_close(run(m, x), ref(x), rtol=0, atol=0)
    assert text in export_code(m)


def test_clamp_bounds_are_checked():
    """No bound, or min above max, is refused with both names."""
    with pytest.raises(ParamError, match="clamp needs 'min' or 'max'"):
        one_node("clamp", {})
    with pytest.raises(ParamError, match="'min' 2 must not exceed 'max' 1"):
        one_node("clamp", {"min": 2.0, "max": 1.0})


def test_targets_are_the_built_modules():
    """Targets are exactly the built submodules (expressions such as slice or pad have none)."""
    from engine.codegen.targets import module_targets

    m = chain(
        ("conv_transpose", {"out_channels": 4, "kernel_size": 2, "stride": 2}),
        ("hardsigmoid", {"alpha": 0.2}),
        ("hardsigmoid", {}),
        ("layernorm2d", {}),
        ("channel_slice", {"stop": 2}),
        ("upsample", {"scale_factor": 2.0}),
        ("grn", {}),
        ("clamp", {"min": 0.0}),
        ("pad", {"left": 1}),
        ("gelu", {}),
    )
    built = build_module(m)
    assert set(module_targets(m)) == {"l0", "l2", "l3", "l5", "l6", "l9"}
    assert set(module_targets(m).values()) == {name for name, _ in built.named_children()}


def test_block_type_counts_channels_through_a_slice_and_a_transposed_conv():
    """In a block type, a nested block after a slice [0:4] or a conv_transpose to 6 sees 4 or 6."""
    from engine.blocks.types import E, instantiate, type_from_dict

    inner = type_from_dict({"key": "inner", "class": "Inner",
                            "nodes": [{"id": "pw", "type": "conv1x1",
                                       "params": {"out_channels": E("in_channels * 2")}}],
                            "edges": [["in", "pw"]], "output": "pw"})  # fmt: skip
    outer = type_from_dict({"key": "outer", "class": "Outer",
                            "nodes": [{"id": "s", "type": "channel_slice",
                                       "params": {"start": 0, "stop": 4}},
                                      {"id": "a", "block": "inner"},
                                      {"id": "t", "type": "conv_transpose",
                                       "params": {"out_channels": 6, "kernel_size": 2}},
                                      {"id": "b", "block": "inner"}],
                            "edges": [["in", "s"], ["s", "a"], ["a", "t"], ["t", "b"]],
                            "output": "b"})  # fmt: skip
    inst = instantiate({"inner": inner, "outer": outer}, "outer", {}, 10, "blk")
    outs = {nid: p["out_channels"] for nid, t, p, _ in inst.nodes if t == "conv1x1"}
    assert sorted(outs.values()) == [8, 12]


def test_memory_need_counts_a_transposed_convs_column_buffer():
    """Working memory covers a transposed conv's column buffer: (out/g)·kh·kw per input pixel."""
    from engine.runtime.memory import memory_need

    m = one_node("conv_transpose", {"out_channels": 64, "kernel_size": 15}, 2, 4, 4)
    _, _, working = memory_need(analyze(m))
    # 900 KiB, more than 16 B per output value (64·18·18·16 = 324 KiB)
    assert working == 4 * 64 * 15 * 15 * 4 * 4


# --------------------------------------------------------------------------- PReLU
@pytest.mark.parametrize("n", [1, 4])
def test_prelu_equals_torch(n):
    """Shared or per-channel learned slopes: F.prelu's values with the same weight, n params."""
    m = one_node("prelu", {"num_parameters": n, "init": 0.1})
    model = build_module(m)
    assert model.n.weight.shape == (n,)
    with torch.no_grad():
        model.n.weight.normal_()
    x = x_of()
    with torch.inference_mode():
        torch.testing.assert_close(model(x), F.prelu(x, model.n.weight), rtol=0, atol=0)
    assert analyze(m)["n"].other == n
    ctor = "nn.PReLU(init=0.1)" if n == 1 else "nn.PReLU(num_parameters=4, init=0.1)"
    assert f"self.n = {ctor}" in export_code(m)


def test_prelu_slopes_must_match_the_channels():
    """3 slopes on 4 channels is an error naming both numbers."""
    a = analyze(one_node("prelu", {"num_parameters": 3}))
    assert a["n"].error == (
        "prelu 'n' num_parameters 3 must be 1 or the 4 channels of 'x'; set it to 1 or 4"
    )


# --------------------------------------------------------------------------- random graphs
MORE_SEEDS = range(16)


@pytest.mark.parametrize("seed", MORE_SEEDS)
def test_random_graph_of_the_new_types_matches_the_oracle(seed):
    """Seeded random graphs drawing the new types too give the oracle's values at every node."""
    assert_matches_oracle(seeded_graph(seed, 12, MORE_OPS), seed)


def test_the_random_graphs_use_every_new_type():
    """The seeds above place every new type at least once (the check covers them all)."""
    used = set()
    for seed in MORE_SEEDS:
        g = seeded_graph(seed, 12, MORE_OPS)
        used |= {g.node_type(n) for n in g.nodes}
    assert set(MORE_OPS) - set(OPS) - used == set()


@pytest.mark.parametrize("seed", range(0, 16, 3))
def test_random_graph_of_the_new_types_exports_readably(seed):
    """The readable export of those graphs loads the live weights strictly and gives its output."""
    g = seeded_graph(seed, 12, MORE_OPS)
    shape = analyze(g)["input"].shape
    readable_parity(g, torch.randn(1, *shape, generator=torch.Generator().manual_seed(seed)))
