"""ConvCanvas: `python main.py` (or `convcanvas` once installed) opens the editor;
`python main.py COMMAND …` runs a command without a window; `--help` lists the commands.

python main.py                       the editor, on the Inception 3a template and sample image
python main.py FILE                  the editor on a graph file
python main.py --help                every command, one line each (no window, no Qt)
python main.py --version
python main.py summary FILE [--json] per-node table and totals
python main.py export FILE -o OUT    runnable PyTorch code
python main.py features FILE --image IMG --out DIR [--node ID]
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Dispatch to the command line tools or start the editor (see :mod:`cli.launcher`)."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        from cli.launcher import main as launch

        return launch(args)
    except KeyboardInterrupt:  # Ctrl-C while a command's modules are imported
        print(f"{args[0] if args else 'convcanvas'}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
