"""The example files shipped in examples/ load and keep the teaching numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine import analyze
from engine.core import fileformat

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.mark.parametrize(
    "name, weights",
    [
        ("inception3a_naive.json", 387_072),
        ("inception3a.json", 157_184),
        ("resnet_bottleneck.json", 69_632),
    ],
)
def test_example_weights(name, weights):
    """Each teaching example file gives its weight count from the seed text."""
    a = analyze(fileformat.load(EXAMPLES / name))
    assert a.ok and a.totals.weights == weights


def test_resnet18_example_params():
    """The ResNet-18 example has torchvision's 11,689,512 parameters."""
    assert analyze(fileformat.load(EXAMPLES / "resnet18.json")).totals.params == 11_689_512


def test_resnet18_example_uses_torchvisions_module_paths():
    """The ResNet-18 example's modules sit at torchvision's paths (layer2.0.downsample.0,
    …), the same as the template's, so torchvision's resnet18 weights load into it."""
    from engine.codegen.targets import module_targets
    from engine.templates import build

    targets = module_targets(fileformat.load(EXAMPLES / "resnet18.json"))
    assert "layer2.0.downsample.0" in targets.values()
    assert targets == module_targets(build("resnet18"))
