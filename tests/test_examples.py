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
