"""Readable export by blocks: class per type, line counts, torchvision keys, parity."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from engine.codegen.emit_blocks import export_blocks
from engine.codegen.targets import module_targets
from engine.core import fileformat as ff
from engine.runtime.build import build_module
from engine.templates import googlenet, resnet18, resnet50

_BN = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def _torchvision_resnet_keys(blocks: tuple[int, ...], bottleneck: bool) -> set[str]:
    """torchvision's ResNet state_dict keys, written down from its module structure."""
    keys = {"conv1.weight", "fc.weight", "fc.bias"} | {f"bn1.{s}" for s in _BN}
    convs = 3 if bottleneck else 2
    for i, count in enumerate(blocks):
        for j in range(count):
            p = f"layer{i + 1}.{j}"
            for c in range(1, convs + 1):
                keys.add(f"{p}.conv{c}.weight")
                keys |= {f"{p}.bn{c}.{s}" for s in _BN}
            if j == 0 and (i > 0 or bottleneck):
                keys.add(f"{p}.downsample.0.weight")
                keys |= {f"{p}.downsample.1.{s}" for s in _BN}
    return keys


def _module(code: str) -> torch.nn.Module:
    namespace: dict = {"__name__": "exported"}
    exec(compile(code, "<exported>", "exec"), namespace)  # noqa: S102 - our own export
    cls = [v for k, v in namespace.items() if isinstance(v, type) and k[0].isupper()][-1]
    return cls().eval()


def test_resnet50_export_is_short_with_one_bottleneck_class():
    """ResNet-50 exports in under 200 lines, Bottleneck written once, no del lines."""
    code = export_blocks(resnet50())
    lines = code.splitlines()
    assert len(lines) < 200
    assert code.count("class Bottleneck(nn.Module):") == 1
    assert code.count("Bottleneck(") == 17  # the class and its 16 uses
    assert not any(line.strip().startswith("del ") for line in lines)
    assert "self.layer1 = nn.Sequential(" in code


def test_bottleneck_class_takes_the_type_parameters():
    """The Bottleneck class takes in_channels and the type's width, stride and expansion."""
    code = export_blocks(resnet50())
    assert "def __init__(self, in_channels, width=64, stride=1, expansion=4):" in code
    assert "Bottleneck(256, width=128, stride=2, expansion=4)" in code


def test_googlenet_export_has_inception_and_basic_conv_classes():
    """GoogLeNet: one Inception and one BasicConv2d class, nine Inception uses."""
    code = export_blocks(googlenet())
    assert code.count("class Inception(nn.Module):") == 1
    assert code.count("class BasicConv2d(nn.Module):") == 1
    assert code.count("= Inception(") == 9
    assert len(code.splitlines()) < 200


def test_resnet50_keys_equal_torchvision():
    """The exported ResNet-50's state_dict keys are torchvision's."""
    model = _module(export_blocks(resnet50()))
    assert set(model.state_dict()) == _torchvision_resnet_keys((3, 4, 6, 3), True)


def test_resnet18_keys_equal_torchvision():
    """The exported ResNet-18's state_dict keys are torchvision's."""
    model = _module(export_blocks(resnet18()))
    assert set(model.state_dict()) == _torchvision_resnet_keys((2, 2, 2, 2), False)


def test_live_state_dict_has_torchvision_keys_and_loads_strictly():
    """The live model's state dict is keyed as torchvision's and loads with strict=True."""
    m = resnet18()
    state = build_module(m, seed=3).state_dict()
    assert set(state) == _torchvision_resnet_keys((2, 2, 2, 2), False)
    model = _module(export_blocks(m))
    model.load_state_dict(state, strict=True)


def test_targets_name_nested_attributes():
    """GoogLeNet's nodes have nested module paths as targets."""
    names = module_targets(googlenet())
    assert names["inception4a_branch2_1_conv"] == "inception4a.branch2.1.conv"
    assert names["inception4a_branch4_0"] == "inception4a.branch4.0"
    assert names["fc"] == "fc"


def test_parity_in_a_fresh_interpreter(tmp_path):
    """The exported ResNet-18 with the live model's weights agrees within 1e-6."""
    m = resnet18()
    live = build_module(m, seed=0)
    torch.manual_seed(1)
    x = torch.randn(2, 3, 224, 224)
    with torch.inference_mode():
        expected = live(x)
    (tmp_path / "model.py").write_text(export_blocks(m), encoding="utf-8")
    torch.save(live.state_dict(), tmp_path / "w.pt")
    torch.save(x, tmp_path / "x.pt")
    script = (
        "import sys, torch; sys.path.insert(0, sys.argv[1]); import model as mod\n"
        "net = mod.ResNet18().eval()\n"
        "net.load_state_dict(torch.load(sys.argv[1] + '/w.pt', weights_only=True), strict=True)\n"
        "x = torch.load(sys.argv[1] + '/x.pt', weights_only=True)\n"
        "with torch.inference_mode():\n    torch.save(net(x), sys.argv[1] + '/y.pt')\n"
    )
    subprocess.run([sys.executable, "-c", script, str(tmp_path)], check=True, timeout=300)
    got = torch.load(tmp_path / "y.pt", weights_only=True)
    assert (got - expected).abs().max().item() <= 1e-6


def test_googlenet_parity_in_process():
    """The exported GoogLeNet with converted live weights gives the live output within 1e-6."""
    m = googlenet()
    live = build_module(m, seed=0)
    model = _module(export_blocks(m))
    model.load_state_dict(live.state_dict(), strict=True)
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        assert (model(x) - live(x)).abs().max().item() <= 1e-6


def test_design_without_blocks_exports_one_class():
    """A design without blocks is one class, without del lines, that builds and runs."""
    m = ff.load("examples/inception3a.json")
    code = export_blocks(m)
    assert code.count("(nn.Module):") == 1
    assert not any(line.strip().startswith("del ") for line in code.splitlines())
    model = _module(code)
    model.load_state_dict(build_module(m).state_dict(), strict=True)


def _one_block(key: str, values: dict, c: int = 32):
    from engine.blocks import add_instance
    from engine.core.graph import GraphModel

    m = GraphModel(f"one {key}")
    m.add_node("input", {"channels": c, "height": 16, "width": 16}, "input")
    add_instance(m, key, "blk", "input", c, values)
    return m


@pytest.mark.parametrize(
    ("key", "values"),
    [
        ("inception_naive", {}),
        ("inception_reduced", {"pool_proj": 8}),
        ("inception_reduced", {}),
        ("inception", {}),
        ("basic_block", {"planes": 64, "stride": 2}),
        ("bottleneck", {"width": 8}),
        ("inverted_residual", {"out_channels": 32}),
        ("inverted_residual", {"expansion": 1, "stride": 2, "out_channels": 16}),
        ("depthwise_separable", {"out_channels": 48, "stride": 2}),
        ("squeeze_excitation", {"reduction": 4}),
        ("dense_layer", {"growth_rate": 12}),
    ],
)
def test_every_library_type_exports_as_its_class_with_parity(key, values):
    """Each library block exports as its class (parameters as arguments) and matches the live model."""
    from engine.blocks import BUILTIN_TYPES

    m = _one_block(key, values)
    code = export_blocks(m)
    cls = BUILTIN_TYPES[key].class_name
    assert code.count(f"class {cls}(nn.Module):") == 1
    assert f"self.blk = {cls}(32, " in code
    live = build_module(m, seed=0)
    model = _module(code)
    model.load_state_dict(live.state_dict(), strict=True)
    x = torch.randn(2, 32, 16, 16, generator=torch.Generator().manual_seed(3))
    with torch.inference_mode():
        assert (model(x) - live(x)).abs().max().item() <= 1e-6


def test_grouped_odd_names_load_strictly_into_the_export():
    """A block of nodes with other ids: the live weights load strictly into the export."""
    from engine.core.graph import GraphModel

    m = GraphModel("grouped")
    m.add_node("input", {"channels": 3, "height": 8, "width": 8}, "input")
    m.add_node("conv", {"out_channels": 4, "kernel_size": 3, "padding": 1}, "c1", scope="stage")
    m.add_node("batchnorm", {}, "bn", scope="stage")
    m.add_node("relu", {}, "act")
    m.connect("input", "c1")
    m.connect("c1", "bn")
    m.connect("bn", "act")
    m.set_block("stage", {"name": "stage", "type": None, "params": {}, "collapsed": True})
    code = export_blocks(m)
    assert "self.c1 = nn.Conv2d(3, 4, kernel_size=3, padding=1)" in code
    ns: dict = {"__name__": "exported"}
    exec(compile(code, "<exported>", "exec"), ns)  # noqa: S102 - our own export
    live = build_module(m, seed=4)
    model = ns["Grouped"]().eval()
    model.load_state_dict(live.state_dict(), strict=True)
    assert "stage.c1.weight" in live.state_dict()
    x = torch.randn(1, 3, 8, 8, generator=torch.Generator().manual_seed(5))
    with torch.inference_mode():
        assert (model(x) - live(x)).abs().max().item() <= 1e-6


def test_input_only_design_exports_code_that_returns_its_input(tmp_path):
    """A design of one input node exports runnable code whose forward returns the input."""
    from engine.core.graph import GraphModel

    m = GraphModel("only input")
    m.add_node("input", {"channels": 3, "height": 8, "width": 8}, "input")
    namespace: dict = {}
    exec(compile(export_blocks(m), "only_input.py", "exec"), namespace)  # noqa: S102 - our code
    model = namespace["OnlyInput"]().eval()
    x = torch.randn(1, 3, 8, 8)
    assert torch.equal(model(x), x)
