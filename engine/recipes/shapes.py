"""The built-in ``shapes`` data set: one shape on a noisy, textured background per image.

Six classes, in this order: circle, square, triangle, cross, ring, star
(:data:`CLASSES`). Image ``i`` of seed ``k`` is drawn from ``numpy.random.default_rng((k, i))``,
so any image can be made again alone, in any order, and nothing is downloaded or shipped.
Each image has a random position, size, colour and rotation; the object's box
``(x0, y0, x1, y1)`` (x1, y1 exclusive) is the bounding box of its drawn pixels.
numpy and Pillow only.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

CLASSES = ("circle", "square", "triangle", "cross", "ring", "star")
_SUPER = 4  # supersampling of the shape mask (anti-aliased edges)


def _polygon(kind: str, cx: float, cy: float, r: float, angle: float) -> list[list[tuple]]:
    """Outline polygons (outer first) of one shape, in supersampled pixels."""

    def rot(points):
        c, s = math.cos(angle), math.sin(angle)
        return [(cx + x * c - y * s, cy + x * s + y * c) for x, y in points]

    if kind == "square":
        a = r * 0.8
        return [rot([(-a, -a), (a, -a), (a, a), (-a, a)])]
    if kind == "triangle":
        return [
            rot(
                [
                    (r * math.cos(t), r * math.sin(t))
                    for t in (-math.pi / 2 + k * 2 * math.pi / 3 for k in range(3))
                ]
            )
        ]
    if kind == "cross":
        a, b = r, r * 0.33
        pts = [
            (-b, -a),
            (b, -a),
            (b, -b),
            (a, -b),
            (a, b),
            (b, b),
            (b, a),
            (-b, a),
            (-b, b),
            (-a, b),
            (-a, -b),
            (-b, -b),
        ]
        return [rot(pts)]
    if kind == "star":
        pts = []
        for k in range(10):
            t = -math.pi / 2 + k * math.pi / 5
            rr = r if k % 2 == 0 else r * 0.42
            pts.append((rr * math.cos(t), rr * math.sin(t)))
        return [rot(pts)]
    raise ValueError(kind)


def _mask(
    kind: str, size: tuple[int, int], cx: float, cy: float, r: float, angle: float
) -> np.ndarray:
    """Float mask in [0, 1] of the shape at ``size`` (h, w), anti-aliased."""
    h, w = size
    big = Image.new("L", (w * _SUPER, h * _SUPER), 0)
    d = ImageDraw.Draw(big)
    S = _SUPER
    X, Y, R = cx * S, cy * S, r * S
    if kind == "circle":
        d.ellipse((X - R, Y - R, X + R, Y + R), fill=255)
    elif kind == "ring":
        d.ellipse((X - R, Y - R, X + R, Y + R), fill=255)
        ri = R * 0.55
        d.ellipse((X - ri, Y - ri, X + ri, Y + ri), fill=0)
    else:
        for poly in _polygon(kind, X, Y, R, angle):
            d.polygon(poly, fill=255)
    small = big.resize((w, h), Image.Resampling.BOX)
    return np.asarray(small, dtype=np.float32) / np.float32(255)


def _background(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A textured RGB background in [0, 1]: a colour, smooth blotches and stripes."""
    base = rng.uniform(0.15, 0.85, 3).astype(np.float32)
    coarse = rng.normal(0.0, 1.0, (4, 4, 3)).astype(np.float32)
    blot = np.stack(
        [
            np.asarray(
                Image.fromarray(coarse[:, :, i], "F").resize((w, h), Image.Resampling.BICUBIC)
            )
            for i in range(3)
        ],
        axis=2,
    )
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    t = rng.uniform(0, math.pi)
    freq = rng.uniform(0.15, 0.6)
    stripes = np.sin((xx * math.cos(t) + yy * math.sin(t)) * freq + rng.uniform(0, 6.3))
    img = base + 0.08 * blot + rng.uniform(0.0, 0.08) * stripes[:, :, None]
    return img


def _colour(rng: np.random.Generator, bg: np.ndarray) -> np.ndarray:
    """A shape colour whose luma differs from the background's mean luma by at least 0.25."""
    luma = np.array([0.299, 0.587, 0.114], np.float32)
    bg_l = float(bg.reshape(-1, 3).mean(0) @ luma)
    for _ in range(50):
        c = rng.uniform(0.0, 1.0, 3).astype(np.float32)
        if abs(float(c @ luma) - bg_l) >= 0.25:
            return c
    return np.full(3, 1.0 if bg_l < 0.5 else 0.0, np.float32)


def shape_image(
    seed: int, index: int, size: tuple[int, int]
) -> tuple[np.ndarray, int, tuple[int, int, int, int]]:
    """Image ``index`` of the data set with seed ``seed``.

    Parameters
    ----------
    seed, index : int
        Which image (the same pair always gives the same image).
    size : (int, int)
        ``(h, w)`` in pixels (at least 8 each).

    Returns
    -------
    image : numpy.ndarray
        uint8 ``(h, w, 3)`` RGB.
    label : int
        Index into :data:`CLASSES`.
    box : (x0, y0, x1, y1)
        The object's pixels (mask above one half), x1 and y1 exclusive.
    """
    h, w = size
    rng = np.random.default_rng((int(seed), int(index)))
    label = int(rng.integers(len(CLASSES)))
    kind = CLASSES[label]
    side = min(h, w)
    r = rng.uniform(0.16, 0.30) * side
    cx = rng.uniform(r + 1, w - r - 1)
    cy = rng.uniform(r + 1, h - r - 1)
    angle = rng.uniform(0, 2 * math.pi)
    bg = _background(rng, h, w)
    colour = _colour(rng, bg)
    m = _mask(kind, (h, w), cx, cy, r, angle)
    img = bg * (1 - m[:, :, None]) + colour * m[:, :, None]
    img += rng.normal(0.0, rng.uniform(0.02, 0.07), img.shape).astype(np.float32)
    out = np.clip(np.rint(img * 255), 0, 255).astype(np.uint8)
    ys, xs = np.nonzero(m > 0.5)
    box = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
    return out, label, box


def shape_batch(seed: int, start: int, count: int, size: tuple[int, int]):
    """Images ``start .. start+count-1``: uint8 ``(N, h, w, 3)``, int64 labels, int boxes ``(N, 4)``."""
    h, w = size
    images = np.empty((count, h, w, 3), np.uint8)
    labels = np.empty(count, np.int64)
    boxes = np.empty((count, 4), np.int64)
    for i in range(count):
        images[i], labels[i], boxes[i] = shape_image(seed, start + i, size)
    return images, labels, boxes
