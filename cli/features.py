"""``python main.py features FILE --image IMG --out DIR [--node ID]``: save every feature map.

Runs the image once through the graph (random weights from ``--seed``, or trained ones from
``--weights FILE``), then writes into DIR:

- one PNG per node, ``NNN_<id>.png`` (NNN: topological position): every channel tiled in a
  grid on one shared colour scale (viridis), with a header (node, type, shape, sparsity)
  and a colour scale bar labelled with the minimum, zero and maximum; at most
  ``--max-grids`` (default 500: the first in topological order, plus the ``--node``'s),
  or every node's with ``--all-grids``; the output says when grids were left out;
- ``sparsity.csv``: ``node,type,depth,shape,sparsity,mean,max`` per node;
- ``localisation.png``: the original image with the receptive-field box of the strongest
  activation of the last spatial node (or ``--node``/``--channel``), its effective box
  (the smallest box holding half the input gradient's mass) and the gradient as a heat
  overlay;
- ``localisation.json``: ``{"node", "channel", "y", "x", "value", "rf_box", "effective_box",
  "class", "boxes", "skipped"}``, boxes ``[x0, y0, x1, y1]`` in original-image pixels, x1
  and y1 exclusive; ``boxes`` has one per localisation method (``receptive_field``,
  ``effective``, ``class_activation``, ``grad_cam``: :mod:`engine.runtime.localise`, for
  the predicted class or ``--class``), ``skipped`` names each method that does not apply
  and why;
- ``localisation_<method>.png``: each method's heat map and box on the image;
- with ``--weights FILE`` (``.safetensors`` or ``.pt``, exported-code keys) every output is
  for those weights, and ``sparsity_by_depth.png`` plots ReLU sparsity by depth for the
  random (``--seed``) and the loaded weights.

It prints the localisation box. Exit status 0 on success; 1 when the work is refused (an
empty graph, graph errors, not one input node, over the memory limit, which counts
weights, every map and the largest temporary before anything is allocated, a bad
``--node``/``--channel``/``--class``/``--cam-node``); 2 when an input cannot be read (graph file, image: missing,
damaged, over the pixel limit) or the output folder cannot be written, and for bad usage
(e.g. ``--memory-limit nan``, ``--seed 2**70``). Reasons go to stderr, escaped.
"""

from __future__ import annotations

import argparse
import csv
import math
import re
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from cli import load_graph_arg, tolerant_stdout
from cli.safety import (
    EXIT_REFUSED,
    EXIT_UNREADABLE,
    escape,
    int_range,
    limit_mb,
    mark_output_folder,
    output_folder_problem,
    report,
    seed,
)
from engine.core.errors import EngineError, FormatError
from engine.runtime.feature_types import FeatureResult
from engine.runtime.images import MAX_PIXELS, MODES, NORMALIZATIONS, ImageError

CSV_COLUMNS = ("node", "type", "depth", "shape", "sparsity", "mean", "max")
MAX_GRID = 1600  # target width/height of a tiled grid, in pixels
MAX_GRIDS = 500  # node PNGs written by default
MIN_TILE = 24  # small maps are enlarged (nearest) to at least this many pixels
GAP = 1

# Viridis, sampled at 9 evenly spaced points (RGB 0-255) and linearly interpolated.
_VIRIDIS = np.array(
    [
        (68, 1, 84),
        (71, 45, 123),
        (59, 82, 139),
        (44, 114, 142),
        (33, 145, 140),
        (40, 174, 128),
        (94, 201, 98),
        (173, 220, 48),
        (253, 231, 37),
    ],
    dtype=np.float64,
)
BACKGROUND = (32, 32, 36)
TEXT = (235, 235, 235)


def colormap_lut() -> np.ndarray:
    """A 256×3 uint8 viridis lookup table."""
    pos = np.linspace(0.0, 1.0, len(_VIRIDIS))
    t = np.linspace(0.0, 1.0, 256)
    lut = np.stack([np.interp(t, pos, _VIRIDIS[:, i]) for i in range(3)], axis=1)
    return np.rint(lut).astype(np.uint8)


LUT = colormap_lut()


def _font(size: int = 13):
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # pragma: no cover - Pillow without FreeType
        return ImageFont.load_default()


def safe_name(index: int, node: str) -> str:
    """``NNN_<id>.png`` with characters outside ``[0-9A-Za-z_.-]`` replaced by ``_``."""
    stem = re.sub(r"[^0-9A-Za-z_.-]", "_", node)[:80].strip(".") or "node"
    return f"{index:03d}_{stem}.png"


def _levels(arr: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Values → 0..255 indices on the shared scale ``[lo, hi]``."""
    span = hi - lo
    if not math.isfinite(span) or span <= 0:
        return np.zeros(arr.shape, np.uint8)
    with np.errstate(over="ignore", invalid="ignore"):  # ±3e38 apart: inf, clipped below
        idx = (arr.astype(np.float32) - np.float32(lo)) * np.float32(255.0 / span)
    np.clip(idx, 0, 255, out=idx)
    return np.rint(idx).astype(np.uint8)


def tile_grid(values: np.ndarray) -> np.ndarray:
    """Tile a ``(C, H, W)`` or ``(F,)`` map into an RGB uint8 grid (viridis, one shared scale).

    Channels go left to right, top to bottom, ``ceil(sqrt(C))`` per row, 1-pixel gaps. Maps
    are enlarged (nearest) to about ``MIN_TILE`` pixels when small and subsampled when the
    grid would exceed ``MAX_GRID``. A vector becomes a strip of cells, 32 per row.
    """
    vector = values.ndim == 1
    if vector:
        n = values.shape[0]
        cols = min(n, 32)
        rows = -(-n // cols)
        padded = np.full(rows * cols, np.nan, np.float32)
        padded[:n] = values
        values = padded.reshape(1, rows, cols)
    c, h, w = values.shape
    finite = values[np.isfinite(values)]
    lo = float(finite.min()) if finite.size else 0.0
    hi = float(finite.max()) if finite.size else 0.0
    cols = math.ceil(math.sqrt(c))
    rows = -(-c // cols)
    if vector:  # cells of a few pixels, so that single features are visible
        zoom = max(2, min(16, 384 // w))
    else:
        zoom = max(1, min(MIN_TILE // max(h, w) if max(h, w) < MIN_TILE else 1, 16))
    step = 1
    limit = MAX_GRID * 1.25
    while cols * (w * zoom // step + GAP) > limit or rows * (h * zoom // step + GAP) > limit:
        if zoom > 1:
            zoom -= 1
        else:
            step += 1
    th, tw = -(-h // step) * zoom, -(-w // step) * zoom
    grid = np.empty((rows * (th + GAP) - GAP, cols * (tw + GAP) - GAP, 3), np.uint8)
    grid[:] = BACKGROUND
    nan = np.isnan(values)
    idx = _levels(np.where(nan, lo, values), lo, hi)
    for k in range(c):
        r, q = divmod(k, cols)
        tile = LUT[idx[k, ::step, ::step]]
        tile[nan[k, ::step, ::step]] = BACKGROUND
        if zoom > 1:
            tile = tile.repeat(zoom, axis=0).repeat(zoom, axis=1)
        y, x = r * (th + GAP), q * (tw + GAP)
        grid[y : y + th, x : x + tw] = tile
    return grid


def _fmt(v: float) -> str:
    return f"{v:.3g}"


def render_node(result: FeatureResult, node: str) -> Image.Image:
    """One node's PNG: header text, the tiled grid and a labelled colour scale bar."""
    arr = result.maps[node]
    st = result.stats[node]
    grid = tile_grid(arr)
    font = _font(13)
    small = _font(11)
    gh, gw = grid.shape[:2]
    shape = "x".join(str(d) for d in arr.shape)
    lines = [
        f"{node}  ({result.types[node]}, depth {result.depth[node]})",
        f"{shape}   sparsity {st.sparsity:.1%}   near-zero {st.near_zero:.1%}   "
        f"mean {_fmt(st.mean)}   std {_fmt(st.std)}",
    ]
    pad = 8
    bar_w, label_w = 16, 64
    header_h = 2 * 18 + pad
    text_w = max(int(font.getlength(t)) for t in lines) + 2 * pad
    width = max(gw + bar_w + label_w + 3 * pad, 520, text_w)
    height = header_h + max(gh, 120) + 2 * pad
    img = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(img)
    for i, text in enumerate(lines):
        draw.text((pad, pad + i * 18), text, fill=TEXT, font=font)
    top = header_h + pad
    img.paste(Image.fromarray(grid, "RGB"), (pad, top))
    # Colour scale bar: top = max, bottom = min, same scale as the grid.
    bar_h = max(gh, 120)
    bx = pad + gw + pad
    ramp = LUT[np.linspace(255, 0, bar_h).round().astype(np.int64)]
    bar = np.repeat(ramp[:, None, :], bar_w, axis=1)
    img.paste(Image.fromarray(np.ascontiguousarray(bar), "RGB"), (bx, top))
    draw.rectangle((bx - 1, top - 1, bx + bar_w, top + bar_h), outline=TEXT)
    lo, hi = st.min, st.max
    lx = bx + bar_w + 4
    draw.text((lx, top - 2), _fmt(hi), fill=TEXT, font=small)
    draw.text((lx, top + bar_h - 12), _fmt(lo), fill=TEXT, font=small)
    if lo < 0 < hi and math.isfinite(hi - lo):
        zy = top + round((hi / (hi - lo)) * (bar_h - 1))
        draw.line((bx + bar_w, zy, bx + bar_w + 3, zy), fill=TEXT)
        if 14 < zy - top < bar_h - 26:
            draw.text((lx, zy - 6), "0", fill=TEXT, font=small)
    return img


def render_localisation(result: FeatureResult) -> Image.Image:
    """The original image with the localisation box drawn on it."""
    image = result.image
    img = Image.fromarray(image, "RGB" if image.ndim == 3 else "L").convert("RGB")
    box = result.box
    if box is not None:
        draw = ImageDraw.Draw(img)
        width = max(2, round(min(img.size) / 150))
        draw.rectangle(
            (box.x0, box.y0, max(box.x0, box.x1 - 1), max(box.y0, box.y1 - 1)),
            outline=(255, 40, 40),
            width=width,
        )
    return img


def write_csv(result: FeatureResult, path: Path) -> None:
    """``sparsity.csv``: one row per node in topological order."""
    # backslashreplace: an id with a lone surrogate is written as \udXXX, not refused
    with open(path, "w", newline="", encoding="utf-8", errors="backslashreplace") as f:
        w = csv.writer(f)
        w.writerow(CSV_COLUMNS)
        for n in result.order:
            st = result.stats[n]
            shape = "x".join(str(d) for d in result.maps[n].shape)
            w.writerow(
                [
                    n,
                    result.types[n],
                    result.depth[n],
                    shape,
                    f"{st.sparsity:.6f}",
                    f"{st.mean:.6g}",
                    f"{st.max:.6g}",
                ]
            )


def box_text(result: FeatureResult) -> str:
    """One line describing the localisation box."""
    b = result.box
    if b is None:
        return "localisation: no node with a spatial map"
    h, w = result.preprocess.original_size
    return (
        f"localisation: node '{b.node}' channel {b.channel} at (y={b.y}, x={b.x}), value "
        f"{b.value:.4g} -> box x {b.x0}..{b.x1}, y {b.y0}..{b.y1} "
        f"({b.x1 - b.x0}×{b.y1 - b.y0} of the {w}×{h} image)"
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``features`` arguments to ``parser``."""
    parser.add_argument("file", nargs="?", help="a .json graph file")
    parser.add_argument(
        "--template",
        metavar="NAME",
        help="use a built-in template instead of a file (e.g. resnet18)",
    )
    parser.add_argument("--image", required=True, help="a PNG, JPEG, BMP or WebP image")
    parser.add_argument("--out", required=True, help="folder for the PNGs and sparsity.csv")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="write into a non-empty folder that features did not make (files may be replaced)",
    )
    parser.add_argument(
        "--node",
        help="localise the strongest activation of this node "
        "(default: the last node with a spatial map)",
    )
    parser.add_argument(
        "--channel",
        type=int_range(0, 2**31 - 1, "--channel"),
        help="localise within this channel only",
    )
    parser.add_argument(
        "--class",
        dest="cls",
        metavar="CLASS",
        help="the class of the class activation map and Grad-CAM: an index, or a name the "
        "weights file lists (default: the predicted class)",
    )
    parser.add_argument(
        "--cam-node",
        metavar="ID",
        help="the node Grad-CAM weighs (default: the class activation map's node, else the "
        "last spatial node)",
    )
    parser.add_argument(
        "--mode",
        choices=MODES,
        default="resize",
        help="resize the whole image, or scale and centre-crop it",
    )
    parser.add_argument(
        "--normalize",
        choices=NORMALIZATIONS,
        default="imagenet",
        help="subtract the ImageNet mean and divide by its std, or keep [0, 1]",
    )
    parser.add_argument(
        "--seed", type=seed, default=0, help="seed of the random weights (0 to 2**63-1)"
    )
    parser.add_argument(
        "--weights",
        metavar="FILE",
        help="use trained weights (.safetensors or .pt state dict) instead of random ones",
    )
    parser.add_argument(
        "--memory-limit",
        type=limit_mb,
        default=2048,
        metavar="MB",
        help="refuse graphs whose weights, feature maps and working memory together need "
        "more (default 2048 MB; the Python runtime and torch, ~300 MB, are not counted)",
    )
    parser.add_argument(
        "--max-image-pixels",
        type=int_range(1, 2**40, "--max-image-pixels"),
        default=MAX_PIXELS,
        metavar="N",
        help=f"refuse larger images (default {MAX_PIXELS:,}, Pillow's decompression-bomb "
        f"limit); raising it lets an image use about 8 bytes per pixel while it is decoded",
    )
    grids = parser.add_mutually_exclusive_group()
    grids.add_argument(
        "--max-grids",
        type=int_range(0, 2**31 - 1, "--max-grids"),
        default=MAX_GRIDS,
        metavar="N",
        help=f"write at most N node PNGs (default {MAX_GRIDS}); sparsity.csv lists every node",
    )
    grids.add_argument("--all-grids", action="store_true", help="write every node's PNG")


def write_trained_outputs(args, model, result: FeatureResult, loc, out: Path) -> None:
    """``localisation.png`` / ``.json`` and, with ``--weights``, ``sparsity_by_depth.png``."""
    from cli.features_outputs import (
        depth_series,
        render_localisation,
        render_sparsity_by_depth,
        write_localisation_json,
        write_method_overlays,
    )

    render_localisation(result, loc).save(out / "localisation.png")
    if loc is not None:
        write_localisation_json(loc, out / "localisation.json")
        write_method_overlays(result, loc, out, getattr(args, "class_names", None))
    if getattr(args, "weights", None) is None:
        return
    from engine.runtime.features import run_features

    rand = run_features(
        model,
        result.image,
        mode=args.mode,
        normalize=args.normalize,
        seed=args.seed,
        memory_limit=int(args.memory_limit * 1024**2),
    )
    render_sparsity_by_depth(
        {f"random, seed {args.seed}": depth_series(rand), "trained": depth_series(result)}
    ).save(out / "sparsity_by_depth.png")


def grid_nodes(result: FeatureResult, limit: int | None) -> list[int]:
    """Topological indices of the nodes whose PNG is written.

    The first ``limit`` nodes (all when ``limit`` is ``None``), plus the localised node.
    """
    n = len(result.order)
    if limit is None or n <= limit:
        return list(range(n))
    chosen = list(range(limit))
    if result.box is not None:
        k = result.order.index(result.box.node)
        if k >= limit:
            chosen.append(k)
    return chosen


def run(args: argparse.Namespace) -> int:
    """Run the image, write the files; return 0, 1 (refused) or 2 (unreadable), see above."""
    tolerant_stdout()
    from engine.runtime.features import run_features

    problem = output_folder_problem(args.out, "features", getattr(args, "overwrite", False))
    if problem:
        print(f"features: {problem}", file=sys.stderr)
        return EXIT_UNREADABLE
    try:
        model, _ = load_graph_arg(args)
    except FormatError as exc:
        report("features", exc)
        return EXIT_UNREADABLE
    from cli.features_outputs import build_runner, class_names, localise
    from engine.runtime.localise import LocaliseError

    try:
        runner = build_runner(
            model, args.seed, int(args.memory_limit * 1024**2), getattr(args, "weights", None)
        )
        result = run_features(
            runner,
            args.image,
            mode=args.mode,
            normalize=args.normalize,
            node=args.node,
            channel=args.channel,
            seed=args.seed,
            memory_limit=int(args.memory_limit * 1024**2),
            max_pixels=args.max_image_pixels,
        )
        args.class_names = class_names(getattr(args, "weights", None))
        loc = localise(result, runner, cls=args.cls, node=args.cam_node, classes=args.class_names)
    except LocaliseError as exc:
        print(f"features: {escape(exc)}", file=sys.stderr)
        return EXIT_REFUSED
    except ImageError as exc:
        report("features", exc)
        return EXIT_UNREADABLE if exc.path is not None else EXIT_REFUSED
    except EngineError as exc:
        report("features", exc)
        # A weights file that cannot be read is unreadable input; one that does not fit, refused.
        unreadable = type(exc).__name__ == "WeightsError" and not (
            exc.missing or exc.unexpected or exc.mismatched
        )
        return EXIT_UNREADABLE if unreadable else EXIT_REFUSED
    out = Path(args.out)
    chosen = grid_nodes(result, None if args.all_grids else args.max_grids)
    try:
        mark_output_folder(out)
        for i in chosen:
            n = result.order[i]
            render_node(result, n).save(out / safe_name(i, n))
        write_csv(result, out / "sparsity.csv")
        write_trained_outputs(args, model, result, loc, out)
    except OSError as exc:
        why = escape(exc.strerror or exc)
        print(f"features: cannot write to '{escape(out)}': {why}", file=sys.stderr)
        return EXIT_UNREADABLE
    total = len(result.order)
    ms = result.seconds * 1000
    if len(chosen) == total:
        print(f"{total} feature maps written to {escape(out)} (forward {ms:.1f} ms)")
    else:
        print(
            f"{len(chosen):,} of {total:,} feature maps written to {escape(out)} (forward "
            f"{ms:.1f} ms): the first {args.max_grids:,} in topological order"
            + (" and the localised node" if len(chosen) > args.max_grids else "")
            + "; --all-grids writes every one, sparsity.csv lists all"
        )
    print(escape(box_text(result)))
    return 0
