"""The Tiny CNN: a small VGG-style network for 64×64 images that trains in minutes on a CPU."""

from __future__ import annotations

from engine.core.graph import GraphModel
from engine.templates.builder import _Builder

#: Channels of the four conv stages; each stage is conv 3×3 → batch norm → ReLU.
TINY_WIDTHS = (16, 32, 64, 64)


def tiny_cnn(channels: int = 3, size: int = 64, classes: int = 6) -> GraphModel:
    """Four conv stages (16, 32, 64, 64 channels), max pooling after the first three, and
    the classifier head: global average pool → flatten → linear.

    Parameters
    ----------
    channels, size : int
        The input image: ``channels × size × size`` (default 3×64×64).
    classes : int
        Outputs of the last linear layer (default 6, the ``shapes`` classes).

    Returns
    -------
    GraphModel
        61,078 parameters at the defaults (8×8 maps before the head).
    """
    b = _Builder("Tiny CNN")
    h = b.input(channels, size, size)
    for i, width in enumerate(TINY_WIDTHS, start=1):
        h = b.conv(f"conv{i}", h, width, 3, padding=1, bias=False)
        h = b.bn(f"bn{i}", h)
        h = b.relu(f"relu{i}", h)
        if i < len(TINY_WIDTHS):
            h = b.pool(f"pool{i}", h, 2, 2)
    h = b.node("gap", "global_avgpool", h)
    h = b.node("flatten", "flatten", h)
    b.node("fc", "linear", h, out_features=classes)
    return b.done()
