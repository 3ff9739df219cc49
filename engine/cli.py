"""Command line tools (no Qt): ``summary``, ``export``, ``features``.

Each command lives in its own module exposing ``add_arguments(parser)`` and
``run(args) -> int``; this module only dispatches.
"""
from __future__ import annotations

import argparse
import importlib

COMMANDS: dict[str, tuple[str, str]] = {
    "summary": ("engine.cli_summary", "per-node table (shape, params, MACs, receptive field) and totals"),
    "export": ("engine.cli_export", "write the graph as a runnable PyTorch file"),
    "features": ("engine.cli_features", "run an image through the graph, save feature-map grids"),
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
