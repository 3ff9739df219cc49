"""The ``features`` command's trained-network outputs: weights, localisation and sparsity by depth.

* :func:`build_runner` builds the feature runner and loads ``--weights`` into it;
* :func:`localise` adds the effective receptive field of the localised activation
  (:mod:`engine.runtime.effective_rf`) to the theoretical box;
* :func:`render_localisation` draws both boxes and the gradient heat overlay;
* :func:`write_localisation_json` writes ``localisation.json``;
* :func:`render_sparsity_by_depth` plots sparsity by depth, random against trained weights.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from cli.safety import escape
from engine.runtime.feature_types import FeatureResult

RF_COLOUR = (255, 60, 60)
EFFECTIVE_COLOUR = (40, 230, 255)
BACKGROUND = (32, 32, 36)
TEXT = (235, 235, 235)


def _font(size: int = 13):
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # pragma: no cover - Pillow without FreeType
        return ImageFont.load_default()


def build_runner(model, seed: int, memory_limit: int, weights: str | None):
    """A :class:`~engine.runtime.features.FeatureRunner` with ``weights`` loaded (if given).

    Raises
    ------
    FeatureError, WeightsError
        The graph cannot run, or the file does not fit it (nothing is loaded then).
    """
    from engine.runtime.features import FeatureRunner

    runner = FeatureRunner(model, seed=seed, memory_limit=memory_limit)
    if weights is not None:
        from engine.runtime.weights import load_weights

        for note in load_weights(runner.module, weights, model):
            print(escape(note), file=sys.stderr)
        runner.weights_text = f"loaded from {Path(weights).name}"
    else:
        runner.weights_text = f"random, seed {seed}"
    return runner


def localise(result: FeatureResult, runner) -> dict | None:
    """The localisation record: theoretical and effective boxes of the localised activation.

    Returns
    -------
    dict or None
        ``{"node", "channel", "y", "x", "value", "rf_box", "effective_box"}`` (boxes
        ``[x0, y0, x1, y1]`` in original-image pixels, x1/y1 exclusive) and, under the key
        ``"_grad"``, the float32 gradient map over the network input (not written to JSON).
        ``None`` when no node has a spatial map.
    """
    from engine.runtime.effective_rf import effective_box

    b = result.box
    if b is None:
        return None
    eff, grad = effective_box(
        runner.module, result.input, result.preprocess, b.node, b.channel, b.y, b.x
    )
    return {
        "node": b.node,
        "channel": int(b.channel),
        "y": int(b.y),
        "x": int(b.x),
        "value": float(b.value),
        "rf_box": [int(b.x0), int(b.y0), int(b.x1), int(b.y1)],
        "effective_box": [int(v) for v in eff],
        "_grad": grad,
    }


def write_localisation_json(loc: dict, path: Path) -> None:
    """``localisation.json``: the record of :func:`localise` without the gradient map."""
    record = {k: v for k, v in loc.items() if not k.startswith("_")}
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


def heat_on_original(grad: np.ndarray, result: FeatureResult) -> np.ndarray:
    """The gradient map in [0, 1] over the original image (zero outside a centre crop)."""
    pre = result.preprocess
    h, w = pre.original_size
    sy, sx = pre.scale
    oy, ox = pre.offset
    ih, iw = pre.input_size
    top, left = max(0, round(oy)), max(0, round(ox))
    ch, cw = max(1, min(h - top, round(ih * sy))), max(1, min(w - left, round(iw * sx)))
    # Overflowing weights give inf/nan gradients: nan counts as 0, inf as the peak.
    g = np.nan_to_num(grad.astype(np.float64), nan=0.0, posinf=np.finfo(np.float64).max, neginf=0.0)
    g = g / g.max() if g.size and g.max() > 0 else g
    plane = Image.fromarray(g.astype(np.float32), "F").resize((cw, ch), Image.Resampling.BILINEAR)
    out = np.zeros((h, w), np.float32)
    out[top : top + ch, left : left + cw] = np.asarray(plane)
    return np.clip(out, 0.0, 1.0)


def render_localisation(result: FeatureResult, loc: dict | None) -> Image.Image:
    """The image with the gradient heat overlay, the theoretical box (red) and the
    effective box (cyan), and a one-line legend below."""
    image = result.image
    img = Image.fromarray(image, "RGB" if image.ndim == 3 else "L").convert("RGB")
    if loc is None:
        return img
    base = np.asarray(img, np.float32)
    heat = heat_on_original(loc["_grad"], result) ** 0.5  # sqrt: faint mass stays visible
    hot = np.stack([heat, heat * 0.55, np.zeros_like(heat)], axis=2) * 255
    alpha = (0.75 * heat)[:, :, None]
    mixed = base * (1 - alpha) + hot * alpha
    img = Image.fromarray(np.clip(mixed, 0, 255).astype(np.uint8), "RGB")
    scale = max(1, 256 // max(1, min(img.size)))
    if scale > 1:  # small images (64×64 shapes) are enlarged so that the boxes read well
        img = img.resize((img.width * scale, img.height * scale), Image.Resampling.NEAREST)
    draw = ImageDraw.Draw(img)
    width = max(2, round(min(img.size) / 150))
    for key, colour in (("rf_box", RF_COLOUR), ("effective_box", EFFECTIVE_COLOUR)):
        x0, y0, x1, y1 = (v * scale for v in loc[key])
        draw.rectangle((x0, y0, max(x0, x1 - 1), max(y0, y1 - 1)), outline=colour, width=width)
    legend_h = 22
    out = Image.new("RGB", (max(img.width, 330), img.height + legend_h), BACKGROUND)
    out.paste(img, (0, 0))
    d = ImageDraw.Draw(out)
    font = _font(12)
    y = img.height + 4
    d.rectangle((6, y + 3, 16, y + 12), outline=RF_COLOUR, width=2)
    d.text((20, y), "receptive field", fill=TEXT, font=font)
    d.rectangle((122, y + 3, 132, y + 12), outline=EFFECTIVE_COLOUR, width=2)
    d.text((136, y), "effective (half |gradient|)", fill=TEXT, font=font)
    return out


def depth_series(result: FeatureResult) -> list[tuple[int, float]]:
    """``(depth, sparsity)`` of every ReLU output (every node when there is no ReLU)."""
    nodes = [n for n in result.order if result.types[n] == "relu"] or list(result.order)
    return [(result.depth[n], result.stats[n].sparsity) for n in nodes]


def render_sparsity_by_depth(series: dict[str, list[tuple[int, float]]]) -> Image.Image:
    """A line chart: sparsity (0–100 %) against depth, one line per named series."""
    colours = [(150, 150, 160), (255, 170, 40), (40, 200, 255)]
    w, h, left, bottom, top, right = 560, 320, 56, 40, 30, 150
    img = Image.new("RGB", (w, h), BACKGROUND)
    d = ImageDraw.Draw(img)
    font = _font(12)
    depths = [p[0] for s in series.values() for p in s] or [0, 1]
    lo, hi = min(depths), max(depths)
    span = max(1, hi - lo)
    px = lambda dep: left + (dep - lo) / span * (w - left - right)
    py = lambda v: h - bottom - v * (h - bottom - top)
    d.line((left, top, left, h - bottom, w - right, h - bottom), fill=TEXT)
    for v in (0.0, 0.25, 0.5, 0.75, 1.0):
        d.line((left - 4, py(v), left, py(v)), fill=TEXT)
        d.text((8, py(v) - 7), f"{v:.0%}", fill=TEXT, font=font)
    d.text((left, 8), "ReLU sparsity (fraction of zeros) by depth", fill=TEXT, font=font)
    d.text(((left + w - right) // 2 - 16, h - 18), "depth", fill=TEXT, font=font)
    for dep in sorted(set(depths)):
        d.line((px(dep), h - bottom, px(dep), h - bottom + 4), fill=TEXT)
        d.text((px(dep) - 6, h - bottom + 6), str(dep), fill=TEXT, font=font)
    for k, (name, pts) in enumerate(series.items()):
        c = colours[k % len(colours)]
        xy = [(px(a), py(b)) for a, b in pts]
        if len(xy) > 1:
            d.line(xy, fill=c, width=2)
        for x, y in xy:
            d.ellipse((x - 3, y - 3, x + 3, y + 3), fill=c)
        ly = top + 10 + 20 * k
        d.line((w - right + 12, ly + 7, w - right + 32, ly + 7), fill=c, width=2)
        d.text((w - right + 38, ly), name, fill=TEXT, font=font)
    return img
