"""ConvCanvas: `python main.py [FILE]` opens the editor; subcommands run without a window.

python main.py                       the editor, on the Inception 3a template and sample image
python main.py FILE                  the editor on a graph file
python main.py summary FILE [--json] per-node table and totals
python main.py export FILE -o OUT    runnable PyTorch code
python main.py features FILE --image IMG --out DIR [--node ID]
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Dispatch to the command line tools or start the editor."""
    argv = list(sys.argv[1:] if argv is None else argv)
    from cli import COMMANDS

    if argv and argv[0] in COMMANDS:
        from cli import main as cli_main

        return cli_main(argv)
    from widgets.app import run_app

    return run_app(argv)


if __name__ == "__main__":
    sys.exit(main())
