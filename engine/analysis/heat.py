"""Localisation maps and boxes, without torch: the map → box rule, upsampling, scores.

Every localisation method (:mod:`engine.runtime.localise`) gives a heat map over the
network input (float32 ``(H, W)``, non-negative) and a box. This module holds what does not
need torch, so the editor, the command line and the tests share it:

* :func:`heat_box`: **the map → box rule**, the half-mass box's size centred on the map's
  centroid (stated once, in docs/teaching.md); :func:`mass_box` gives the size;
* :func:`upsample`: a last-layer map (``h × w``) onto the input (``H × W``), bilinear with
  pixel centres aligned;
* :func:`class_activation_map`: the class activation map of one class, ``Σ_k w[c, k] A_k``;
* :func:`gap_linear_head`: the ``spatial → global average pool → (flatten) → linear`` head
  the class activation map needs, or why the design has none;
* :func:`score_box`: hit (box centre within 20 % of the image size of the object's centre),
  IoU and area against a labelled object box.

The rule
--------
The box has the size of the *half-mass box* and is centred on the map's *centroid* (its
mass-weighted mean pixel centre), moved inside the map's support (the bounding box of its
non-zero pixels) if it sticks out. The half-mass box
is the smallest axis-aligned box (fewest input pixels) whose summed map is at least half the
total; among equally small boxes the one holding the most mass wins, then the first in
``(y0, x0)`` order. Its search is exact on inputs up to :data:`GRID` pixels a side; larger
inputs are searched on a grid of at most ``GRID × GRID`` cells (cell boundaries at
``round(i * H / cells)``), so its size is exact to a cell. A map without mass gives the
whole input. (The half-mass box alone sits on the densest part of a map and wanders off
the object when the map is spread out; its centre missed more often, measured in
docs/teaching.md.) The box is then mapped to the original image: every original pixel it touches,
``x1`` and ``y1`` exclusive (:func:`engine.analysis.rf_boxes.input_to_original`).
"""

from __future__ import annotations

import numpy as np

#: The methods, in the order they are shown.
METHODS = ("receptive_field", "effective", "class_activation", "grad_cam")
#: What each method is called in the window and the docs.
TITLES = {
    "receptive_field": "receptive field",
    "effective": "effective field",
    "class_activation": "class activation (CAM)",
    "grad_cam": "Grad-CAM",
}
#: Largest search grid per side of :func:`mass_box` (exact below it).
GRID = 64
#: A box's centre within this fraction of the image size of the object's centre is a hit.
HIT_TOLERANCE = 0.2
#: Node types that keep channels and positions one to one (walked through by the head search).
_PASS_THROUGH = ("flatten", "dropout", "identity")


def _edges(n: int, cells: int) -> np.ndarray:
    return np.rint(np.arange(cells + 1) * n / cells).astype(np.int64)


def mass_box(heat: np.ndarray, fraction: float = 0.5) -> tuple[int, int, int, int]:
    """The smallest box ``(y0, x0, y1, x1)`` (ends exclusive) holding ``fraction`` of the mass.

    See the module docstring for the rule (ties, the search grid).

    Parameters
    ----------
    heat : numpy.ndarray
        A non-negative ``(H, W)`` map.
    fraction : float
        The share of the total mass the box must hold (0.5: half).
    """
    h, w = heat.shape
    total = float(np.sum(heat, dtype=np.float64))
    if not np.isfinite(total) or total <= 0:
        return 0, 0, h, w
    ey, ex = _edges(h, min(h, GRID)), _edges(w, min(w, GRID))
    cells = np.add.reduceat(np.add.reduceat(heat.astype(np.float64), ey[:-1], 0), ex[:-1], 1)
    ny, nx = cells.shape
    pre = np.zeros((ny + 1, nx + 1))
    pre[1:, 1:] = cells.cumsum(0).cumsum(1)
    need = fraction * pre[-1, -1] * (1 - 1e-12)
    # Every row band y0 < y1 at once: its column prefix sums, one row per band.
    y0s, y1s = np.triu_indices(ny + 1, 1)
    bands = pre[y1s] - pre[y0s]  # (bands, nx + 1), each row non-decreasing
    keep = bands[:, -1] >= need  # bands that can hold the mass at all
    y0s, y1s, bands = y0s[keep], y1s[keep], bands[keep]
    # The first x1 with bands[b, x1] - bands[b, x0] >= need, for every band and x0, by one
    # search in the rows laid end to end (each shifted above the previous one's maximum).
    shift = (np.arange(len(bands)) * (pre[-1, -1] * 2 + 1.0))[:, None]
    flat = (bands + shift).ravel()
    want = bands[:, :-1] + need + shift
    pos = np.searchsorted(flat, want.ravel(), side="left").reshape(want.shape)
    x1 = pos - np.arange(len(bands))[:, None] * (nx + 1)
    ok = x1 <= nx
    b_idx, x0 = np.nonzero(ok)
    x1 = x1[ok]
    if len(x1) == 0:  # (rounding) the whole input holds the mass
        return 0, 0, h, w
    heights = ey[y1s[b_idx]] - ey[y0s[b_idx]]
    areas = heights * (ex[x1] - ex[x0])
    best = np.flatnonzero(areas == areas.min())  # the smallest boxes (few), then the rest
    masses = bands[b_idx[best], x1[best]] - bands[b_idx[best], x0[best]]
    k = best[np.lexsort((x0[best], y0s[b_idx[best]], -masses))[0]]
    b = b_idx[k]
    return int(ey[y0s[b]]), int(ex[x0[k]]), int(ey[y1s[b]]), int(ex[x1[k]])


def heat_box(heat: np.ndarray, fraction: float = 0.5) -> tuple[int, int, int, int]:
    """The map → box rule: :func:`mass_box`'s size, centred on the map's centroid.

    Returns ``(y0, x0, y1, x1)``, ends exclusive, inside the map.

    Parameters
    ----------
    heat : numpy.ndarray
        A non-negative ``(H, W)`` map.
    fraction : float
        The share of the total mass the size is taken from (0.5: half).
    """
    y0, x0, y1, x1 = mass_box(heat, fraction)
    h, w = heat.shape
    m = heat.astype(np.float64)
    total = float(m.sum())
    if not np.isfinite(total) or total <= 0:
        return y0, x0, y1, x1
    cy = float(m.sum(1) @ (np.arange(h) + 0.5)) / total
    cx = float(m.sum(0) @ (np.arange(w) + 0.5)) / total
    # Kept inside the map's support (the bounding box of its non-zero pixels), which holds
    # the half-mass box: a gradient's box stays inside the receptive field.
    rows, cols = np.flatnonzero(m.any(1)), np.flatnonzero(m.any(0))
    sy0, sy1, sx0, sx1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    bh, bw = y1 - y0, x1 - x0
    ny0 = int(min(max(np.floor(cy - bh / 2 + 0.5), sy0), max(sy1 - bh, sy0)))
    nx0 = int(min(max(np.floor(cx - bw / 2 + 0.5), sx0), max(sx1 - bw, sx0)))
    return ny0, nx0, ny0 + bh, nx0 + bw


def upsample(m: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of a ``(h, w)`` map to ``size`` ``(H, W)``, pixel centres aligned.

    Output pixel ``i`` samples the map at ``(i + 0.5) * h / H - 0.5`` (clamped to the
    edges), as ``torch.nn.functional.interpolate(..., mode="bilinear",
    align_corners=False)`` does.
    """
    m = np.asarray(m, np.float32)
    rows = _interp_matrix(m.shape[0], size[0])
    cols = _interp_matrix(m.shape[1], size[1])
    return (rows @ m @ cols.T).astype(np.float32)


def _interp_matrix(n_in: int, n_out: int) -> np.ndarray:
    """``(n_out, n_in)`` linear-interpolation weights (align_corners=False)."""
    pos = (np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5
    pos = np.clip(pos, 0, n_in - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, n_in - 1)
    t = (pos - lo).astype(np.float32)
    w = np.zeros((n_out, n_in), np.float32)
    w[np.arange(n_out), lo] += 1 - t
    w[np.arange(n_out), hi] += t
    return w


def class_activation_map(features: np.ndarray, weight: np.ndarray, cls: int) -> np.ndarray:
    """The class activation map of class ``cls``: ``Σ_k weight[cls, k] · features[k]``.

    Parameters
    ----------
    features : numpy.ndarray
        The last spatial layer's ``(K, h, w)`` output.
    weight : numpy.ndarray
        The linear head's ``(classes, K)`` weight.
    cls : int
        The class.

    Returns
    -------
    numpy.ndarray
        float32 ``(h, w)``, signed (the positive part is the heat).
    """
    return np.einsum("k,khw->hw", weight[cls].astype(np.float32), features.astype(np.float32))


def positive(m: np.ndarray) -> np.ndarray:
    """The positive part of a map (the heat of CAM and Grad-CAM), float32."""
    return np.maximum(np.asarray(m, np.float32), 0.0)


def gap_linear_head(analysis) -> tuple[str, str, str]:
    """The head a class activation map needs: ``(spatial node, pool node, linear node)``.

    The design must end in a linear layer whose input is, through flatten/dropout/identity
    nodes, a global average pool (or an adaptive one to 1×1) of a spatial ``C×H×W`` node.

    Raises
    ------
    ValueError
        With a message naming what is missing.
    """
    from engine.analysis.analyzer import Analysis  # noqa: F401  (type only)

    g = analysis.graph
    outs = [n for n in analysis.order if not analysis.successors.get(n)]
    if not outs:
        raise ValueError("the design has no output node")
    out = outs[-1]
    if g.nodes[out]["type"] != "linear":
        raise ValueError(
            f"the output '{out}' is a {g.nodes[out]['type']}, not a linear layer: the class "
            f"activation map needs global average pool → (flatten) → linear at the end"
        )
    n = out
    ins = analysis.inputs.get(n, [])
    while len(ins) == 1 and g.nodes[ins[0]]["type"] in _PASS_THROUGH:
        n = ins[0]
        ins = analysis.inputs.get(n, [])
    pool = ins[0] if len(ins) == 1 else None
    if pool is None or not _is_global_pool(analysis, pool):
        what = f"'{pool}' ({g.nodes[pool]['type']})" if pool is not None else "nothing"
        raise ValueError(
            f"the linear layer '{out}' reads {what}, not a global average pool: the class "
            f"activation map needs global average pool → (flatten) → linear at the end"
        )
    src = analysis.inputs.get(pool, [])
    shape = analysis.nodes[src[0]].shape if len(src) == 1 else None
    if shape is None or len(shape) != 3:
        raise ValueError(f"the pool '{pool}' has no spatial input to map")
    return src[0], pool, out


def _is_global_pool(analysis, node: str) -> bool:
    t = analysis.graph.nodes[node]["type"]
    if t == "global_avgpool":
        return True
    shape = analysis.nodes[node].shape
    return t == "adaptive_avgpool" and shape is not None and tuple(shape[1:]) == (1, 1)


def centre(box) -> tuple[float, float]:
    """``(x, y)`` centre of an ``(x0, y0, x1, y1)`` box (ends exclusive)."""
    x0, y0, x1, y1 = box
    return (x0 + x1) / 2, (y0 + y1) / 2


def iou(a, b) -> float:
    """Intersection over union of two ``(x0, y0, x1, y1)`` boxes (ends exclusive)."""
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def score_box(box, obj, size: tuple[int, int]) -> tuple[bool, float, float]:
    """``(hit, iou, area)`` of ``box`` against the object box ``obj`` on an image of ``size``.

    Parameters
    ----------
    box, obj : (x0, y0, x1, y1)
        Original-image pixels, ends exclusive.
    size : (h, w)
        The image; a hit is a centre within :data:`HIT_TOLERANCE` × its width (x) and height
        (y) of the object's centre. ``area`` is the box's share of the image.
    """
    h, w = size
    (bx, by), (ox, oy) = centre(box), centre(obj)
    hit = abs(bx - ox) <= HIT_TOLERANCE * w and abs(by - oy) <= HIT_TOLERANCE * h
    area = (box[2] - box[0]) * (box[3] - box[1]) / float(h * w)
    return bool(hit), iou(box, obj), area
