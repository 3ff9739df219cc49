"""The effective receptive field of one activation: its input gradient and half-mass box.

The theoretical receptive field (:func:`engine.runtime.features.rf_box`) is every input
pixel that *can* affect an activation; in deep networks it is often the whole image. The
effective one is what *does*: the gradient of the activation with respect to the input
image, ``|d a / d x|`` summed over the input channels, one value per input pixel.

The box rule
------------
The effective box is the smallest axis-aligned box (fewest input pixels) whose summed
``|gradient|`` is at least half the total; among equally small boxes the one holding the
most mass wins, then the first in (y0, x0) order. The search is exact on inputs up to
:data:`GRID` pixels a side; larger inputs are searched on a grid of at most ``GRID`` × ``GRID``
cells (cell boundaries at ``round(i * H / cells)``), so the box is exact to a cell. The box
is then mapped to the original image like the theoretical one (every original pixel it
touches, x1 and y1 exclusive).
"""

from __future__ import annotations

import numpy as np
import torch

from engine.runtime.feature_types import Preprocess
from engine.runtime.images import input_to_original

#: Largest search grid per side (exact below it).
GRID = 64


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


def _edges(n: int, cells: int) -> np.ndarray:
    return np.rint(np.arange(cells + 1) * n / cells).astype(np.int64)


def half_mass_box(grad: np.ndarray, fraction: float = 0.5) -> tuple[int, int, int, int]:
    """Smallest box ``(y0, x0, y1, x1)`` (input pixels, ends exclusive) holding ``fraction`` of the mass.

    See the module docstring for the rule. A map without mass gives the whole input.
    """
    h, w = grad.shape
    total = float(grad.sum())
    if not np.isfinite(total) or total <= 0:
        return 0, 0, h, w
    ey, ex = _edges(h, min(h, GRID)), _edges(w, min(w, GRID))
    # Cell sums, then 2-D prefix sums over cells.
    cells = np.add.reduceat(np.add.reduceat(grad.astype(np.float64), ey[:-1], 0), ex[:-1], 1)
    ny, nx = cells.shape
    pre = np.zeros((ny + 1, nx + 1))
    pre[1:, 1:] = cells.cumsum(0).cumsum(1)
    need = fraction * pre[-1, -1] * (1 - 1e-12)
    best = None  # (area, -mass, y0, x0, y1, x1)
    for y0 in range(ny):
        # Column prefix sums of rows y0..y1-1 for every y1: (ny - y0, nx + 1).
        band = pre[y0 + 1 :, :] - pre[y0, :]
        for j, row in enumerate(band):
            y1 = y0 + 1 + j
            if row[-1] < need:
                continue
            # For each x0 the first x1 with row[x1] - row[x0] >= need.
            x1 = np.searchsorted(row, row[:-1] + need, side="left")
            ok = x1 <= nx
            if not ok.any():
                continue
            x0s = np.flatnonzero(ok)
            x1s = x1[ok]
            hh = ey[y1] - ey[y0]
            areas = hh * (ex[x1s] - ex[x0s])
            masses = row[x1s] - row[x0s]
            k = np.lexsort((-masses, areas))[0]
            cand = (int(areas[k]), -float(masses[k]), ey[y0], ex[x0s[k]], ey[y1], ex[x1s[k]])
            if best is None or cand[:2] < best[:2]:
                best = cand
    _, _, y0, x0, y1, x1 = best
    return int(y0), int(x0), int(y1), int(x1)


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
