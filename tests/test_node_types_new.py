"""The newer node types against torch.nn / torch.nn.functional: values, shapes, counts, code.

Each test builds a small design, runs :func:`engine.runtime.build.build_module` and checks
its output against torch's own layer or function applied to the same input (and the same
weights, copied in), besides the analysis' shape and counts.
"""

from __future__ import annotations

import pytest
import torch
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
