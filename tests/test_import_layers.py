"""PyTorch import of timm-style code: subclasses of torch layers, functional calls on
parameters, shape-dependent control flow, the newer activations and pooling options, and
the refusal message (one line per operation, in words, with its cause)."""

from __future__ import annotations

import inspect
import textwrap

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cli import main as cli_main
from engine.codegen.emit_blocks import export_blocks
from engine.codegen.naming import class_name
from engine.interop.convert import import_module
from engine.interop.errors import TraceError, UnsupportedError
from engine.interop.source import load_source
from engine.runtime.build import build_module


def _types(imp) -> dict:
    return {n: imp.model.node_type(n) for n in imp.model.nodes}


def _randomise(model: nn.Module) -> nn.Module:
    torch.manual_seed(3)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
    return model.eval()


def _exported(imp) -> nn.Module:
    """The default (readable) export of the imported design, compiled."""
    ns: dict = {}
    exec(compile(export_blocks(imp.model), "export.py", "exec"), ns)  # noqa: S102
    return ns[class_name(imp.model.name)]().eval()


def _same_outputs(model: nn.Module, imp, size=(3, 16, 16)) -> None:
    """The built design and the default export, with the import's weights, equal ``model``."""
    torch.manual_seed(1)
    x = torch.randn(1, *size)
    built = build_module(imp.model)
    built.load_state_dict(imp.state, strict=True)
    exported = _exported(imp)
    exported.load_state_dict(imp.state, strict=True)
    n_model = sum(p.numel() for p in model.parameters())
    assert sum(p.numel() for p in exported.parameters()) == n_model
    with torch.no_grad():
        want = model.eval()(x)
        for got in (built(x), exported(x)):
            torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


class _Wrap(nn.Module):
    def __init__(self, op):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.op = op

    def forward(self, x):
        return self.op(self.conv(x))


class _Head(nn.Module):
    """conv → pool → flatten → op: for softmax over the features (dim -1)."""

    def __init__(self, op):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.op = op

    def forward(self, x):
        return self.op(torch.flatten(F.adaptive_avg_pool2d(self.conv(x), 1), 1))


OPS = [
    # (functional form, module form, node type, params)
    (F.gelu, nn.GELU(), "gelu", {"approximate": "none"}),
    (lambda x: F.gelu(x, approximate="tanh"), nn.GELU("tanh"), "gelu", {"approximate": "tanh"}),
    (lambda x: F.leaky_relu(x, 0.2), nn.LeakyReLU(0.2), "leaky_relu", {"negative_slope": 0.2}),
    (lambda x: F.elu(x, 0.5), nn.ELU(0.5), "elu", {"alpha": 0.5}),
    (F.mish, nn.Mish(), "mish", {}),
    (torch.tanh, nn.Tanh(), "tanh", {}),
    (lambda x: x.softmax(1), nn.Softmax(1), "softmax", {}),
    (
        lambda x: F.avg_pool2d(x, 3, 2, 1, count_include_pad=False),
        nn.AvgPool2d(3, 2, 1, count_include_pad=False),
        "avgpool",
        {"count_include_pad": False, "divisor_override": None},
    ),
    (
        lambda x: F.avg_pool2d(x, 2, divisor_override=3),
        nn.AvgPool2d(2, divisor_override=3),
        "avgpool",
        {"count_include_pad": True, "divisor_override": 3},
    ),
]


@pytest.mark.parametrize("form", ["functional", "module"])
@pytest.mark.parametrize("case", range(len(OPS)), ids=[f"{o[2]}{i}" for i, o in enumerate(OPS)])
def test_newer_op_imports_to_its_node_type(case, form):
    """Each newer activation and pooling option, functional or module: its node type,
    parameters and torch's outputs."""
    fn, mod, want, params = OPS[case]
    model = _Wrap(fn if form == "functional" else mod)
    imp = import_module(model, (3, 16, 16))
    (node,) = [n for n in imp.model.nodes if n not in ("x", "conv")]
    assert imp.model.node_type(node) == want
    got = imp.model.params(node)
    assert {k: got[k] for k in params} == params
    _same_outputs(model, imp)


def test_avgpool_without_padding_drops_count_include_pad():
    """count_include_pad=False without padding changes nothing: the node keeps torch's default."""
    model = _Wrap(nn.AvgPool2d(2, count_include_pad=False))
    imp = import_module(model, (3, 16, 16))
    assert imp.model.params("op")["count_include_pad"] is True
    _same_outputs(model, imp)


@pytest.mark.parametrize("form", ["functional", "module"])
def test_softmax_over_features_imports(form):
    """softmax(dim=-1) on a flat feature vector is the Softmax node."""
    model = _Head(nn.Softmax(-1) if form == "module" else (lambda x: F.softmax(x, -1)))
    imp = import_module(model, (3, 16, 16))
    assert "softmax" in _types(imp).values()
    _same_outputs(model, imp)


def test_softmax_over_width_is_refused():
    """softmax(dim=-1) on C×H×W (over the width) is not the Softmax node: refused."""
    with pytest.raises(UnsupportedError) as err:
        import_module(_Wrap(nn.Softmax(-1)), (3, 16, 16))
    assert "softmax over the last dimension of an image tensor" in err.value.message


class _Slices(nn.Module):
    """conv (8 channels) → two channel parts → concat (+ a conv on one part)."""

    def __init__(self, how: str):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.side = nn.Conv2d(3, 3, 1) if "split" in how or how == "index" else None
        self.how = how

    def forward(self, x):
        x = self.conv(x)
        if self.how == "index":
            a, b = x[:, :3], x[:, 3:, :, :]
        elif self.how == "split":
            a, b = torch.split(x, [3, 5], dim=1)
        elif self.how == "split_method":
            a, b = x.split(3, 1)[0], x.split(3, 1)[-1]
        elif self.how == "chunk":
            a, b = x.chunk(2, dim=1)
        else:
            a, b = torch.chunk(x, 2, 1)
        return torch.cat([self.side(a[:, :3]) if self.side is not None else a, b], 1)


@pytest.mark.parametrize("how", ["index", "split", "split_method", "chunk", "torch_chunk"])
def test_channel_slices_import_as_channel_slice_nodes(how):
    """x[:, a:b], torch.split, Tensor.split, chunk: one Channel Slice node per part used."""
    model = _Slices(how)
    imp = import_module(model, (3, 8, 8))
    slices = [n for n, t in _types(imp).items() if t == "channel_slice"]
    ranges = sorted((imp.model.params(n)["start"], imp.model.params(n)["stop"]) for n in slices)
    assert ranges[0][0] == 0 and ranges[-1][1] == 8
    _same_outputs(model, imp, (3, 8, 8))


class _LN2d(nn.Module):
    """ConvNeXt's LayerNorm over channels: permute → layer_norm → permute."""

    def __init__(self, functional: bool):
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 3, padding=1)
        self.norm = nn.LayerNorm(6, eps=1e-6)
        self.functional = functional
        with torch.no_grad():
            self.norm.weight.uniform_(0.5, 1.5)
            self.norm.bias.uniform_(-0.5, 0.5)

    def forward(self, x):
        x = self.conv(x).permute(0, 2, 3, 1)
        if self.functional:
            x = F.layer_norm(x, (6,), self.norm.weight, self.norm.bias, 1e-6)
        else:
            x = self.norm(x)
        return x.permute(0, 3, 1, 2)


class LayerNorm2d(nn.LayerNorm):
    """timm's LayerNorm2d: a subclass of nn.LayerNorm permuting around F.layer_norm."""

    def forward(self, x):
        x = F.layer_norm(x.permute(0, 2, 3, 1), self.normalized_shape, self.weight, self.bias)
        return x.permute(0, 3, 1, 2)


def test_layernorm2d_subclass_in_a_sequential_exports_with_its_permutes():
    """nn.Sequential(conv, LayerNorm2d): one LayerNorm node; the default export permutes."""
    model = nn.Sequential(nn.Conv2d(3, 6, 3), LayerNorm2d(6), nn.ReLU())
    imp = import_module(model, (3, 8, 8))
    assert _types(imp)["1"] == "layernorm2d"
    _same_outputs(model, imp, (3, 8, 8))


@pytest.mark.parametrize("functional", [False, True], ids=["module", "functional"])
def test_permute_layer_norm_permute_is_one_layernorm2d(functional):
    """permute → nn.LayerNorm / F.layer_norm on parameters → permute: one LayerNorm node."""
    model = _LN2d(functional)
    imp = import_module(model, (3, 8, 8))
    assert sorted(_types(imp).values()) == ["conv", "input", "layernorm2d"]
    (node,) = [n for n, t in _types(imp).items() if t == "layernorm2d"]
    assert imp.model.params(node) == {"eps": 1e-6, "elementwise_affine": True}
    _same_outputs(model, imp, (3, 8, 8))


class _ChannelsLastMlp(nn.Module):
    """ConvNeXt's block body: permute → LayerNorm → Linear → GELU → Linear → permute."""

    def __init__(self, functional: bool):
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 3, padding=1)
        self.norm = nn.LayerNorm(6)
        self.fc1, self.act, self.fc2 = nn.Linear(6, 12), nn.GELU(), nn.Linear(12, 5, bias=False)
        self.functional = functional

    def forward(self, x):
        x = self.conv(x).permute(0, 2, 3, 1)
        if self.functional:
            x = F.layer_norm(x, (6,), self.norm.weight, self.norm.bias)
            x = F.linear(F.gelu(F.linear(x, self.fc1.weight, self.fc1.bias)), self.fc2.weight)
        else:
            x = self.fc2(self.act(self.fc1(self.norm(x))))
        return x.permute(0, 3, 1, 2)


@pytest.mark.parametrize("functional", [False, True], ids=["module", "functional"])
def test_channels_last_layers_become_channels_first_nodes(functional):
    """LayerNorm and Linear between permutes: LayerNorm over channels and 1×1 convs with
    the Linear's weights, no permute nodes; the default export gives torch's outputs."""
    model = _ChannelsLastMlp(functional)
    imp = import_module(model, (3, 8, 8))
    types = sorted(_types(imp).values())
    assert types == ["conv", "conv1x1", "conv1x1", "gelu", "input", "layernorm2d"]
    _same_outputs(model, imp, (3, 8, 8))


class _Shuffle(nn.Module):
    def __init__(self, how: str):
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 1)
        self.how = how
        self.shuffle = nn.ChannelShuffle(3)

    def forward(self, x):
        x = self.conv(x)
        if self.how == "module":
            return self.shuffle(x)
        b, c, h, w = x.size()
        x = x.view(b, 3, c // 3, h, w)
        x = torch.transpose(x, 1, 2).contiguous()
        return x.view(b, -1, h, w)


@pytest.mark.parametrize("how", ["module", "view_transpose_view"])
def test_channel_shuffle_imports_as_one_node(how):
    """nn.ChannelShuffle and ShuffleNet's view → transpose → view: one Channel Shuffle."""
    model = _Shuffle(how)
    imp = import_module(model, (3, 4, 4))
    assert sorted(_types(imp).values()) == ["channel_shuffle", "conv1x1", "input"]
    (node,) = [n for n, t in _types(imp).items() if t == "channel_shuffle"]
    assert imp.model.params(node) == {"groups": 3}
    _same_outputs(model, imp, (3, 4, 4))


class _Scaled(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 1)
        self.gamma = nn.Parameter(torch.linspace(0.5, 2.0, 4))

    def forward(self, x):
        x = self.conv(x)
        x = x * self.gamma.view(1, -1, 1, 1)  # layer scale
        return (3.0 - torch.add(x * 2, 1) / 6).mul(0.5)


def test_constants_and_layer_scale():
    """x * gamma.view(1, -1, 1, 1) is a depthwise 1×1 conv; x * 2, + 1, / 6, 3 - x, .mul(0.5)
    are Scale & Shift nodes."""
    model = _Scaled()
    imp = import_module(model, (3, 4, 4))
    types = _types(imp)
    (ls,) = [n for n, t in types.items() if t == "conv1x1" and n != "conv"]
    assert imp.model.params(ls)["groups"] == 4 and imp.model.params(ls)["bias"] is False
    got = [imp.model.params(n) for n, t in types.items() if t == "scale_shift"]
    assert got == [
        {"scale": 2.0, "shift": 0.0},
        {"scale": 1.0, "shift": 1.0},
        {"scale": 1 / 6, "shift": 0.0},
        {"scale": -1.0, "shift": 3.0},
        {"scale": 0.5, "shift": 0.0},
    ]
    _same_outputs(model, imp, (3, 4, 4))


class _Deconv(nn.ConvTranspose2d):
    def forward(self, x):
        return F.conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding, 1)


RESIZE = [
    (nn.Upsample(scale_factor=2), "upsample", {"scale_factor": 2.0, "mode": "nearest"}),
    (
        lambda x: F.interpolate(x, size=(5, 7), mode="bilinear", align_corners=True),
        "upsample",
        {"size": [5, 7], "mode": "bilinear", "align_corners": True},
    ),
    (
        lambda x: F.interpolate(x, scale_factor=2.0, mode="bilinear"),
        "upsample",
        {"scale_factor": 2.0, "mode": "bilinear", "align_corners": False},
    ),
    (nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1), "conv_transpose", {}),
    (
        lambda x: F.pad(x, (0, 1, 0, 1)),
        "pad",
        {"left": 0, "right": 1, "top": 0, "bottom": 1, "mode": "constant", "value": 0.0},
    ),
    (nn.ZeroPad2d((1, 0, 2, 0)), "pad", {"left": 1, "right": 0, "top": 2, "bottom": 0}),
    (nn.ReflectionPad2d(1), "pad", {"left": 1, "bottom": 1, "mode": "reflect"}),
    (lambda x: F.pad(x, (1, 1), value=0.25), "pad", {"left": 1, "top": 0, "value": 0.25}),
    (nn.ConstantPad2d(1, 0.5), "pad", {"value": 0.5}),
    (lambda x: torch.clamp(x, -0.1, 0.2), "clamp", {"min": -0.1, "max": 0.2}),
    (nn.PReLU(4, 0.1), "prelu", {"num_parameters": 4}),
    (nn.PReLU(), "prelu", {"num_parameters": 1}),
    (lambda x: x.clamp(min=0.0), "clamp", {"min": 0.0, "max": None}),
    (nn.Hardtanh(-0.5, 0.5), "clamp", {"min": -0.5, "max": 0.5}),
    (_Deconv(4, 2, 2, stride=2), "conv_transpose", {"stride": 2, "kernel_size": 2}),
]


@pytest.mark.parametrize("case", range(len(RESIZE)))
def test_resizing_padding_and_clamping_import(case):
    """nn.Upsample, F.interpolate (nearest, bilinear), nn.ConvTranspose2d, F.conv_transpose2d
    on a subclass's weight, F.pad and nn.*Pad2d, clamp and nn.Hardtanh: their node types
    with torch's outputs."""
    op, want, params = RESIZE[case]
    model = _Wrap(op)
    imp = import_module(model, (3, 8, 8))
    (node,) = [n for n in imp.model.nodes if n not in ("x", "conv")]
    assert imp.model.node_type(node) == want
    got = imp.model.params(node)
    assert {k: got[k] for k in params} == params
    _same_outputs(model, imp, (3, 8, 8))


class GlobalResponseNorm(nn.Module):
    """ConvNeXt V2's GRN, channels first, as timm writes it."""

    def __init__(self, dim, eps=1e-6):
        super().__init__()
        self.eps = eps
        self.spatial_dim, self.channel_dim, self.wb_shape = (2, 3), 1, (1, -1, 1, 1)
        self.weight = nn.Parameter(torch.linspace(-1, 1, dim))
        self.bias = nn.Parameter(torch.linspace(0, 1, dim))

    def forward(self, x):
        x_g = x.norm(p=2, dim=self.spatial_dim, keepdim=True)
        x_n = x_g / (x_g.mean(dim=self.channel_dim, keepdim=True) + self.eps)
        w, b = self.weight.view(self.wb_shape), self.bias.view(self.wb_shape)
        return x + torch.addcmul(b, w, x * x_n)


class _OwnPReLU(nn.PReLU):
    def forward(self, x):
        return F.prelu(x, self.weight)


@pytest.mark.parametrize("layer", ["grn", "prelu"])
def test_grn_and_functional_prelu_import_with_their_weights(layer):
    """timm's GlobalResponseNorm (channels first) is one GRN node; F.prelu on a subclass's
    weight is a PReLU node; both with their weights and torch's outputs."""
    op = GlobalResponseNorm(4) if layer == "grn" else _OwnPReLU(4, 0.3)
    model = _Wrap(op)
    imp = import_module(model, (3, 8, 8))
    assert imp.model.node_type("op") == layer
    assert sorted(k for k in imp.state if k.startswith("op.")) == (
        ["op.bias", "op.weight"] if layer == "grn" else ["op.weight"]
    )
    _same_outputs(model, imp, (3, 8, 8))


# --------------------------------------------------------------------------- subclasses
class PlainBN(nn.BatchNorm2d):
    """A subclass that keeps BatchNorm2d's forward."""


class BNAct(nn.BatchNorm2d):
    """BatchNorm then ReLU in its own forward, as timm's BatchNormAct2d."""

    def __init__(self, c):
        super().__init__(c)
        self.act = nn.ReLU()

    def forward(self, x):
        assert x.ndim == 4, "4-D input"
        x = F.batch_norm(
            x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.1, self.eps
        )
        return self.act(x)


class PlainLinear(nn.Linear):
    """A subclass that keeps Linear's forward."""


class OwnLinear(nn.Linear):
    """Linear with its own forward (timm's Linear)."""

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)


class SameConv(nn.Conv2d):
    """A convolution computed in its own forward."""

    def forward(self, x):
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, 1, self.groups)


class _Net(nn.Module):
    def __init__(self, bn: nn.Module, fc: nn.Module, conv: nn.Module | None = None):
        super().__init__()
        self.conv = conv or nn.Conv2d(3, 8, 3, padding=1)
        self.bn = bn
        self.fc = fc

    def forward(self, x):
        x = self.bn(self.conv(x))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def test_subclasses_keeping_the_base_forward_are_the_base_layers():
    """nn.BatchNorm2d and nn.Linear subclasses without a forward: batchnorm and linear nodes."""
    model = _randomise(_Net(PlainBN(8), PlainLinear(8, 5)))
    imp = import_module(model, (3, 16, 16))
    types = _types(imp)
    assert types["bn"] == "batchnorm" and types["fc"] == "linear"
    _same_outputs(model, imp)


def test_batchnorm_subclass_with_its_own_forward_is_batchnorm_and_activation():
    """BatchNorm + ReLU in a subclass's forward: a batchnorm node 'bn' and 'bn_act' beside it,
    with the weights."""
    model = _randomise(_Net(BNAct(8), PlainLinear(8, 5)))
    imp = import_module(model, (3, 16, 16))
    types = _types(imp)
    assert types["bn"] == "batchnorm" and types["bn_act"] == "relu"
    assert imp.model.params("bn")["eps"] == 1e-5
    _same_outputs(model, imp)


def test_linear_and_conv_subclasses_with_their_own_forward_keep_their_weights():
    """F.linear and F.conv2d on a subclass's own weight: linear and conv nodes with weights."""
    model = _randomise(
        _Net(PlainBN(8), OwnLinear(8, 5), SameConv(3, 8, 3, stride=2, padding=1, bias=False))
    )
    imp = import_module(model, (3, 16, 16))
    types = _types(imp)
    assert types["fc"] == "linear" and types["conv"] == "conv"
    assert imp.model.params("conv")["stride"] == 2
    assert imp.model.params("conv")["bias"] is False
    _same_outputs(model, imp)


class _ComputedWeight(nn.Conv2d):
    def forward(self, x):
        return F.conv2d(x, self.weight * 2, self.bias, padding=1)


def test_a_weight_computed_in_forward_is_refused_naming_the_subclass():
    """F.conv2d on `self.weight * 2`: refused, naming the subclass with its own forward."""
    with pytest.raises(UnsupportedError) as err:
        import_module(_Net(PlainBN(8), PlainLinear(8, 5), _ComputedWeight(3, 8, 3)), (3, 8, 8))
    (line,) = [t for t in err.value.message.splitlines() if "F.conv2d" in t]
    assert line.startswith(
        "  F.conv2d with a weight computed in forward (not a parameter as it is), once: "
        "conv (test_import_layers.py:"
    )
    assert line.endswith(
        "; in the forward of `test_import_layers._ComputedWeight` "
        "(a subclass of `nn.Conv2d` with its own forward)"
    )


# --------------------------------------------------------------------------- shapes
class _ShapeIf(nn.Module):
    """Pools only inputs wider than 8 pixels, and pads odd sizes: Python ifs on shapes."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.pool = nn.MaxPool2d(2)

    def forward(self, x):
        x = self.conv(x)
        if x.shape[-1] > 8:
            x = self.pool(x)
        n, c, h, w = x.size()
        if len(x) == 1 and x.dim() == 4 and h % 4 == 0:
            x = torch.relu(x)
        return x


@pytest.mark.parametrize("size,types", [(16, ["conv", "maxpool", "relu"]), (6, ["conv"])])
def test_if_on_shapes_follows_the_input_size(size, types):
    """`if x.shape[-1] > 8`, `x.size()`, `len(x)`, `x.dim()`: resolved with --input's size."""
    model = _ShapeIf()
    imp = import_module(model, (3, size, size))
    assert [t for n, t in _types(imp).items() if n != "x"] == types
    _same_outputs(model, imp, (3, size, size))


def test_if_on_values_says_values(tmp_path):
    """`if x.mean() > 0` depends on values: the message says so and names the line."""
    src = tmp_path / "valued.py"
    src.write_text(
        textwrap.dedent(
            """
            import torch
            from torch import nn

            class Net(nn.Module):
                def forward(self, x):
                    if x.shape[1] == 3 and x.mean() > 0:
                        return torch.relu(x)
                    return x
            """
        )
    )
    with pytest.raises(TraceError) as err:
        import_module(load_source(f"{src}:Net"), (3, 8, 8))
    assert err.value.message == (
        "cannot trace the model at valued.py:7 (`if x.shape[1] == 3 and x.mean() > 0:`): its "
        "Python control flow (an if, a loop or a conversion to a number) depends on the VALUES "
        "inside a tensor, not only on its shape; a design runs the same operations for every "
        "input, so this cannot be imported"
    )


# --------------------------------------------------------------------------- refusals
class _Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 1)

    def forward(self, x):
        q = self.conv(x).flatten(2)
        a = (q.transpose(1, 2) @ q).softmax(-1)
        return (q @ a).view(1, 4, 4, 4)


def test_refusal_lines_name_operations_in_words_with_counts(tmp_path, capsys):
    """One line per operation: words, count, places with lines; exit 1, nothing written."""
    src = tmp_path / "attn.py"
    src.write_text(
        textwrap.dedent(
            """
            from torch import nn

            class Block(nn.Module):
                def forward(self, x):
                    q = x.flatten(2)
                    a = (q.transpose(1, 2) @ q).softmax(-1)
                    return (q @ a).view(1, 4, 4, 4)

            class Net(nn.Module):
                def __init__(self):
                    super().__init__()
                    self.conv = nn.Conv2d(3, 4, 1)
                    self.blocks = nn.Sequential(Block(), Block())

                def forward(self, x):
                    return self.blocks(self.conv(x))
            """
        )
    )
    out = tmp_path / "o.json"
    assert cli_main(["import", f"{src}:Net", "--input", "3x4x4", "-o", str(out)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "import: the model uses 4 operation(s) that ConvCanvas has no node type for:",
        "  flatten(2, -1) (only flatten(x, 1) keeps the batch), 2 times: blocks.0 (attn.py:6), "
        "blocks.1 (attn.py:6); in the forward of `Block` in `attn.py`",
        "  swapping a tensor's dimensions (Tensor.transpose), 2 times: blocks.0 (attn.py:7), "
        "blocks.1 (attn.py:7); in the forward of `Block` in `attn.py`",
        "  matrix multiplication (@), 4 times: blocks.0 (attn.py:7), blocks.0 (attn.py:8), "
        "blocks.1 (attn.py:7), ...; in the forward of `Block` in `attn.py`; a matrix product "
        "between activations (attention) has no node type",
        "  reshaping a tensor (Tensor.view), 2 times: blocks.0 (attn.py:8), blocks.1 "
        "(attn.py:8); in the forward of `Block` in `attn.py`",
    ]
    assert not out.exists()


_UNARY = "sin cos tan asin acos atan sinh cosh exp expm1 log log1p log2 log10 sqrt rsqrt abs neg sign floor ceil round trunc frac reciprocal square erf erfc lgamma digamma sinc deg2rad rad2deg exp2 i0".split()  # noqa: E501


class _Distinct(nn.Module):
    def forward(self, x):
        for name in _UNARY:
            x = getattr(torch, name)(x)
        return x


def test_refusal_has_at_most_30_lines():
    """35 distinct refused operations: 30 lines, the last counting those left out."""
    with pytest.raises(UnsupportedError) as err:
        import_module(_Distinct(), (3, 8, 8))
    lines = err.value.message.splitlines()
    assert len(lines) == 30
    line = inspect.getsourcelines(_Distinct.forward)[1] + 2
    assert lines[1] == f"  torch.sin, once: the model forward (test_import_layers.py:{line})"
    assert lines[-1] == "  ... and 7 more operation(s)"
