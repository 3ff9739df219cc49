"""``python main.py localise DESIGN [--weights W] --data shapes|FOLDER [--count N] [--seed S] [--json]``.

Measures every localisation method (:mod:`engine.runtime.localise`: receptive field,
effective field, class activation map, Grad-CAM) on labelled images: the built-in
``shapes`` held-out images (never used in training) at the design's input size, or a
folder holding ``labels.csv`` (``file,label,class,x0,y0,x1,y1``, as ``data shapes``
writes; boxes in image pixels, x1 and y1 exclusive). For each method it prints the hit
rate (the box's centre within 20 % of the image size of the object's centre), the mean IoU
with the object's box and the mean box area (share of the image); ``--json`` prints
``{"methods": {NAME: {"hits", "count", "rate", "iou", "area"}}, "skipped": {NAME: why},
"images": [{"file", "object", "class", "boxes"}]}``. The class of the class activation map
and Grad-CAM is the predicted one. Without ``--weights`` the weights are random (``--seed``).

Exit status 0 measured; 1 refused (graph errors, no spatial layer, a label the design's
output does not have); 2 unreadable input or bad usage (a missing design, weights file,
folder or image; a labels.csv with missing columns or a box outside its image).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from cli import load_graph_arg, tolerant_stdout
from cli.safety import (
    EXIT_OK,
    EXIT_REFUSED,
    EXIT_UNREADABLE,
    data_arg_problem,
    escape,
    int_range,
    report,
    seed,
)

COLUMNS = ("file", "label", "class", "x0", "y0", "x1", "y1")
DEFAULT_COUNT = 100


class LabelsError(Exception):
    """labels.csv cannot be used; the message names the line and what is wrong.

    ``refused`` is true when the file is fine but does not suit the design (a label its
    output does not have): exit status 1 rather than 2.
    """

    def __init__(self, message: str, refused: bool = False) -> None:
        super().__init__(message)
        self.refused = refused


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``localise`` arguments to ``parser``."""
    parser.add_argument("file", nargs="?", help="a .json graph file")
    parser.add_argument("--template", metavar="NAME", help="a built-in template (e.g. tiny_cnn)")
    parser.add_argument("--weights", metavar="FILE", help="trained weights (default: random)")
    parser.add_argument(
        "--data", required=True, help="'shapes' or a folder with labels.csv (as `data` writes)"
    )
    parser.add_argument(
        "--count",
        type=int_range(1, 1_000_000, "--count"),
        help=f"images to measure (default {DEFAULT_COUNT} shapes, or every row of labels.csv)",
    )
    parser.add_argument(
        "--seed", type=seed, default=0, help="seed of the shapes images and random weights (0)"
    )
    parser.add_argument(
        "--threads",
        type=int_range(0, 256, "--threads"),
        default=1,
        help="torch threads (1: one image at a time is fastest on a busy machine; 0: torch's "
        "default)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def read_labels(folder: Path, count: int | None, classes=None, n_out: int | None = None):
    """The rows of ``folder/labels.csv`` as ``(file, image path, (x0, y0, x1, y1))``.

    Raises
    ------
    LabelsError
        No labels.csv, missing columns, a missing image, a box that is empty or outside
        its image, a label the design's output (``n_out`` classes, names ``classes``) has not.
    """
    from PIL import Image, UnidentifiedImageError

    path = folder / "labels.csv"
    if not path.is_file():
        raise LabelsError(f"there is no labels.csv in '{escape(folder)}' (make one with `data`)")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LabelsError(f"cannot read '{escape(path)}': {escape(exc)}") from None
    reader = csv.DictReader(text.splitlines())
    header = reader.fieldnames or []
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise LabelsError(
            f"labels.csv lacks the column(s) {', '.join(missing)}; its header must hold "
            f"{','.join(COLUMNS)}"
        )
    rows = []
    for line, row in enumerate(reader, start=2):
        if count is not None and len(rows) >= count:
            break
        where = f"labels.csv line {line}"
        name = row["file"] or ""
        try:
            box = tuple(int(row[c]) for c in ("x0", "y0", "x1", "y1"))
            label = int(row["label"])
        except (TypeError, ValueError):
            raise LabelsError(f"{where}: label and box must be whole numbers") from None
        image = folder / name
        if not name or not image.is_file():
            raise LabelsError(f"{where}: the image '{escape(name)}' does not exist in the folder")
        try:
            with Image.open(image) as im:
                w, h = im.size
        except (OSError, UnidentifiedImageError):
            raise LabelsError(f"{where}: '{escape(name)}' is not a readable image") from None
        x0, y0, x1, y1 = box
        if not (0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h):
            raise LabelsError(
                f"{where}: the box x {x0}–{x1}, y {y0}–{y1} is empty or outside the {w}×{h} "
                f"image '{escape(name)}'"
            )
        if n_out is not None and not 0 <= label < n_out:
            raise LabelsError(
                f"{where}: class {label} ({escape(row['class'])}) is unknown: the design has "
                f"{n_out} classes (0–{n_out - 1})",
                refused=True,
            )
        if classes and label < len(classes) and row["class"] != classes[label]:
            raise LabelsError(
                f"{where}: class {label} is '{classes[label]}' for these weights, "
                f"not '{escape(row['class'])}'",
                refused=True,
            )
        rows.append((name, str(image), box))
    if not rows:
        raise LabelsError("labels.csv has no rows")
    return rows


def table_text(report_: dict) -> list[str]:
    """The measurement as aligned text lines."""
    from engine.analysis.heat import TITLES

    lines = [f"{'method':<24}{'hits':>10}{'rate':>8}{'mean IoU':>10}{'mean area':>11}"]
    for m, r in report_["methods"].items():
        lines.append(
            f"{TITLES[m]:<24}{r['hits']:>5}/{r['count']:<4}{r['rate']:>8.0%}"
            f"{r['iou']:>10.3f}{r['area']:>11.0%}"
        )
    for m, why in report_["skipped"].items():
        lines.append(f"{TITLES[m]}: skipped ({why})")
    return lines


def run(args: argparse.Namespace) -> int:
    """Measure and print; return the exit status (see the module docstring)."""
    tolerant_stdout()
    from engine.core.errors import EngineError, FormatError

    problem = data_arg_problem("localise", args.data, "labels.csv")
    if problem:
        print(problem, file=sys.stderr)
        return EXIT_UNREADABLE
    folder = None if args.data == "shapes" else Path(args.data)
    try:
        model, source = load_graph_arg(args)
    except FormatError as exc:
        report("localise", exc)
        return EXIT_UNREADABLE
    import torch

    from cli.features_outputs import build_runner, class_names
    from engine.runtime.localise import evaluate, shapes_samples, spatial_nodes

    if args.threads:
        torch.set_num_threads(args.threads)

    try:
        runner = build_runner(model, args.seed, 2 * 1024**3, args.weights)
    except EngineError as exc:
        report("localise", exc)
        unreadable = type(exc).__name__ == "WeightsError" and not (
            exc.missing or exc.unexpected or exc.mismatched
        )
        return EXIT_UNREADABLE if unreadable else EXIT_REFUSED
    if not spatial_nodes(runner.analysis):
        print(
            "localise: the design has no spatial layer (no node with a C×H×W output), so "
            "there is nothing to localise",
            file=sys.stderr,
        )
        return EXIT_REFUSED
    from engine.runtime.localise import output_node

    n_out = int(runner.analysis.nodes[output_node(runner.analysis)].shape[0])
    classes = class_names(args.weights)
    if folder is None:
        from engine.recipes.shapes import CLASSES

        h, w = runner.size
        count = args.count or DEFAULT_COUNT
        if min(h, w) < 16:
            print(f"localise: shapes need an input of at least 16×16, not {h}×{w}", file=sys.stderr)
            return EXIT_REFUSED
        if n_out < len(CLASSES):
            print(
                f"localise: shapes have {len(CLASSES)} classes, the design's output has {n_out}",
                file=sys.stderr,
            )
            return EXIT_REFUSED
        samples = list(shapes_samples((h, w), count, args.seed))
        what = f"{count} held-out shapes images ({w}×{h}, seed {args.seed})"
    else:
        try:
            rows = read_labels(folder, args.count, classes, n_out)
        except LabelsError as exc:
            print(f"localise: {exc}", file=sys.stderr)
            return EXIT_REFUSED if exc.refused else EXIT_UNREADABLE
        samples = rows
        what = f"{len(rows)} images of '{escape(folder)}'"
    from engine.runtime.images import ImageError

    try:
        result = evaluate(runner, samples, keep_boxes=args.json)
    except ImageError as exc:
        report("localise", exc)
        return EXIT_UNREADABLE
    except EngineError as exc:
        report("localise", exc)
        return EXIT_REFUSED
    result["weights"] = runner.weights_text
    if args.json:
        print(json.dumps(result, indent=1))
        return EXIT_OK
    print(f"localise: {escape(source)}, weights {runner.weights_text}, on {what}")
    for line in table_text(result):
        print(line)
    return EXIT_OK
