"""Command line tools (no Qt): ``summary``, ``export``, ``import``, ``features``, ``compare``,
``train``, ``data``, ``localise``.

Each command lives in its own module exposing ``add_arguments(parser)`` and
``run(args) -> int``; this module only dispatches.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings
from typing import TYPE_CHECKING

from cli.safety import EXIT_REFUSED, EXIT_UNREADABLE, GuardedStdout, escape
from engine.core.filesafety import FileWarning

if TYPE_CHECKING:
    from engine.core.graph import GraphModel

COMMANDS: dict[str, tuple[str, str]] = {
    "summary": ("cli.summary", "per-node table (shape, params, MACs, receptive field) and totals"),
    "export": ("cli.export", "write the graph as a runnable PyTorch file"),
    "import": (
        "cli.import_",
        "a PyTorch nn.Module, a timm model (timm:NAME) or an .onnx file as a design and weights",
    ),
    "features": ("cli.features", "run an image through the graph, save feature-map grids"),
    "compare": ("cli.compare", "totals of several designs side by side, with the change"),
    "train": ("cli.train", "train the design as a classifier on shapes or an image folder"),
    "data": ("cli.data", "write the built-in shapes data set as PNGs and labels.csv"),
    "localise": (
        "cli.localise",
        "measure where each localisation method points, on labelled images",
    ),
}


def _prog() -> str:
    """The program name usage lines show (``convcanvas`` or ``main.py``)."""
    from cli.launcher import program_name

    return program_name()


#: Ctrl-C (SIGINT), as a shell reports it.
EXIT_INTERRUPTED = 130


def _one_line_warning(command: str):
    """A ``warnings.showwarning`` that prints ``command: warning: message`` (escaped)."""

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        print(f"{command}: warning: {escape(message)}", file=sys.stderr)

    return show


def main(argv: list[str]) -> int:
    """Parse ``argv`` (without the program name) and run one command; return the exit status.

    Exit statuses (every command): 0 ok, 1 invalid or empty graph or refused work, 2
    unreadable input or bad usage (argparse's usage errors included). A reader that closes
    the pipe early (``| head -1``) ends the output quietly; a failed write to standard
    output (a full disk) is one line on stderr and status 2; running out of memory is one
    line and status 1; Ctrl-C is one line and status 130. Warnings (non-finite weights) are
    one ``COMMAND: warning: ...`` line each. No input ends in a traceback.
    """
    parser = argparse.ArgumentParser(prog=_prog(), description="ConvCanvas command line tools")
    sub = parser.add_subparsers(dest="command", required=True)
    modules = {}
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == argv[0] if argv else False:
            modules[name] = importlib.import_module(module)
            modules[name].add_arguments(p)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # usage error (2) or --help (0), already printed
        return exc.code if isinstance(exc.code, int) else EXIT_UNREADABLE
    command = args.command
    saved = sys.stdout
    guard = GuardedStdout(saved)
    sys.stdout = guard  # type: ignore[assignment]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always", FileWarning)  # always a line, never an error
            warnings.showwarning = _one_line_warning(command)
            status = int(modules[command].run(args) or 0)
        guard.flush()
    except MemoryError:
        guard.flush()
        print(f"{command}: out of memory; nothing more was written", file=sys.stderr)
        status = EXIT_REFUSED
    except KeyboardInterrupt:
        guard.flush()
        print(f"{command}: interrupted; nothing more was written", file=sys.stderr)
        status = EXIT_INTERRUPTED
    finally:
        sys.stdout = saved
    if guard.error is not None:
        err = guard.error
        print(
            f"{command}: cannot write to standard output: {escape(err.strerror or err)}",
            file=sys.stderr,
        )
        return EXIT_UNREADABLE
    return status


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
