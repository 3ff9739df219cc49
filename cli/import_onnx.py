"""``python main.py import model.onnx [--input CxHxW] -o design.json [--weights w.safetensors]``.

Imports an ONNX file without torch (:mod:`engine.onnx`): a design file and its weights
keyed by the design's module targets, with ``imported from model.onnx`` in the weights
file's metadata. Exit status: 0 imported; 1 operations without a node type (one line per
distinct operation, at most 30 lines), open input sizes without ``--input``, or sizes
that do not fit (nothing is written); 2 the file cannot be read safely (not ONNX,
declared sizes over the limits, external data outside its folder) or the output cannot
be written.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

EXIT_UNREADABLE = 2


def _err(text: str) -> None:
    for line in str(text).splitlines() or [""]:
        print(line.encode("ascii", "backslashreplace").decode("ascii"), file=sys.stderr)


def save_arrays(state: dict, path: Path, metadata: dict) -> None:
    """Write numpy arrays as safetensors (or ``.pt`` through torch) atomically."""
    if path.suffix.lower() in (".pt", ".pth"):
        from engine.runtime.weights import save_state

        save_state(state, path, metadata)
        return
    import numpy as np
    from safetensors.numpy import save

    from engine.core.fileformat import write_atomic

    data = save({k: np.array(v, order="C", copy=True) for k, v in state.items()}, metadata)
    write_atomic(path, lambda fh: fh.write(data), binary=True)


def run_onnx(args: argparse.Namespace) -> int:
    """Import the ONNX file ``args.source``; return the exit status."""
    from engine.core.fileformat import save
    from engine.onnx.convert import import_onnx
    from engine.onnx.errors import OnnxImportError

    src = Path(args.source)
    out = Path(args.output)
    weights = Path(args.weights) if args.weights else None
    if weights is not None and weights.suffix.lower() not in (".safetensors", ".pt", ".pth"):
        _err(f"import: --weights must end in .safetensors or .pt, got '{weights.name}'")
        return EXIT_UNREADABLE
    t0 = time.perf_counter()
    try:
        imported = import_onnx(src, args.input)
    except OnnxImportError as exc:
        _err(f"import: {src.name}: {exc.message}")
        return exc.exit_code
    try:
        save(imported.model, out)
        if weights is not None:
            meta = {"source": f"imported from {src.name}", "onnx_opset": str(imported.opset)}
            save_arrays(imported.state, weights, meta)
    except (OSError, ValueError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        _err(f"import: cannot write: {why}")
        return EXIT_UNREADABLE
    params = sum(
        int(v.size)
        for k, v in imported.state.items()
        if not k.endswith(("running_mean", "running_var", "num_batches_tracked"))
    )
    for note in imported.notes:
        print(f"note: {note}")
    print(
        f"imported {src.name}: {len(imported.model)} nodes, {params:,} parameters, ONNX opset "
        f"{imported.opset} ({time.perf_counter() - t0:.2f} s) -> {out}"
        + (f", weights {weights}" if weights else "")
    )
    return 0
