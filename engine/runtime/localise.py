"""Where did the network look: four localisation methods over one feature run.

Each method gives a heat map over the network input and a box on the original image
(:class:`~engine.runtime.feature_types.Localised`); maps become boxes by one rule,
:func:`engine.analysis.heat.heat_box`.

* ``receptive_field``: the theoretical receptive field of the strongest activation of the
  last spatial node (the feature run's :attr:`FeatureResult.box`), the teaching text's
  method; its heat is 1 inside the field;
* ``effective``: ``|d a / d x|`` of that activation, summed over the input channels;
* ``class_activation``: for a ``spatial → global average pool → (flatten) → linear`` head,
  ``Σ_k w[c, k] A_k`` over the spatial node's channels for the predicted (or a chosen)
  class ``c``, upsampled to the input, positive part;
* ``grad_cam``: at a chosen spatial node (default: the class activation's node, else the
  last spatial node), the channel weights ``α_k`` are the mean gradient of the class score
  over the node's positions; heat = positive part of ``Σ_k α_k A_k``, upsampled. On a
  global-average-pool → linear head ``α_k = w[c, k] / (h·w)``: the class activation map
  up to a positive scale.

torch is imported inside the functions (this module is imported by the command line
before it knows it will run a network).
"""

from __future__ import annotations

import numpy as np

from engine.analysis.heat import (
    METHODS,
    class_activation_map,
    gap_linear_head,
    heat_box,
    positive,
    upsample,
)
from engine.analysis.rf_boxes import input_to_original
from engine.runtime.feature_types import FeatureResult, Localised


class LocaliseError(ValueError):
    """A localisation request cannot be met (unknown class, node without a spatial map)."""


def output_node(analysis) -> str:
    """The graph's output: the last node (topological order) without successors."""
    outs = [n for n in analysis.order if not analysis.successors.get(n)]
    return outs[-1]


def spatial_nodes(analysis) -> list[str]:
    """Nodes with a ``C×H×W`` output, in topological order (the input excluded)."""
    g = analysis.graph
    return [
        n
        for n in analysis.order
        if g.nodes[n]["type"] != "input"
        and analysis.nodes[n].shape is not None
        and len(analysis.nodes[n].shape) == 3
    ]


def resolve_class(cls: int | str | None, classes, n_out: int) -> int | None:
    """A class index from an index, a name in ``classes``, or ``None`` (the predicted class).

    Raises
    ------
    LocaliseError
        An unknown name or an index outside ``0 … n_out - 1``.
    """
    if cls is None:
        return None
    if isinstance(cls, str) and not cls.lstrip("-").isdigit():
        names = list(classes or [])
        if cls not in names:
            known = ", ".join(names) if names else "none: give a class index"
            raise LocaliseError(f"unknown class {cls!r} (known: {known})")
        return names.index(cls)
    k = int(cls)
    if not 0 <= k < n_out:
        raise LocaliseError(
            f"class {k} is out of range: the output has {n_out} classes (0–{n_out - 1})"
        )
    return k


def _rf_heat(analysis, box, pre) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """1 inside the theoretical field (input pixels), and that field ``(y0, x0, y1, x1)``."""
    from engine.analysis.rf_boxes import channel_rf

    (sh, jh, st_h), (sw, jw, st_w) = channel_rf(analysis, box.node, box.channel)
    ih, iw = pre.input_size
    y0 = min(max(st_h + box.y * jh, 0), ih)
    y1 = min(max(st_h + box.y * jh + sh, 0), ih)
    x0 = min(max(st_w + box.x * jw, 0), iw)
    x1 = min(max(st_w + box.x * jw + sw, 0), iw)
    heat = np.zeros((ih, iw), np.float32)
    heat[y0:y1, x0:x1] = 1.0
    return heat, (y0, x0, y1, x1)


def _made(method: str, heat: np.ndarray, pre, node: str, cls: int | None, rect=None) -> Localised:
    # Overflowing weights give inf/nan maps: nan counts as 0, inf as the peak.
    heat = np.nan_to_num(heat, nan=0.0, posinf=np.finfo(np.float32).max, neginf=0.0)
    y0, x0, y1, x1 = rect if rect is not None else heat_box(heat)
    top = float(heat.max()) if heat.size else 0.0
    norm = (heat / top).astype(np.float32) if top > 0 else np.zeros_like(heat, np.float32)
    return Localised(
        method=method,
        box=input_to_original(pre, y0, x0, y1, x1),
        input_box=(int(y0), int(x0), int(y1), int(x1)),
        heat=norm,
        node=node,
        cls=cls,
    )


def localise(
    runner,
    result: FeatureResult,
    methods=METHODS,
    cls: int | str | None = None,
    node: str | None = None,
    classes=None,
) -> tuple[dict[str, Localised], dict[str, str]]:
    """Run the localisation ``methods`` on one feature run.

    Parameters
    ----------
    runner : FeatureRunner
        The runner that produced ``result`` (its capture module, in eval mode).
    result : FeatureResult
        The run; ``result.box`` is the strongest activation the first two methods trace.
    methods : sequence of str
        Names from :data:`engine.analysis.heat.METHODS`.
    cls : int, str or None
        The class of ``class_activation`` and ``grad_cam`` (index or name in ``classes``);
        ``None``: the predicted one.
    node : str, optional
        Grad-CAM's node (a spatial node); default the class activation's node, else the
        last spatial node.
    classes : sequence of str, optional
        Class names, for ``cls`` given by name.

    Returns
    -------
    done : dict
        ``method → Localised``, in the order of ``methods``.
    skipped : dict
        ``method → reason`` for the methods that do not apply to this design.

    Raises
    ------
    LocaliseError
        An unknown class, or a Grad-CAM node without a spatial map.
    """
    import torch

    analysis = runner.analysis
    pre = result.preprocess
    done: dict[str, Localised] = {}
    skipped: dict[str, str] = {}
    out_node = output_node(analysis)
    logits = np.asarray(result.maps[out_node])
    n_out = int(logits.shape[0])
    k = resolve_class(cls, classes, n_out)
    b = result.box
    if b is None:
        for m in methods:
            skipped[m] = "no node has a spatial map"
        return done, skipped
    try:
        head = gap_linear_head(analysis)
    except ValueError as exc:
        head = None
        head_reason = str(exc)
    spatial = spatial_nodes(analysis)
    cam_node = node if node is not None else (head[0] if head else b.node)
    if node is not None and node not in spatial:
        raise LocaliseError(f"Grad-CAM needs a node with a C×H×W map; '{node}' has none")
    if k is None:  # the predicted class (the strongest output channel of a spatial output)
        k = int(np.argmax(logits if logits.ndim == 1 else logits.reshape(n_out, -1).sum(1)))

    want_grad = "effective" in methods or "grad_cam" in methods
    grads: dict[str, np.ndarray] = {}
    if want_grad:
        x = torch.from_numpy(np.ascontiguousarray(result.input)).unsqueeze(0).requires_grad_(True)
        with torch.enable_grad():
            outs = runner.module(x)
            if "effective" in methods:
                o = outs[b.node][0]
                a = o[b.channel, b.y, b.x] if o.dim() == 3 else o[b.channel]
                (g,) = torch.autograd.grad(a, x, retain_graph="grad_cam" in methods)
                grads["effective"] = g[0].abs().sum(0).numpy()
            if "grad_cam" in methods:
                y = outs[out_node][0]
                score = y[k] if y.dim() == 1 else y[k].sum()
                feat = outs[cam_node]
                (ga,) = torch.autograd.grad(score, feat, allow_unused=True)
                if ga is None:
                    raise LocaliseError(
                        f"Grad-CAM: the output '{out_node}' does not depend on '{cam_node}'"
                    )
                alpha = ga[0].mean(dim=(1, 2))
                grads["grad_cam"] = torch.einsum("k,khw->hw", alpha, feat[0].detach()).numpy()
    size = pre.input_size
    for m in methods:
        if m == "receptive_field":
            heat, rect = _rf_heat(analysis, b, pre)
            loc = _made(m, heat, pre, b.node, None, rect)
            loc.box = (b.x0, b.y0, b.x1, b.y1)  # the feature run's own box, to the pixel
            done[m] = loc
        elif m == "effective":
            done[m] = _made(m, grads[m], pre, b.node, None)
        elif m == "class_activation":
            if head is None:
                skipped[m] = head_reason
                continue
            from engine.codegen.naming import module_names

            attr = module_names(analysis.graph)[head[2]]
            weight = runner.module.get_submodule(attr).weight.detach().numpy()
            cam = class_activation_map(np.asarray(result.maps[head[0]]), weight, k)
            done[m] = _made(m, positive(upsample(cam, size)), pre, head[0], k)
        elif m == "grad_cam":
            done[m] = _made(m, positive(upsample(grads[m], size)), pre, cam_node, k)
        else:
            raise LocaliseError(f"unknown method {m!r} (known: {', '.join(METHODS)})")
    if not spatial:  # (result.box exists only with a spatial node; kept for clarity)
        skipped.setdefault("grad_cam", "the design has no spatial layer")
    return done, skipped


def evaluate(
    runner,
    samples,
    methods=METHODS,
    keep_boxes: bool = False,
    progress=None,
) -> dict:
    """Every method on labelled images: hits, mean IoU and mean box area.

    Parameters
    ----------
    runner : FeatureRunner
        The design, with the weights to measure.
    samples : iterable
        ``(name, image, object_box)``: an image (path or uint8 array) and its object's
        ``(x0, y0, x1, y1)`` box in the image's pixels (ends exclusive).
    methods : sequence of str
    keep_boxes : bool
        Also return every image's boxes (``"images"``).
    progress : callable, optional
        ``progress(done)`` after each image; it may raise to stop.

    Returns
    -------
    dict
        ``{"methods": {method: {"hits", "count", "rate", "iou", "area"}}, "skipped":
        {method: reason}}`` (``area``: the mean share of the image; ``iou`` with the object
        box), plus ``"images": [{"file", "object", "class", "boxes"}]`` with
        ``keep_boxes``. Methods are measured with the predicted class.
    """
    from engine.analysis.heat import score_box

    sums = {m: [0, 0, 0.0, 0.0] for m in methods}  # hits, count, iou, area
    skipped: dict[str, str] = {}
    images = []
    for i, (name, image, obj) in enumerate(samples):
        result = runner.run(image)
        done, skip = localise(runner, result, methods)
        skipped.update(skip)
        size = result.preprocess.original_size
        for m, loc in done.items():
            hit, overlap, area = score_box(loc.box, obj, size)
            s = sums[m]
            s[0] += hit
            s[1] += 1
            s[2] += overlap
            s[3] += area
        if keep_boxes:
            cams = [d.cls for d in done.values() if d.cls is not None]
            images.append(
                {
                    "file": name,
                    "object": [int(v) for v in obj],
                    "class": cams[0] if cams else None,
                    "boxes": {m: [int(v) for v in d.box] for m, d in done.items()},
                }
            )
        if progress is not None:
            progress(i + 1)
    table = {}
    for m in methods:
        hits, count, ious, areas = sums[m]
        if m in skipped and count == 0:
            continue
        table[m] = {
            "hits": int(hits),
            "count": int(count),
            "rate": hits / count if count else 0.0,
            "iou": ious / count if count else 0.0,
            "area": areas / count if count else 0.0,
        }
    out = {"methods": table, "skipped": {m: r for m, r in skipped.items() if m not in table}}
    if keep_boxes:
        out["images"] = images
    return out


def shapes_samples(size: tuple[int, int], count: int, seed: int = 0):
    """``count`` held-out ``shapes`` images (never used in training) as evaluation samples."""
    from engine.recipes.defaults import HELD_OUT_START
    from engine.recipes.shapes import shape_image

    for i in range(count):
        img, _label, box = shape_image(seed, HELD_OUT_START + i, size)
        yield f"shapes:{seed}:{HELD_OUT_START + i}", img, box
