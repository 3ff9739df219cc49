"""Command line tools (no Qt): ``summary``, ``export``, ``features``.

Each command lives in its own module exposing ``add_arguments(parser)`` and
``run(args) -> int``; this module only dispatches.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.core.graph import GraphModel

COMMANDS: dict[str, tuple[str, str]] = {
    "summary": ("cli.summary", "per-node table (shape, params, MACs, receptive field) and totals"),
    "export": ("cli.export", "write the graph as a runnable PyTorch file"),
    "features": ("cli.features", "run an image through the graph, save feature-map grids"),
}


def main(argv: list[str]) -> int:
    """Parse ``argv`` (without the program name) and run one command; return the exit status."""
    parser = argparse.ArgumentParser(prog="main.py", description="ConvCanvas command line tools")
    sub = parser.add_subparsers(dest="command", required=True)
    modules = {}
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == argv[0] if argv else False:
            modules[name] = importlib.import_module(module)
            modules[name].add_arguments(p)
    args = parser.parse_args(argv)
    return int(modules[args.command].run(args) or 0)


def tolerant_stdout() -> None:
    """Let ``print`` write any node name: unencodable characters become escapes."""
    try:
        sys.stdout.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]
    except (AttributeError, ValueError):  # pragma: no cover - unusual streams
        pass


def load_graph_arg(args: argparse.Namespace) -> tuple[GraphModel, str]:
    """The graph a command names: ``args.file`` or ``args.template`` (exactly one).

    Parameters
    ----------
    args : argparse.Namespace
        With ``file`` and ``template`` (either may be ``None``).

    Returns
    -------
    model : GraphModel
    source : str
        The file name, or ``template NAME``.

    Raises
    ------
    FormatError
        If neither or both are given, the template is unknown or the file is unreadable.
    """
    from engine.core.errors import FormatError
    from engine.core.fileformat import load

    if args.template is not None:
        if args.file is not None:
            raise FormatError("give either a FILE or --template, not both")
        from engine.templates import TEMPLATES

        if args.template not in TEMPLATES:
            raise FormatError(f"unknown template {args.template!r} (known: {', '.join(TEMPLATES)})")
        return TEMPLATES[args.template].builder(), f"template {args.template}"
    if args.file is None:
        raise FormatError("give a graph FILE (or --template NAME)")
    return load(args.file), args.file
