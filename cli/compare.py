"""``python main.py compare FILE FILE... [--json]``: totals of designs side by side.

The first design is the baseline (or ``--baseline N``); every other design's column
shows its value and the change against the baseline, absolute and in percent.
``--template NAME`` (repeatable) adds built-in templates after the files.

Exit status: 0 ok, 1 when a design has errors or is empty (stderr names the design, the
node and the error; nothing is printed on stdout), 2 when a file cannot be read or the
arguments are wrong. Names, files and messages are printed with control characters
escaped (:mod:`cli.safety`).
"""

from __future__ import annotations

import argparse
import json
import sys

from cli import tolerant_stdout
from cli.safety import EXIT_REFUSED, EXIT_UNREADABLE, escape, report
from engine.analysis.compare import compare
from engine.analysis.compare_text import table
from engine.core.errors import FormatError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``compare`` arguments to ``parser``."""
    parser.add_argument("files", nargs="*", metavar="FILE", help=".json graph files")
    parser.add_argument(
        "--template",
        metavar="NAME",
        action="append",
        default=[],
        help="add a built-in template (repeatable), e.g. --template resnet_bottleneck",
    )
    parser.add_argument(
        "--baseline",
        type=int,
        default=0,
        metavar="N",
        help="index of the baseline design (default 0: the first)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print machine-readable JSON instead of the table"
    )


def _load_all(args: argparse.Namespace) -> tuple[list, list[str]]:
    """The models and their sources, files first; raises FormatError naming the file."""
    from engine.core.fileformat import load
    from engine.templates import TEMPLATES

    models, sources = [], []
    for path in args.files:
        models.append(load(path))
        sources.append(path)
    for key in args.template:
        if key not in TEMPLATES:
            raise FormatError(f"unknown template {key!r} (known: {', '.join(TEMPLATES)})")
        models.append(TEMPLATES[key].builder())
        sources.append(f"template {key}")
    return models, sources


def run(args: argparse.Namespace) -> int:
    """Print the comparison; return the exit status (0 ok, 1 invalid design, 2 unreadable)."""
    tolerant_stdout()
    try:
        models, sources = _load_all(args)
    except FormatError as exc:
        report("compare", exc)
        return EXIT_UNREADABLE
    if len(models) < 2:
        print("compare: give at least two designs (FILEs or --template NAMEs)", file=sys.stderr)
        return EXIT_UNREADABLE
    if not 0 <= args.baseline < len(models):
        print(
            f"compare: --baseline {args.baseline} is not one of the {len(models)} designs "
            f"(0 to {len(models) - 1})",
            file=sys.stderr,
        )
        return EXIT_UNREADABLE
    comp = compare(models, [m.name for m in models], sources, args.baseline)
    refused = False
    for d in comp.designs:
        where = f"design '{escape(d.name)}' ({escape(d.file)})"
        if not d.nodes:
            print(f"compare: {where} is empty; add an input node and some layers", file=sys.stderr)
            refused = True
        elif d.errors:
            print(f"compare: {where} has {len(d.errors)} error(s):", file=sys.stderr)
            for node, message in d.errors:
                print(f"  {escape(node)}: {escape(message)}", file=sys.stderr)
            refused = True
    if refused:
        return EXIT_REFUSED
    if args.json:
        print(json.dumps(comp.to_dict(), indent=1))
    else:
        for d in comp.designs:  # names and files as printable text (no terminal controls)
            d.name, d.file = escape(d.name), escape(d.file)
        print(table(comp))
    return 0
