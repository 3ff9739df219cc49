"""Import one (small) timm model per CNN family and compare with timm.

Runs only in the interop environment (``make interop``): torch 2.14.1, torchvision 0.29.1,
timm 1.0.31. For each family: the parameter count equals timm's, the default export
(``export_blocks``) loads the import's weights with ``strict=True`` and, like the built
design, gives timm's logits within 1e-5 relative. Vision transformers and attention
hybrids are refused with exact first lines. Seeded; small inputs.
"""

from __future__ import annotations

import pytest
import timm
import torch

from engine.codegen.emit_blocks import export_blocks
from engine.codegen.naming import class_name
from engine.interop.convert import import_module
from engine.interop.errors import UnsupportedError
from engine.interop.source import load_source

S64, S96 = (3, 64, 64), (3, 96, 96)
# family → (timm model, input size): the smallest model of each family in the issue.
FAMILIES = {
    "ResNet-D/T": ("resnet10t", S64),
    "SE-ResNet": ("seresnet18", S64),
    "Res2Net": ("res2net50_48w_2s", S64),
    "DLA": ("dla46_c", S64),
    "CSP-ResNet": ("cspresnet50", S64),
    "CSP-DarkNet": ("cs3darknet_s", S64),
    "DarkNet": ("darknet17", S64),
    "RepVGG": ("repvgg_a0", S64),
    "RegNetX": ("regnetx_002", S64),
    "RegNetY": ("regnety_002", S64),
    "EfficientNet": ("efficientnet_b0", S64),
    "EfficientNet (TF, 'same' padding)": ("tf_efficientnet_b0", S64),
    "MobileNetV2": ("mobilenetv2_050", S64),
    "MobileNetV3": ("mobilenetv3_small_050", S64),
    "LCNet": ("lcnet_050", S64),
    "MnasNet": ("mnasnet_small", S64),
    "FBNet": ("fbnetc_100", S64),
    "GhostNet": ("ghostnet_050", S64),
    "ReXNet": ("rexnet_100", S64),
    "HardCoReNAS": ("hardcorenas_a", S64),
    "DenseNet": ("densenet121", S64),
    "DPN": ("dpn48b", S64),
    "VGG": ("vgg11", S64),  # its head's `if x.shape[-2] < 7` follows the 64×64 input
    "Inception": ("inception_v3", S96),
    "Xception": ("xception41", S96),
    "HRNet": ("hrnet_w18_small", S64),
    "ConvNeXt": ("convnext_atto", S64),
    "ConvNeXt V2": ("convnextv2_atto", S64),
    "ConvNeXt (channels-last MLP)": ("test_convnext", S64),  # timm's own small test model
    "ResNetV2": ("resnetv2_18", S64),
}


def _timm(name: str) -> torch.nn.Module:
    torch.manual_seed(0)
    model = timm.create_model(name, pretrained=False).eval()
    with torch.no_grad():  # non-trivial running statistics
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    return model


def _default_export(imp) -> torch.nn.Module:
    """The default export, compiled, with the import's weights loaded strictly."""
    ns: dict = {}
    exec(compile(export_blocks(imp.model), "export.py", "exec"), ns)  # noqa: S102
    exported = ns[class_name(imp.model.name)]().eval()
    exported.load_state_dict(imp.state, strict=True)
    return exported


def test_versions_are_the_pinned_ones():
    """The interop environment holds the pinned timm."""
    assert timm.__version__ == "1.0.31"


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_family_imports_exactly(family):
    """Params equal timm's; the default export with the import's weights gives its logits."""
    name, size = FAMILIES[family]
    model = _timm(name)
    imp = import_module(model, size)
    n_timm = sum(p.numel() for p in model.parameters())
    exported = _default_export(imp)
    assert sum(p.numel() for p in exported.parameters()) == n_timm
    x = torch.randn(1, *size, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want, out = model(x), exported(x)
    scale = want.abs().max()
    assert ((out - want).abs().max() / scale).item() < 1e-5


def test_timm_source_builds_the_named_model():
    """`timm:NAME` is timm.create_model(NAME, pretrained=False), in eval mode."""
    model = load_source("timm:resnet10t")
    assert type(model).__name__ == "ResNet" and not model.training
    assert sum(p.numel() for p in model.parameters()) == 5_435_488


def test_mobilevit_is_refused_with_its_attention():
    """MobileViT: refused, its first lines naming the reshapes and transposes of its blocks."""
    with pytest.raises(UnsupportedError) as err:
        import_module(_timm("mobilevit_xxs"), S64)
    lines = err.value.message.splitlines()
    assert len(lines) <= 30
    assert lines[:2] == [
        "the model uses 8 operation(s) that ConvCanvas has no node type for:",
        "  reshaping a tensor (Tensor.reshape), 33 times: stages.2.1 (mobilevit.py:258), "
        "stages.2.1 (mobilevit.py:260), stages.2.1.transformer.0.attn (attention.py:119), "
        "...; in the forward of `timm.models.mobilevit.MobileVitBlock`",
    ]


def test_vit_is_refused_with_its_attention():
    """A timm ViT: refused; the first lines name the patch embedding's flatten and
    transpose, and attention says it has no node type."""
    with pytest.raises(UnsupportedError) as err:
        import_module(_timm("vit_tiny_patch16_224"), (3, 224, 224))
    lines = err.value.message.splitlines()
    assert len(lines) == 11
    assert lines[:3] == [
        "the model uses 10 operation(s) that ConvCanvas has no node type for:",
        "  flatten(2, -1) (only flatten(x, 1) keeps the batch), once: patch_embed "
        "(patch_embed.py:141); in the forward of `timm.layers.PatchEmbed`",
        "  swapping a tensor's dimensions (Tensor.transpose), 13 times: patch_embed "
        "(patch_embed.py:141), blocks.0.attn (attention.py:139), blocks.1.attn "
        "(attention.py:139), ...; in the forward of `timm.layers.PatchEmbed`",
    ]
    assert lines[-1].startswith("  attention (F.scaled_dot_product_attention), 12 times: ")
    assert lines[-1].endswith("; attention has no node type (vision transformers are not CNNs)")
