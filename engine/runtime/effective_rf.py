"""The effective receptive field of one activation: its input gradient and half-mass box.

The theoretical receptive field (:func:`engine.runtime.features.rf_box`) is every input
pixel that *can* affect an activation; in deep networks it is often the whole image. The
effective one is what *does*: the gradient of the activation with respect to the input
image, ``|d a / d x|`` summed over the input channels, one value per input pixel.

The box rule
------------
The effective box is the size of the smallest box holding half the ``|gradient|`` mass,
centred on the map's centroid: the rule every localisation method uses
(:func:`engine.analysis.heat.heat_box`), mapped to
the original image like the theoretical one (every original pixel it touches, x1 and y1
exclusive).
"""

from __future__ import annotations

import numpy as np
import torch

from engine.analysis.heat import heat_box
from engine.analysis.rf_boxes import input_to_original
from engine.runtime.feature_types import Preprocess


def input_gradient(
    module: torch.nn.Module, x: np.ndarray, node: str, channel: int, y: int, xx: int
) -> np.ndarray:
    """``|d out[node][channel, y, x] / d input|`` summed over input channels: float32 ``(H, W)``.

    Parameters
    ----------
    module : torch.nn.Module
        A capture-mode module (``forward`` returns ``{node: tensor}``), in eval mode.
    x : numpy.ndarray
        The preprocessed float32 ``(C, H, W)`` input.
    node, channel, y, xx : str, int, int, int
        The activation (``y = xx = 0`` for a vector output).
    """
    t = torch.from_numpy(np.ascontiguousarray(x)).unsqueeze(0).requires_grad_(True)
    with torch.enable_grad():
        out = module(t)[node][0]
        a = out[channel, y, xx] if out.dim() == 3 else out[channel]
        (g,) = torch.autograd.grad(a, t)
    return g[0].abs().sum(0).numpy()


def half_mass_box(grad: np.ndarray, fraction: float = 0.5) -> tuple[int, int, int, int]:
    """The box ``(y0, x0, y1, x1)`` (input pixels, ends exclusive) of the one map → box rule
    of every localisation method, :func:`engine.analysis.heat.heat_box`: the size of the
    smallest box holding ``fraction`` of the mass, centred on the map's centroid."""
    return heat_box(grad, fraction)


def effective_box(
    module: torch.nn.Module,
    x: np.ndarray,
    pre: Preprocess,
    node: str,
    channel: int,
    y: int,
    xx: int,
) -> tuple[tuple[int, int, int, int], np.ndarray]:
    """The effective box on the original image and the gradient map.

    Returns
    -------
    box : (x0, y0, x1, y1)
        Original-image pixels, x1 and y1 exclusive.
    grad : numpy.ndarray
        float32 ``(H, W)`` ``|gradient|`` over the network input.
    """
    grad = input_gradient(module, x, node, channel, y, xx)
    iy0, ix0, iy1, ix1 = half_mass_box(grad)
    return input_to_original(pre, iy0, ix0, iy1, ix1), grad
