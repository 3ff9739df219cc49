"""Import every torchvision CNN family (one model each) and compare with torchvision.

Runs only in the interop environment (``make interop``): torch 2.14.1 with
torchvision 0.29.1. Params must equal torchvision's; the built design and the exported
code with the imported weights must give torchvision's outputs in eval mode; models
outside the node set are refused with exit 1 and the exact message.
"""

from __future__ import annotations

import pytest
import torch
import torchvision
from torchvision import models

from engine.codegen.emit import export_code
from engine.interop.convert import import_module
from engine.interop.errors import UnsupportedError
from engine.runtime.build import build_module

# (builder, kwargs, input size): the smallest input each model allows, to stay quick.
FAMILIES = {
    "resnet18": (models.resnet18, {}, (3, 64, 64)),
    "resnext50_32x4d": (models.resnext50_32x4d, {}, (3, 64, 64)),
    "wide_resnet50_2": (models.wide_resnet50_2, {}, (3, 64, 64)),
    "vgg11": (models.vgg11, {}, (3, 64, 64)),
    "vgg11_bn": (models.vgg11_bn, {}, (3, 64, 64)),
    "alexnet": (models.alexnet, {}, (3, 96, 96)),
    "squeezenet1_1": (models.squeezenet1_1, {}, (3, 64, 64)),
    "googlenet": (models.googlenet, {"aux_logits": False, "init_weights": False}, (3, 64, 64)),
    "inception_v3": (
        models.inception_v3,
        {"aux_logits": False, "init_weights": False},
        (3, 96, 96),
    ),  # fmt: skip
    "densenet121": (models.densenet121, {}, (3, 64, 64)),
    "mobilenet_v2": (models.mobilenet_v2, {}, (3, 64, 64)),
    "mobilenet_v3_large": (models.mobilenet_v3_large, {}, (3, 64, 64)),
    "mnasnet0_5": (models.mnasnet0_5, {}, (3, 64, 64)),
    "efficientnet_b0": (models.efficientnet_b0, {}, (3, 64, 64)),
    "regnet_y_400mf": (models.regnet_y_400mf, {}, (3, 64, 64)),
    "shufflenet_v2_x0_5": (models.shufflenet_v2_x0_5, {}, (3, 64, 64)),
}


def test_versions_are_the_pinned_pair():
    """The interop environment holds the pinned torch/torchvision pair."""
    assert torch.__version__.startswith("2.14.1")
    assert torchvision.__version__.startswith("0.29.1")


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_family_imports_exactly(name):
    """Params equal torchvision's; built design and exported code match its outputs."""
    builder, kwargs, size = FAMILIES[name]
    torch.manual_seed(0)
    model = builder(**kwargs).eval()
    with torch.no_grad():  # non-trivial running statistics
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    imp = import_module(model, size)
    built = build_module(imp.model)
    built.load_state_dict(imp.state)
    assert sum(p.numel() for p in built.parameters()) == sum(p.numel() for p in model.parameters())
    ns: dict = {}
    exec(compile(export_code(imp.model), f"{name}_export.py", "exec"), ns)  # noqa: S102
    cls = next(v for v in ns.values() if isinstance(v, type) and issubclass(v, torch.nn.Module)
               and v is not torch.nn.Module)  # fmt: skip
    exported = cls().eval()
    exported.load_state_dict(imp.state)
    x = torch.randn(1, *size)
    with torch.no_grad():
        want = model(x)
        for got in (built(x), exported(x)):
            torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_vision_transformer_is_refused():
    """A vision transformer: refused, its operations in words with counts and places."""
    with pytest.raises(UnsupportedError) as err:
        import_module(models.vit_b_16(image_size=32).eval(), (3, 32, 32))
    lines = err.value.message.splitlines()
    assert lines[:3] == [
        "the model uses 7 operation(s) that ConvCanvas has no node type for:",
        "  reshaping a tensor (Tensor.reshape), once: the model forward (vision_transformer.py:279)",
        "  reordering a tensor's dimensions (Tensor.permute), once: the model forward "
        "(vision_transformer.py:285)",
    ]
    assert (
        "  nn.MultiheadAttention, 12 times: encoder.layers.encoder_layer_0.self_attention "
        "(vision_transformer.py:113), encoder.layers.encoder_layer_1.self_attention "
        "(vision_transformer.py:113), encoder.layers.encoder_layer_2.self_attention "
        "(vision_transformer.py:113), ...; attention has no node type (vision transformers "
        "are not CNNs)"
    ) in lines
