"""The ``convcanvas`` program (and ``python main.py``): a command, ``--help``, ``--version``,
or the editor.

Nothing here imports Qt: ``--help``, ``--version`` and every command run without a display;
only the editor (no command, or a design FILE) loads PySide6.
"""

from __future__ import annotations

import sys
from pathlib import Path

from cli import COMMANDS

EXIT_USAGE = 2


def program_name() -> str:
    """``convcanvas`` for the console script, ``main.py`` for ``python main.py``."""
    name = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else ""
    return name if name in ("convcanvas", "main.py") else "convcanvas"


def version() -> str:
    """The installed package's version (``unknown`` when run from a source tree only)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("convcanvas")
    except PackageNotFoundError:
        return "unknown (not installed)"


def help_text(prog: str | None = None) -> str:
    """Usage, every command with one line, and where to read more."""
    prog = prog or program_name()
    width = max(len(name) for name in COMMANDS)
    lines = [
        f"usage: {prog} [FILE]            open the editor (on FILE, or on the Inception 3a template)",
        f"       {prog} COMMAND [ARGS…]   run a command without a window",
        f"       {prog} --help | --version",
        "",
        "ConvCanvas: design convolutional networks by hand and see what every block does.",
        "",
        "commands:",
    ]
    lines += [f"  {name:<{width}}  {text}" for name, (_module, text) in COMMANDS.items()]
    lines += [
        "",
        f"'{prog} COMMAND --help' describes a command's arguments.",
    ]
    return "\n".join(lines)


def _unknown_command(word: str) -> bool:
    """A first argument that is neither a command nor a file: most likely a mistyped command."""
    return not word.startswith("-") and Path(word).suffix == "" and not Path(word).exists()


def main(argv: list[str] | None = None) -> int:
    """Run a command, print help or the version, or start the editor; return the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    first = argv[0] if argv else None
    if first in ("-h", "--help", "help"):
        print(help_text())
        return 0
    if first in ("-V", "--version"):
        print(f"convcanvas {version()}")
        return 0
    if first in COMMANDS:
        from cli import main as cli_main

        return cli_main(argv)
    if first is not None and (first.startswith("-") or _unknown_command(first)):
        import difflib

        close = difflib.get_close_matches(first, list(COMMANDS), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        what = "option" if first.startswith("-") else "command or file"
        print(f"{program_name()}: unknown {what} '{first}'{hint}", file=sys.stderr)
        print(f"'{program_name()} --help' lists the commands.", file=sys.stderr)
        return EXIT_USAGE
    from widgets.app import run_app

    return run_app(argv)
