"""The ``features`` command's extra outputs: weights, localisation and sparsity by depth.

* :func:`build_runner` builds the feature runner and loads ``--weights`` into it;
* :func:`localise` runs every localisation method (:mod:`engine.runtime.localise`):
  receptive field, effective field, class activation map, Grad-CAM;
* :func:`render_localisation` draws the receptive-field and effective boxes and the
  gradient heat overlay; :func:`write_method_overlays` one PNG per method;
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
from engine.analysis.heat import TITLES
from engine.runtime.feature_types import FeatureResult, Localised

RF_COLOUR = (255, 60, 60)
EFFECTIVE_COLOUR = (40, 230, 255)
METHOD_COLOURS = {
    "receptive_field": RF_COLOUR,
    "effective": EFFECTIVE_COLOUR,
    "class_activation": (120, 255, 90),
    "grad_cam": (255, 90, 255),
}
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


def class_names(weights: str | None) -> list[str] | None:
    """The class names a weights file's metadata lists (``classes``), or ``None``."""
    if weights is None:
        return None
    from engine.runtime.weights import read_metadata

    try:
        names = json.loads(read_metadata(weights).get("classes", "null"))
    except ValueError:
        return None
    if isinstance(names, list) and all(isinstance(n, str) for n in names):
        return names
    return None


def localise(result: FeatureResult, runner, cls=None, node=None, classes=None) -> dict | None:
    """The localisation record of one feature run: every method's box (:mod:`engine.runtime.localise`).

    Returns
    -------
    dict or None
        ``{"node", "channel", "y", "x", "value", "rf_box", "effective_box", "class",
        "boxes": {method: [x0, y0, x1, y1]}, "skipped": {method: reason}}`` (boxes in
        original-image pixels, x1/y1 exclusive; ``class`` is the class index of the class
        activation and Grad-CAM, ``null`` when neither applies) and, under the key
        ``"_maps"``, ``{method: Localised}`` (heat maps; not written to JSON). ``None``
        when no node has a spatial map.

    Raises
    ------
    LocaliseError
        An unknown class or a Grad-CAM node without a spatial map.
    """
    from engine.runtime.localise import localise as run_methods

    b = result.box
    if b is None:
        return None
    done, skipped = run_methods(runner, result, cls=cls, node=node, classes=classes)
    eff = done["effective"]
    cams = [d.cls for d in done.values() if d.cls is not None]
    return {
        "node": b.node,
        "channel": int(b.channel),
        "y": int(b.y),
        "x": int(b.x),
        "value": float(b.value),
        "rf_box": [int(b.x0), int(b.y0), int(b.x1), int(b.y1)],
        "effective_box": [int(v) for v in eff.box],
        "class": cams[0] if cams else None,
        "boxes": {m: [int(v) for v in d.box] for m, d in done.items()},
        "skipped": dict(skipped),
        "_maps": done,
        "_grad": eff.heat,
    }


def write_localisation_json(loc: dict, path: Path) -> None:
    """``localisation.json``: the record of :func:`localise` without the heat maps."""
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


def _overlay(result: FeatureResult, heat: np.ndarray | None) -> tuple[Image.Image, int]:
    """The image with ``heat`` (input-sized, [0, 1]) as an orange overlay, enlarged when
    small (64×64 shapes) so that boxes read well; and the enlargement factor."""
    image = result.image
    img = Image.fromarray(image, "RGB" if image.ndim == 3 else "L").convert("RGB")
    if heat is not None:
        base = np.asarray(img, np.float32)
        level = heat_on_original(heat, result) ** 0.5  # sqrt: faint mass stays visible
        hot = np.stack([level, level * 0.55, np.zeros_like(level)], axis=2) * 255
        alpha = (0.75 * level)[:, :, None]
        mixed = base * (1 - alpha) + hot * alpha
        img = Image.fromarray(np.clip(mixed, 0, 255).astype(np.uint8), "RGB")
    scale = max(1, 256 // max(1, min(img.size)))
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.Resampling.NEAREST)
    return img, scale


def _boxes_and_legend(img: Image.Image, scale: int, items) -> Image.Image:
    """Draw ``(box, colour, label)`` items on ``img`` and a legend line below it."""
    draw = ImageDraw.Draw(img)
    width = max(2, round(min(img.size) / 150))
    for box, colour, _ in items:
        x0, y0, x1, y1 = (v * scale for v in box)
        draw.rectangle((x0, y0, max(x0, x1 - 1), max(y0, y1 - 1)), outline=colour, width=width)
    font = _font(12)
    widths = [20 + int(font.getlength(label)) + 14 for _, _, label in items]
    legend_h = 22
    out = Image.new("RGB", (max(img.width, sum(widths) + 6), img.height + legend_h), BACKGROUND)
    out.paste(img, (0, 0))
    d = ImageDraw.Draw(out)
    x, y = 6, img.height + 4
    for (_, colour, label), w in zip(items, widths):
        d.rectangle((x, y + 3, x + 10, y + 12), outline=colour, width=2)
        d.text((x + 14, y), label, fill=TEXT, font=font)
        x += w
    return out


def render_localisation(result: FeatureResult, loc: dict | None) -> Image.Image:
    """The image with the gradient heat overlay, the theoretical box (red) and the
    effective box (cyan), and a one-line legend below."""
    if loc is None:
        image = result.image
        return Image.fromarray(image, "RGB" if image.ndim == 3 else "L").convert("RGB")
    img, scale = _overlay(result, loc["_grad"])
    return _boxes_and_legend(
        img,
        scale,
        [
            (loc["rf_box"], RF_COLOUR, "receptive field"),
            (loc["effective_box"], EFFECTIVE_COLOUR, "effective (half |gradient|)"),
        ],
    )


def render_method(result: FeatureResult, loc: Localised, classes=None) -> Image.Image:
    """One method's overlay: its heat map and its box, with a legend naming the method."""
    img, scale = _overlay(result, loc.heat)
    label = f"{TITLES[loc.method]} at {loc.node}"
    if loc.cls is not None:
        name = classes[loc.cls] if classes and loc.cls < len(classes) else str(loc.cls)
        label += f", class {name}"
    return _boxes_and_legend(img, scale, [(loc.box, METHOD_COLOURS[loc.method], label)])


def write_method_overlays(result: FeatureResult, loc: dict, out: Path, classes=None) -> list[Path]:
    """``localisation_<method>.png`` for every method that applied; the paths written."""
    paths = []
    for method, done in loc["_maps"].items():
        path = out / f"localisation_{method}.png"
        render_method(result, done, classes).save(path)
        paths.append(path)
    return paths


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
