"""``python main.py export FILE -o OUT [--flat]``: write a graph as a runnable PyTorch file.

``--template NAME`` exports a built-in template instead of a file (as ``summary``,
``features``, ``train`` and ``localise`` take it).

``-o model.onnx`` (or ``--format onnx``) writes an ONNX file instead (:mod:`cli.export_onnx`:
torch.onnx on the built model with its weights; ``--opset``, ``--fold``, ``--seed``,
``--weights``).

By default the code follows the design's blocks (one class per block type,
:mod:`engine.codegen.emit_blocks`); ``--flat`` writes one line per node with ``del`` lines.

Exit status: 0 written, 1 the graph is empty or has analysis errors (listed), 2 the graph
file cannot be read or the output cannot be written. No torch import (the code is plain
text). Messages escape control characters (:mod:`cli.safety`); the code is ASCII-safe to
write even when ids hold lone surrogates (they only appear escaped, in comments).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cli import load_graph_arg
from cli.safety import EXIT_REFUSED, EXIT_UNREADABLE, escape, report
from engine.codegen.emit import export_code
from engine.codegen.emit_blocks import export_blocks
from engine.core.errors import EngineError, FormatError
from engine.core.fileformat import write_atomic


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``export`` command's arguments."""
    parser.add_argument("file", nargs="?", help="a .convcanvas graph file")
    parser.add_argument(
        "--template",
        metavar="NAME",
        help="export a built-in template instead of a file (e.g. resnet18)",
    )
    parser.add_argument(
        "-o",
        "--output",
        default="-",
        help="the Python file to write (default: print to standard output)",
    )
    parser.add_argument(
        "--flat",
        action="store_true",
        help="one line per node, each activation freed after its last use (del lines), "
        "instead of one class per block type",
    )
    from cli.export_onnx import add_onnx_arguments

    add_onnx_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Export ``args.file`` to ``args.output``; return the exit status."""
    from cli.export_onnx import run_onnx, wants_onnx

    if wants_onnx(args):
        return run_onnx(args)
    try:
        model, source = load_graph_arg(args)
    except FormatError as exc:
        report("export", exc)
        return EXIT_UNREADABLE
    name = escape(Path(source).name if args.template is None else source)
    try:
        code = export_code(model) if getattr(args, "flat", False) else export_blocks(model)
    except EngineError as exc:  # analysis errors; a block's parameters give a negative width
        report(f"export: {name}", exc)
        return EXIT_REFUSED
    except RecursionError:
        print(f"export: {name}: the design nests too deeply to export", file=sys.stderr)
        return EXIT_REFUSED
    if args.output == "-":
        sys.stdout.write(code)
        return 0
    out = Path(args.output)
    try:
        write_atomic(out, lambda fh: fh.write(code), mode=0o644)
    except (OSError, ValueError) as exc:  # ValueError: text the file's encoding cannot hold
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        print(f"export: cannot write {escape(out)}: {escape(why)}", file=sys.stderr)
        return EXIT_UNREADABLE
    print(f"wrote {escape(out)} ({code.count(chr(10))} lines)")
    return 0
