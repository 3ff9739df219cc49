"""``python main.py data shapes --out DIR --count N [--size S] [--seed K]``: write a data set.

Writes ``N`` PNGs of the built-in ``shapes`` set (``00000.png`` …) and ``labels.csv`` with
the header ``file,label,class,x0,y0,x1,y1``: the class index and name, and the object's
box in pixels (x1, y1 exclusive). Image ``i`` is the same one the trainer uses for index
``i`` of that seed. Exit status 0 written, 2 bad usage or the folder cannot be written.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path

from cli.safety import (
    EXIT_OK,
    EXIT_UNREADABLE,
    escape,
    int_range,
    mark_output_folder,
    output_folder_problem,
    seed,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``data`` arguments to ``parser``."""
    parser.add_argument("name", choices=("shapes",), help="the built-in data set")
    parser.add_argument("--out", required=True, help="folder for the PNGs and labels.csv")
    parser.add_argument(
        "--count", required=True, type=int_range(1, 1_000_000, "--count"), help="images"
    )
    parser.add_argument(
        "--size", type=int_range(16, 1024, "--size"), default=64, help="width = height (64)"
    )
    parser.add_argument("--seed", type=seed, default=0, help="seed of the data set (0)")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="write into a non-empty folder that data did not make (files may be replaced)",
    )


def run(args: argparse.Namespace) -> int:
    """Write the images and labels.csv; return the exit status."""
    from PIL import Image

    from engine.core.fileformat import write_atomic
    from engine.recipes.shapes import CLASSES, shape_image

    out = Path(args.out)
    problem = output_folder_problem(out, "data", args.overwrite)
    if problem:
        print(f"data: {problem}", file=sys.stderr)
        return EXIT_UNREADABLE
    rows = []
    try:
        mark_output_folder(out)
        width = max(5, len(str(args.count - 1)))
        for i in range(args.count):
            img, label, (x0, y0, x1, y1) = shape_image(args.seed, i, (args.size, args.size))
            name = f"{i:0{width}d}.png"
            Image.fromarray(img, "RGB").save(out / name)
            rows.append((name, label, CLASSES[label], x0, y0, x1, y1))
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(("file", "label", "class", "x0", "y0", "x1", "y1"))
        w.writerows(rows)
        write_atomic(out / "labels.csv", lambda fh: fh.write(buf.getvalue()), mode=0o644)
    except OSError as exc:
        print(
            f"data: cannot write to '{escape(out)}': {escape(exc.strerror or exc)}", file=sys.stderr
        )
        return EXIT_UNREADABLE
    print(
        f"{args.count} shapes images ({args.size}×{args.size}, seed {args.seed}) and labels.csv written to {escape(out)}"
    )
    return EXIT_OK
