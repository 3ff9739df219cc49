"""Import every torchvision CNN family (one model each) and compare with torchvision.

Runs only in the interop environment (``make interop``): torch 2.14.1 with
torchvision 0.29.1. Params must equal torchvision's; the default (readable) export loads
both the import's weights file and torchvision's own ``state_dict`` with ``strict=True``
and gives torchvision's logits, as do the live model and the flat export; models outside
the node set are refused with the exact message.
"""

from __future__ import annotations

import pytest
import torch
import torchvision
from torchvision import models

from engine.codegen.emit import export_code, make_plan
from engine.codegen.emit_blocks import export_blocks
from engine.interop.convert import import_module
from engine.interop.errors import UnsupportedError
from engine.runtime.build import build_module
from engine.runtime.weights import read_state_dict, save_state

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


def _seeded(builder, kwargs) -> torch.nn.Module:
    torch.manual_seed(0)
    model = builder(**kwargs).eval()
    with torch.no_grad():  # non-trivial running statistics
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    return model


def _classes(code: str, name: str) -> dict:
    ns: dict = {"__name__": name}
    exec(compile(code, f"{name}.py", "exec"), ns)  # noqa: S102 - our own export
    return ns


def _close(got: torch.Tensor, want: torch.Tensor) -> None:
    """Equal logits: max |diff| within 1e-5 of the largest logit."""
    assert ((got - want).abs().max() / want.abs().max()).item() < 1e-5


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_family_imports_exactly(name, tmp_path):
    """The default export of the import loads the import's weights file and torchvision's
    own state_dict with strict=True and gives its logits; so do the live model and --flat."""
    builder, kwargs, size = FAMILIES[name]
    model = _seeded(builder, kwargs)
    imp = import_module(model, size)
    path = tmp_path / "weights.safetensors"
    save_state(imp.state, path)  # what `import --weights` writes
    cls = make_plan(imp.model).class_name
    default = _classes(export_blocks(imp.model), name)[cls]
    from_file, from_torchvision = default().eval(), default().eval()
    from_file.load_state_dict(read_state_dict(path), strict=True)
    from_torchvision.load_state_dict(model.state_dict(), strict=True)
    built = build_module(imp.model)
    built.load_state_dict(imp.state, strict=True)
    flat = _classes(export_code(imp.model), f"{name}_flat")[cls]().eval()
    flat.load_state_dict(model.state_dict(), strict=True)
    assert sum(p.numel() for p in built.parameters()) == sum(p.numel() for p in model.parameters())
    x = torch.randn(1, *size, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want = model(x)
        for got in (from_file(x), from_torchvision(x), built(x), flat(x)):
            _close(got, want)


@pytest.mark.parametrize(("name", "most"), [("resnet18", 120), ("resnet50", 200)])
def test_resnet_default_export_is_short(name, most):
    """Imported ResNet-18/50 export in few lines: one class per kind of Bottleneck/BasicBlock."""
    imp = import_module(getattr(models, name)().eval(), (3, 64, 64))
    code = export_blocks(imp.model)
    assert len(code.splitlines()) < most
    assert code.count("(nn.Module):") <= 4  # block kinds and the network


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
