"""``python main.py import SOURCE [--input CxHxW] -o OUT.json [--weights OUT.safetensors|OUT.pt]``.

Traces a PyTorch model (``path/to/file.py:NAME`` or ``package.module:NAME``; ``NAME`` an
``nn.Module`` subclass or a function returning one, called with no arguments; or
``timm:NAME``, ``timm.create_model(NAME, pretrained=False)``) into a
design file, and its weights into a state dict whose keys are those of the design's
exported module. A ``.onnx`` file is imported without torch (:mod:`cli.import_onnx`). Exit status: 0 imported; 1 the model uses operations outside the node
types (each named with its module path and source line), cannot be traced, or does not
fit the input size (nothing is written); 2 the source cannot be found, imported or
called, does not give a module, is a pickled file, or the output cannot be written.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from cli.safety import EXIT_REFUSED, EXIT_UNREADABLE, escape


def _size(text: str) -> tuple[int, int, int]:
    parts = text.lower().replace("×", "x").split("x")
    try:
        c, h, w = (int(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"'{text}' is not an input size: give C x H x W, e.g. 3x224x224"
        ) from None
    if not (1 <= c <= 1 << 20 and 1 <= h <= 1 << 16 and 1 <= w <= 1 << 16):
        raise argparse.ArgumentTypeError(f"'{text}': every size must be at least 1")
    return c, h, w


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``import`` command's arguments."""
    parser.add_argument(
        "source",
        help="path/to/file.py:NAME, package.module:NAME, timm:NAME (timm's model NAME, "
        "pretrained=False) or path/to/model.onnx",
    )
    parser.add_argument(
        "--input",
        type=_size,
        default=None,
        metavar="CxHxW",
        help="the input size (default 3x224x224; for ONNX the file's own size)",
    )
    parser.add_argument("-o", "--output", required=True, help="the design file to write (.json)")
    parser.add_argument(
        "--weights", help="also write the weights (.safetensors, or .pt for torch.save)"
    )


def _err(text: str) -> None:
    # Text from the user's module: control characters escaped, one printable line each.
    for line in str(text).splitlines() or [""]:
        safe = escape(line).encode("ascii", "backslashreplace").decode("ascii")
        print(safe, file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    """Import ``args.source``; return the exit status."""
    if args.source.lower().endswith(".onnx"):
        from cli.import_onnx import run_onnx

        return run_onnx(args)
    if args.input is None:
        args.input = (3, 224, 224)
    from engine.core.fileformat import dumps, write_atomic_many
    from engine.interop.convert import import_module
    from engine.interop.errors import ImportFailed
    from engine.interop.source import load_source
    from engine.weights.files import check_design_path

    out = Path(args.output)
    weights = Path(args.weights) if args.weights else None
    if weights is not None and weights.suffix.lower() not in (".safetensors", ".pt", ".pth"):
        _err(f"import: --weights must end in .safetensors or .pt, got '{weights.name}'")
        return EXIT_UNREADABLE
    if weights is not None and os.path.realpath(weights) == os.path.realpath(out):
        _err(f"import: -o and --weights name the same file, '{out.name}'")
        return EXIT_UNREADABLE
    try:
        check_design_path(out)
    except ValueError as exc:
        _err(f"import: -o: {exc}")
        return EXIT_UNREADABLE
    t0 = time.perf_counter()
    try:
        model = load_source(args.source)
        imported = import_module(model, args.input)
    except ImportFailed as exc:
        _err(f"import: {exc.message}")
        return exc.exit_code
    except SystemExit as exc:  # the user's model called sys.exit() while it was traced
        _err(f"import: the model's code called sys.exit({exc.code!r}); nothing was written")
        return EXIT_REFUSED
    try:
        # The design and its weights as one unit: both temporary files, then the renames.
        items = (
            []
            if weights is None
            else [(weights, state_writer(imported.state, weights), True, None)]
        )
        text = dumps(imported.model)
        items.append((out, lambda fh: fh.write(text), False, None))
        write_atomic_many(items)
    except (OSError, ValueError, TypeError) as exc:  # safetensors: unsupported dtypes
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        _err(f"import: cannot write: {why}")
        return EXIT_UNREADABLE
    n = len(imported.model)
    params = sum(int(v.numel()) for k, v in imported.state.items() if _learnable(k))
    print(
        f"imported {args.source}: {n} nodes, {params:,} parameters "
        f"({time.perf_counter() - t0:.2f} s) -> {out}" + (f", weights {weights}" if weights else "")
    )
    return 0


def state_writer(state: dict, path: Path):
    """A writer of ``state`` for :func:`write_atomic_many`: ``torch.save`` for ``.pt`` /
    ``.pth``, safetensors otherwise (made now, so a dtype error comes before any write)."""
    import torch

    tensors = {k: v.detach().contiguous() for k, v in state.items()}
    if path.suffix.lower() in (".pt", ".pth"):
        return lambda fh: torch.save(tensors, fh)
    from safetensors.torch import save

    data = save({k: v.clone() for k, v in tensors.items()})  # no shared storage
    return lambda fh: fh.write(data)


def _learnable(key: str) -> bool:
    return not key.endswith(("running_mean", "running_var", "num_batches_tracked"))
