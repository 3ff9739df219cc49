"""``python main.py export FILE -o OUT``: write a graph as a runnable PyTorch file.

Exit status: 0 written, 1 the graph has analysis errors (listed), 2 the graph file cannot
be read or the output cannot be written. No torch import (the code is plain text).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from .codegen import InvalidGraphError, export_code
from .errors import FormatError
from .fileformat import load


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``export`` command's arguments."""
    parser.add_argument("file", help="a .convcanvas graph file")
    parser.add_argument("-o", "--output", default="-",
                        help="the Python file to write (default: print to standard output)")


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


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
        _write_atomic(out, code)
    except OSError as exc:
        print(f"export: cannot write {out}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    print(f"wrote {out} ({code.count(chr(10))} lines)")
    return 0
