"""VGG-16 as in torchvision."""

from __future__ import annotations

from engine.core.graph import GraphModel
from engine.templates.builder import _Builder

_VGG16 = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")


def vgg16() -> GraphModel:
    """torchvision's VGG-16 (no batch norm) at 3×224×224.

    torchvision's ``AdaptiveAvgPool2d((7, 7))`` between ``features`` and
    ``classifier`` is the identity on the 512×7×7 map a 224×224 input gives, so it is
    left out: ``flatten`` follows ``features_30`` directly. The layers sit in two plain
    blocks, ``features`` and ``classifier``, as torchvision's two ``nn.Sequential``, so
    their targets (``features.0``, ``classifier.6``) are torchvision's keys.

    Returns
    -------
    GraphModel
        138,357,544 parameters.
    """
    b = _Builder("VGG-16")
    h = b.input(3, 224, 224)
    b.scope = "features"
    i = 0
    for v in _VGG16:
        if v == "M":
            h = b.pool(f"features_{i}", h, 2, 2)
            i += 1
        else:
            h = b.conv(f"features_{i}", h, v, 3, padding=1)
            h = b.relu(f"features_{i + 1}", h)
            i += 2
    b.scope = None
    h = b.node("flatten", "flatten", h)
    b.scope = "classifier"
    h = b.relu("classifier_1", b.node("classifier_0", "linear", h, out_features=4096))
    h = b.node("classifier_2", "dropout", h, p=0.5)
    h = b.relu("classifier_4", b.node("classifier_3", "linear", h, out_features=4096))
    h = b.node("classifier_5", "dropout", h, p=0.5)
    b.node("classifier_6", "linear", h, out_features=1000)
    for name in ("features", "classifier"):
        b.m.set_block(name, {"name": name, "type": None, "params": {}, "collapsed": False})
    return b.done()
