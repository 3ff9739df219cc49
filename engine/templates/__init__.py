"""Ready-made graphs: the teaching blocks of the lesson and whole classic networks.

Every builder returns a :class:`~engine.core.graph.GraphModel` with positions from
:func:`engine.core.layout.layered_layout`, so a file saved from a template keeps its layout.
:data:`TEMPLATES` lists them for the editor's Templates menu.

Whole networks follow torchvision's module paths for their node ids, with ``.`` turned
into ``_`` (``layer1.0.conv1`` → ``layer1_0_conv1``). Functional operations that have
no module there get ids derived from their block: the residual sum ``layer1_0_add``,
the second and third use of a block's ReLU ``layer1_0_relu_1`` / ``layer1_0_relu_2``,
the ReLU inside GoogLeNet's ``BasicConv2d`` ``conv1_relu``, the concatenation of an
Inception block ``inception3a_concat``, and ``flatten``.
"""

from __future__ import annotations

from engine.core.graph import GraphModel
from engine.templates.builder import Template
from engine.templates.googlenet import googlenet
from engine.templates.resnet import deep_resnet, resnet18, resnet50
from engine.templates.teaching import (
    inception3a_googlenet,
    inception3a_naive,
    inception3a_reduced,
    resnet_basic_64,
    resnet_basic_256,
    resnet_bottleneck,
)
from engine.templates.tiny import tiny_cnn
from engine.templates.vgg import vgg16

TEMPLATES: dict[str, Template] = {
    t.key: t
    for t in (
        Template(
            "inception3a_reduced",
            "Inception 3a (1×1 reductions)",
            "Teaching",
            inception3a_reduced,
            "1×1 convs shrink channels before 3×3 and 5×5: 157,184 weights",
        ),
        Template(
            "inception3a_naive",
            "Inception 3a (naive)",
            "Teaching",
            inception3a_naive,
            "3a without 1×1 reductions: 387,072 weights",
        ),
        Template(
            "inception3a_googlenet",
            "Inception 3a (GoogLeNet)",
            "Teaching",
            inception3a_googlenet,
            "3a with the 1×1 pool projection, 256 channels out",
        ),
        Template(
            "resnet_basic_64",
            "ResNet basic block (64)",
            "Teaching",
            resnet_basic_64,
            "two 3×3 convs and an identity shortcut on 64 channels: 73,728 weights",
        ),
        Template(
            "resnet_basic_256",
            "ResNet basic block (256)",
            "Teaching",
            resnet_basic_256,
            "the basic block on 256 channels: 1,179,648 weights",
        ),
        Template(
            "resnet_bottleneck",
            "ResNet bottleneck block",
            "Teaching",
            resnet_bottleneck,
            "1×1 down to 64, 3×3, 1×1 back up to 256: 69,632 weights",
        ),
        Template(
            "tiny_cnn",
            "Tiny CNN (trainable)",
            "Networks",
            tiny_cnn,
            "four 3×3 conv stages on 64×64 images, ends in linear 6: trains on shapes in minutes",
        ),
        Template(
            "googlenet",
            "GoogLeNet",
            "Networks",
            googlenet,
            "Inception v1 as in torchvision, without auxiliary heads: 6.6 M parameters",
        ),
        Template(
            "resnet18",
            "ResNet-18",
            "Networks",
            resnet18,
            "basic blocks [2, 2, 2, 2] as in torchvision: 11.7 M parameters",
        ),
        Template(
            "resnet50",
            "ResNet-50",
            "Networks",
            resnet50,
            "bottleneck blocks [3, 4, 6, 3] as in torchvision: 25.6 M parameters",
        ),
        Template(
            "vgg16",
            "VGG-16",
            "Networks",
            vgg16,
            "thirteen 3×3 convs and three linear layers: 138 M parameters",
        ),
    )
}

DEFAULT_TEMPLATE = "inception3a_reduced"


def build(key: str) -> GraphModel:
    """Build the template ``key`` of :data:`TEMPLATES`.

    Raises
    ------
    KeyError
        With the known keys, if ``key`` is not one.
    """
    try:
        template = TEMPLATES[key]
    except KeyError:
        raise KeyError(f"unknown template {key!r} (known: {', '.join(TEMPLATES)})") from None
    return template.builder()


__all__ = [
    "Template",
    "TEMPLATES",
    "DEFAULT_TEMPLATE",
    "build",
    "googlenet",
    "deep_resnet",
    "resnet18",
    "resnet50",
    "inception3a_googlenet",
    "inception3a_naive",
    "inception3a_reduced",
    "resnet_basic_64",
    "resnet_basic_256",
    "resnet_bottleneck",
    "vgg16",
    "tiny_cnn",
    "GraphModel",
]
