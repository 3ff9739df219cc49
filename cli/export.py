"""``python main.py export FILE -o OUT``: write a graph as a runnable PyTorch file.

Exit status: 0 written, 1 the graph has analysis errors (listed), 2 the graph file cannot
be read or the output cannot be written. No torch import (the code is plain text).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from engine.codegen.emit import InvalidGraphError, export_code
from engine.core.errors import FormatError
from engine.core.fileformat import load, write_atomic


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``export`` command's arguments."""
    parser.add_argument("file", help="a .convcanvas graph file")
    parser.add_argument(
        "-o",
        "--output",
        default="-",
        help="the Python file to write (default: print to standard output)",
    )


def run(args: argparse.Namespace) -> int:
    """Export ``args.file`` to ``args.output``; return the exit status."""
    try:
        model = load(args.file)
    except FormatError as exc:
        print(f"export: {exc.message}", file=sys.stderr)
        return 2
    try:
        code = export_code(model)
    except InvalidGraphError as exc:
        print(f"export: {Path(args.file).name}: {exc.message}", file=sys.stderr)
        return 1
    if args.output == "-":
        sys.stdout.write(code)
        return 0
    out = Path(args.output)
    try:
        write_atomic(out, lambda fh: fh.write(code), mode=0o644)
    except OSError as exc:
        print(f"export: cannot write {out}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    print(f"wrote {out} ({code.count(chr(10))} lines)")
    return 0
